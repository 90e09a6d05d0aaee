"""Shim: the reconstruction moved to :mod:`sgdsm_dask.reconstruction` (kept until its importers move).

``Layout`` and ``_layout`` here give the old field names (``nt``, ``ny``,
``nx``, ``tc``, ``sc``, ``days(k)``) over :class:`sgdsm_dask.reconstruction.Layout`.
"""

from __future__ import annotations

from typing import Any

from .reconstruction import Layout as _NewLayout
from .reconstruction import ReconstructRequest, check_staged, gpu_resources, reconstruct, worker_device, worker_filler
from .reconstruction.request import plan_layout

__all__ = [
    "Layout",
    "ReconstructRequest",
    "check_staged",
    "gpu_resources",
    "reconstruct",
    "worker_device",
    "worker_filler",
]


class Layout:
    """The old names of a layout, for code not moved yet: use :class:`sgdsm_dask.reconstruction.Layout`."""

    def __init__(self, layout: _NewLayout) -> None:
        self.layout = layout

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layout, name)

    nt = property(lambda self: self.layout.days)
    ny = property(lambda self: self.layout.rows)
    nx = property(lambda self: self.layout.cols)
    tc = property(lambda self: self.layout.time_chunk)
    sc = property(lambda self: self.layout.space_chunk)

    def days(self, k: int) -> tuple[int, int]:
        return self.layout.chunk_days(k)


def _layout(req: ReconstructRequest, hidden: int, memory: bool) -> Layout:
    """The old name of :func:`sgdsm_dask.reconstruction.plan_layout` (benchmarks/reconstruct_bench.py)."""
    return Layout(plan_layout(req, hidden, memory))
