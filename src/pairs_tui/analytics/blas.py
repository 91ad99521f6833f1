"""Pin the BLAS behind numpy to one thread, after import.

A lag search runs dozens of tall-and-thin least squares; on a small box, OpenBLAS threads on
them cost more than they give (about 40% slower with 2 threads here) and take the core the feed
and the screen need. ``OPENBLAS_NUM_THREADS=1`` only works if set before numpy is first imported,
which a library cannot promise, so this asks the loaded library directly: through threadpoolctl
when it is installed, else through OpenBLAS's own ``*_set_num_threads`` found in the libraries
mapped into this process (the wheels' bundled ``scipy_openblas``). OpenBLAS keeps one thread count
per process, so the limit holds for every thread.
"""

from __future__ import annotations

import ctypes
import os
import sys

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GETTERS = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)


def _openblas_libraries() -> list[ctypes.CDLL]:
    """OpenBLAS libraries already mapped into this process (Linux; elsewhere none)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    libraries = []
    for path in sorted(paths):
        if os.path.isfile(path):
            try:
                # Already loaded: dlopen hands back the same library, it loads nothing new.
                libraries.append(ctypes.CDLL(path))
            except OSError:
                continue
    return libraries


def blas_threads() -> list[int]:
    """Thread counts of the OpenBLAS libraries loaded in this process (empty if none found)."""
    counts = []
    for library in _openblas_libraries():
        for name in _GETTERS:
            getter = getattr(library, name, None)
            if getter is not None:
                getter.restype = ctypes.c_int
                counts.append(int(getter()))
                break
    return counts


def pin_blas_to_one_thread() -> str:
    """Limit the loaded BLAS libraries to one thread for the rest of the process.

    Returns:
        How it was done: ``"threadpoolctl"``, ``"openblas"`` or ``"unavailable"``.
    """
    import numpy  # noqa: F401  (load numpy's BLAS first, so there is something to pin)

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=1, user_api="blas")
        return "threadpoolctl"
    done = False
    for library in _openblas_libraries():
        for name in _SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter(1)
                done = True
                break
    return "openblas" if done else "unavailable"
