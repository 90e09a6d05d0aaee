"""Moved to :mod:`sgdsm_dask.training.checkpoint`; this shim serves the modules not yet updated.

Its users: reconstruct.py, reconstruction/, model/fill.py, tests/test_reconstruct.py, tests/test_bad_input.py.
"""

from ..training.checkpoint import SHIPPED, Checkpoint, load, save, shipped_path

__all__ = ["SHIPPED", "Checkpoint", "load", "save", "shipped_path"]
