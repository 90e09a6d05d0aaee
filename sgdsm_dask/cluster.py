"""Moved to :mod:`sgdsm_dask.runtime`; this shim serves the modules not yet updated (tests/reconstruction/test_reconstruct.py)."""

from .runtime import connect

__all__ = ["connect"]
