"""Scripts copied into containers and run there by a bare ``python3``: ``probe.py`` and ``bench.py``.

They are standalone on purpose. They must stay stdlib-only at top level (``bench.py`` alone may import
NumPy, since it only ever runs as a child of ``probe.py``), must run on Python 3.7+, and must never import
the ``npmatrix`` package: inside a container there is nothing but the two files in ``/npmatrix/``.
"""
