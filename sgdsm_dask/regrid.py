"""Moved to :mod:`sgdsm_dask.readers.regrid`; this shim serves the modules not yet updated (synth/archive.py)."""

from .readers.regrid import ConservativeRegridder, regular_edges

__all__ = ["ConservativeRegridder", "regular_edges"]
