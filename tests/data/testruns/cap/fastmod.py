import os
import signal


def kernel():
    # Stands in for a compiled kernel that uses an instruction the CPU lacks: the process gets SIGILL.
    os.kill(os.getpid(), signal.SIGILL)
