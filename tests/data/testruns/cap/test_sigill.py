import fastmod


def test_kernel():
    fastmod.kernel()
