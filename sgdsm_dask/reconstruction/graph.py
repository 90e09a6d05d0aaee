"""The chains of a reconstruction as one Dask graph over a cube in memory or on Dask: what ``sgdsm_dask.fill`` runs.

The same tasks as ``sgdsm reconstruct`` (:mod:`.run`), without the stores:
each spatial block of the :class:`~.layout.Layout` is a chain of
:func:`fill_task` calls along time, each taking the LSTM state the previous
one returns (a Dask ``Delayed``, so it stays on the worker) and handing its
own on; each computes what :func:`~.task.run_chunk` computes from the same
inputs, with the model of its process (:func:`~.worker.worker_filler`).
The ``anomaly`` network's prior over the whole record is one reduction the
tasks depend on, as the result store's ``sm_prior`` is. The filled days
come back as Dask arrays assembled from the tasks' blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, SgdsmError
from ..model.anomaly import AnomalyConfig
from .layout import Layout, checked_layout
from .task import ChunkKey, fill_block
from .worker import worker_filler

if TYPE_CHECKING:
    import dask.array as da

    from ..training.checkpoint import Checkpoint


def layout_for(ck: Checkpoint, shape: tuple[int, int, int], time_chunk: int, space_chunk: int, overlap: int) -> Layout:
    """The layout of a (days, rows, cols) cube for ``ck``'s model; one line for a cube or chunks it cannot take."""

    def refuse(what: str, fact: str) -> Exception:
        if what == "cube":
            return SgdsmError(
                f"fill: the cube is {fact}: fill a region at least that large around your area "
                "and cut the result afterwards"
            )
        return ConfigError(f"fill: {what} {fact}")

    cfg = ck.config
    extra = {"context_days": cfg.window, "prior_sigma": cfg.prior_sigma} if isinstance(cfg, AnomalyConfig) else {}
    memory = bool(getattr(cfg, "memory_map", False))
    return checked_layout(shape, time_chunk, space_chunk, cfg.hidden, memory, overlap, refuse, **extra)


def _window_of(prior: tuple[np.ndarray, np.ndarray], rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    return prior[0][rows, cols], prior[1][rows, cols]


def fill_task(
    path: str,
    sha256: str,
    lay: Layout,
    key: Any,
    sm: np.ndarray,
    precip: np.ndarray,
    land: np.ndarray,
    staged: np.ndarray,
    prior: tuple[np.ndarray, np.ndarray] | None,
    state: Any,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """One task of :func:`fill_arrays`: :func:`~.task.fill_block` on the model of this process.

    ``sm``, ``precip`` and ``staged`` hold the chunk's days (with the
    ``anomaly`` network's days of context each side) over the block's window.
    """
    return fill_block(worker_filler(path, sha256, lay.overlap), lay, key, sm, precip, land, staged, prior, state)


def fill_arrays(
    path: str,
    sha256: str,
    lay: Layout,
    sm: da.Array,
    precip: da.Array,
    land: np.ndarray,
    staged: np.ndarray,
) -> tuple[da.Array, da.Array]:
    """Lazy ``(filled, flag)`` (time, lat, lon) of the cube ``sm`` (Dask, float32) with ``precip`` (NaN: unavailable).

    ``land`` is the cube's (lat, lon) mask, ``staged`` which days are fed to
    the model (the others come out NaN, flag 2, the state passing over
    them); ``path`` and ``sha256`` name the checkpoint the tasks load.
    """
    import dask
    import dask.array as da

    from ..model.anomaly import prior_from_sums

    prior = None
    if lay.prior_sigma:  # each pixel's mean over the whole record, as the result store's sm_prior
        n, total = da.isfinite(sm).sum(axis=0), da.nan_to_num(sm).sum(axis=0, dtype=np.float64)
        prior = dask.delayed(prior_from_sums)(total, n, land, lay.prior_sigma)
    task = dask.delayed(fill_task, nout=3, pure=True)
    layout = dask.delayed(lay, pure=True)  # one key each, not a copy in every task of a long record
    nby, nbx = lay.n_blocks
    out_sm: list[list[list[Any]]] = [[[None] * nbx for _ in range(nby)] for _ in range(lay.n_chunks)]
    out_flag: list[list[list[Any]]] = [[[None] * nbx for _ in range(nby)] for _ in range(lay.n_chunks)]
    for bi, bj in lay.blocks:
        rs, cs = lay.cells(bi, bj)
        wr, wc, _, _ = lay.window(bi, bj)
        window_prior = None if prior is None else dask.delayed(_window_of, pure=True)(prior, wr, wc)
        window_land = dask.delayed(land[wr, wc], pure=True)
        state = None
        for k in range(lay.n_chunks):
            t0, t1 = lay.chunk_days(k)
            c0, c1 = max(0, t0 - lay.context_days), min(lay.days, t1 + lay.context_days)
            f, g, state = task(
                path,
                sha256,
                layout,
                ChunkKey(k, bi, bj),
                sm[c0:c1, wr, wc],
                precip[c0:c1, wr, wc],
                window_land,
                staged[c0:c1],
                window_prior,
                state,
            )
            shape = (t1 - t0, rs.stop - rs.start, cs.stop - cs.start)
            out_sm[k][bi][bj] = da.from_delayed(f, shape, np.float32)
            out_flag[k][bi][bj] = da.from_delayed(g, shape, np.int8)
    return da.block(out_sm), da.block(out_flag)
