"""Reconstruction: the LSTM-CNN over a staged cube, as chains of Dask tasks along time, into a result store.

- :mod:`.request`: :class:`ReconstructRequest` and the checks of its staged cube;
- :mod:`.layout`: :class:`Layout`, the time chunks, spatial blocks and patches (indices only);
- :mod:`.provenance`: :class:`Provenance`, what a store comes from, its fingerprint and export identity;
- :mod:`.store`: :class:`ResultStore`, created, resumed or appended to; a chunk's state and ``done`` marker;
- :mod:`.task`: :func:`run_chunk`, one time chunk of one block, keyed by :class:`ChunkKey`;
- :mod:`.worker`: the model of a worker process, on its device;
- :mod:`.run`: :func:`reconstruct`, the chains planned and run, an export sink told of finished chunks.
"""

from .layout import Layout
from .provenance import Provenance
from .request import ReconstructRequest, check_staged, plan_layout
from .run import reconstruct
from .store import ResultStore
from .task import ChunkKey, run_chunk
from .worker import gpu_resources, worker_device, worker_filler

__all__ = [
    "ChunkKey",
    "Layout",
    "Provenance",
    "ReconstructRequest",
    "ResultStore",
    "check_staged",
    "gpu_resources",
    "plan_layout",
    "reconstruct",
    "run_chunk",
    "worker_device",
    "worker_filler",
]
