"""Moved to :mod:`sgdsm_dask.training.checkpoint`; this shim serves the modules not yet updated.

Its user: tests/test_bad_input.py (``from sgdsm_dask.training import checkpoint`` instead).
"""

from ..training.checkpoint import SHIPPED, Checkpoint, load, save, shipped_path

__all__ = ["SHIPPED", "Checkpoint", "load", "save", "shipped_path"]
