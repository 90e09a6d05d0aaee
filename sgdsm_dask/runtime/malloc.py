"""The C allocator's thresholds, set for a process that runs the model.

A Dask nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), so that freed memory goes back
to the system soon. Setting that threshold also turns off glibc's dynamic
mmap threshold, which leaves every allocation above 128 KiB to its own
``mmap``. The model allocates tensors of megabytes many times a day (a
batch of 256 patches of 16 maps of 40 x 40 is 26 MB), so each of them was
then a fresh mapping whose pages the kernel faults in and zeroes, and the
worker unmaps it again when it is freed: the same patches ran about 1.7
times slower in a worker than in a plain process (docs/performance.md).

:func:`tune` keeps allocations up to :data:`MMAP_THRESHOLD` in the heap,
where freed blocks are used again, and returns free memory at the top of
the heap to the system only above :data:`TRIM_THRESHOLD`. Memory a worker
holds stays bounded (the long and the short runs of
``benchmarks/reconstruct_bench.py`` compare it). It applies to every thread
of the process from the next allocation on; on a C library other than
glibc it does nothing, and ``SGDSM_MALLOC_TUNE=0`` in the environment turns
it off (``benchmarks/malloc_bench.py`` measures the difference).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 128 * 1024 * 1024

_applied: bool | None = None


def tune() -> bool:
    """Set the thresholds in this process (once); True where they are in effect."""
    global _applied
    if _applied is None:
        _applied = (
            os.environ.get("SGDSM_MALLOC_TUNE", "1") != "0"
            and _mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            and _mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        )
    return _applied


def _mallopt(param: int, value: int) -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)))
    except (OSError, AttributeError):
        return False
