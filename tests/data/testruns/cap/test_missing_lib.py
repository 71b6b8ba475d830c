import ctypes


def test_loads_gfortran():
    ctypes.CDLL("libgfortran.so.5")
