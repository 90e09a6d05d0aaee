"""Moved to :mod:`sgdsm_dask.runtime.malloc`; this shim serves the modules not yet updated (model/fill.py)."""

from .runtime.malloc import MMAP_THRESHOLD, TRIM_THRESHOLD, tune

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune"]
