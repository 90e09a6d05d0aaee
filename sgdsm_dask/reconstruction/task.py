"""One task of a reconstruction: a time chunk of a spatial block, keyed by :class:`ChunkKey`.

Space is independent, time is not: each block is a chain of these tasks,
one per time chunk, each taking the LSTM state the previous task returns
and handing its own on. Days that are not staged (missing in the archive,
skipped as bad input) are not fed to the model: the state goes from the
previous staged day to the next, as in the paper's record of 7115 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..flags import Flag, reconstructed
from ..io import zarr_store
from ..model.fill import PatchState
from ..staging.status import DayStatus
from .store import SIGMA_ATTR, model_group, read_prior, read_scale, read_state, write_chunk
from .worker import worker_filler

if TYPE_CHECKING:
    from .layout import Layout
    from .request import ReconstructRequest


@dataclass(frozen=True, order=True)
class ChunkKey:
    """Which task: time chunk ``chunk`` of spatial block ``(block_y, block_x)`` (indices, no data)."""

    chunk: int
    block_y: int
    block_x: int

    @property
    def block(self) -> tuple[int, int]:
        return self.block_y, self.block_x

    def previous(self) -> ChunkKey:
        """The task before this one in its block's chain."""
        return ChunkKey(self.chunk - 1, self.block_y, self.block_x)

    def task_name(self, run_id: str) -> str:
        """The Dask key of this task in the run ``run_id`` (the request's fingerprint)."""
        return f"reconstruct-{run_id}-{self.block_y}-{self.block_x}-{self.chunk}"


def fill_block(
    filler: Any,
    lay: Layout,
    key: ChunkKey,
    sm: np.ndarray,
    precip: np.ndarray,
    land: np.ndarray,
    staged: np.ndarray,
    prior: tuple[np.ndarray, np.ndarray] | None,
    state: PatchState | None,
) -> tuple[np.ndarray, np.ndarray, PatchState]:
    """Fill ``key``'s staged days over its own cells: ``(sm, flag, state)``, arrays in and out.

    ``sm``, ``precip`` and ``staged`` cover the chunk's days and, for the
    'anomaly' network, ``lay.context_days`` days of context each side (the
    days ``max(0, t0 - context) : min(days, t1 + context)``), over the
    block's window (:meth:`~.layout.Layout.window`); ``land`` is the
    window's, ``prior`` the window's prior and count of observations (the
    'anomaly' network only). Days not staged come out NaN, flag 2, the state
    passing over them; for the 'anomaly' network they enter the context as
    days with nothing observed, so a day's inputs depend on the calendar
    only, never on where a chunk ends. ``state`` is the previous chunk's
    (None: the start of the record). What both :func:`run_chunk` (stores)
    and :func:`~.graph.fill_task` (``sgdsm_dask.fill``) compute.
    """
    _, _, oy, ox = lay.window(*key.block)
    own = (slice(None), *lay.own(*key.block))
    t0, t1 = lay.chunk_days(key.chunk)
    c0 = max(0, t0 - lay.context_days)
    land = np.asarray(land).astype(bool)
    staged = np.asarray(staged, bool)
    shape = (t1 - t0, own[1].stop - own[1].start, own[2].stop - own[2].start)
    out_sm, out_flag = np.full(shape, np.nan, np.float32), np.full(shape, Flag.NOT_FILLED, np.int8)
    if lay.prior_sigma:  # the 'anomaly' network: the record's prior and the days around the chunk
        days = [int(d) for d in np.flatnonzero(staged) if t0 <= c0 + d < t1]
        context = np.where(staged[:, None, None], sm, np.nan).astype(np.float32)
        hc = None if state is None else (state.h, state.c)
        filled, flag, (h, c) = filler.run_window(context, precip, land, prior, days, hc, (oy, ox))
        idx = np.asarray(days, dtype=np.int64) + c0 - t0
        out_sm[idx], out_flag[idx] = filled[own], flag[own]
        late = lay.provisional(np.arange(t0, t1))[:, None, None] & (out_flag == Flag.FILLED)
        out_flag[late] = Flag.PROVISIONAL  # its days after are not in the record yet
        return out_sm, out_flag, PatchState(h, c)
    days = np.flatnonzero(staged)
    if days.size:
        filled, flag, state = filler.run(sm[days], precip[days], land, state, origins=(oy, ox))
        out_sm[days], out_flag[days] = filled[own], flag[own]
    elif state is None:
        state = PatchState.zeros(oy.size, ox.size, filler.hidden)
    return out_sm, out_flag, state


def _observed_around(
    src: Any, lay: Layout, key: ChunkKey, staged: np.ndarray, read: tuple[np.ndarray, slice, slice]
) -> tuple[np.ndarray, tuple]:
    """The observed mask of ``key``'s days over its cells and a margin of ``DISTANCE_CAP`` cells; own cells in it.

    ``read`` is the task's own read of the staged ``sm`` and its rows and
    columns: cut from it where it covers the margin, else read again.
    """
    from ..uncertainty import DISTANCE_CAP

    rows, cols = lay.cells(*key.block)
    t0, t1 = lay.chunk_days(key.chunk)
    r0, r1 = max(0, rows.start - DISTANCE_CAP), min(lay.rows, rows.stop + DISTANCE_CAP)
    c0, c1 = max(0, cols.start - DISTANCE_CAP), min(lay.cols, cols.stop + DISTANCE_CAP)
    sm, wr, wc = read
    if wr.start <= r0 and r1 <= wr.stop and wc.start <= c0 and c1 <= wc.stop:
        box = sm[:, r0 - wr.start : r1 - wr.start, c0 - wc.start : c1 - wc.start]
    else:
        box = np.asarray(src["sm"][t0:t1, r0:r1, c0:c1])
    obs = np.isfinite(box) & staged[:, None, None]
    return obs, (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))


def gap_values(
    src: Any,
    dst: Any,
    internals: Any,
    lay: Layout,
    key: ChunkKey,
    flag: np.ndarray,
    staged: np.ndarray,
    model: Any,
    read: tuple[np.ndarray, slice, slice],
    land: np.ndarray,
) -> dict[str, np.ndarray]:
    """``sm_uncertainty``, ``days_since_observed`` and ``distance_to_observed`` of ``key``'s own cells.

    ``dst`` is the result store's open root group, ``internals`` its
    ``model`` group (the pixel scale); ``read``: the task's staged ``sm``
    and its rows and columns; ``land``: the land of the task's own cells.

    Days since observed carry from the last day of the previous time chunk
    of the block, read back from the store (written before that chunk's
    ``done`` marker), so they do not depend on where chunks end.
    """
    from ..uncertainty import OBSERVED_SIGMA, days_since_observed, distance_to_observed

    rows, cols = lay.cells(*key.block)
    t0 = lay.chunk_days(key.chunk)[0]
    obs_m, own = _observed_around(src, lay, key, staged, read)
    obs = obs_m[(slice(None), *own)]
    before = np.maximum(np.asarray(dst["days_since_observed"][t0 - 1, rows, cols]), 0) if t0 else None
    days = days_since_observed(obs, before)
    dist = distance_to_observed(obs_m)[(slice(None), *own)]
    filled = reconstructed(flag)
    sigma = np.full(flag.shape, np.nan, np.float32)
    if filled.any():
        scale = np.broadcast_to(read_scale(internals, rows, cols), flag.shape)
        sigma[filled] = model.sigma(days[filled], dist[filled], scale[filled])
    sigma[flag == Flag.OBSERVED] = OBSERVED_SIGMA
    keep = land[None] | obs
    return {
        "sm_uncertainty": sigma,
        "days_since_observed": np.where(keep, days, -1).astype(np.int16),
        "distance_to_observed": np.where(flag != Flag.NOT_FILLED, dist, -1).astype(np.int8),
    }


def run_chunk(req: ReconstructRequest, lay: Layout, sha256: str, key: ChunkKey, state: PatchState | None) -> PatchState:
    """One task: fill ``key``'s days (:func:`fill_block`) and write them (:func:`~.store.write_chunk`); the state after.

    ``state`` is the previous task's (None: read it from the store).
    Everything else the task needs it reads from the stores, so Dask can
    run it again on another worker if the one that held its input died
    (data scattered to one worker would be lost with it).
    """
    src = zarr_store.open_group(req.staged, mode="r")  # each store opened once per task
    dst = zarr_store.open_group(req.out)
    internals = model_group(req.out, dst)
    if state is None and key.chunk > 0:
        state = read_state(internals, lay, key.previous())
    filler = worker_filler(req.checkpoint_path(), sha256, lay.overlap)
    wr, wc, _, _ = lay.window(*key.block)
    land = np.asarray(src["land"][wr, wc]).astype(bool)
    t0, t1 = lay.chunk_days(key.chunk)
    c0, c1 = max(0, t0 - lay.context_days), min(lay.days, t1 + lay.context_days)
    staged = np.asarray(src["day_status"][c0:c1]) == DayStatus.STAGED
    sm = np.asarray(src["sm"][c0:c1, wr, wc])
    precip = np.asarray(src["precip"][c0:c1, wr, wc])
    prior = None
    if lay.prior_sigma:  # the 'anomaly' network: the record's prior, as the store holds it
        prior = read_prior(internals, wr, wc)
    out_sm, out_flag, state = fill_block(filler, lay, key, sm, precip, land, staged, prior, state)
    gaps = None
    if req.uncertainty:  # not with --no-uncertainty: the store has no gap maps
        from ..uncertainty import SigmaModel

        model = SigmaModel.from_json(dst.attrs[SIGMA_ATTR]) if SIGMA_ATTR in dst.attrs else SigmaModel()
        read = (sm[t0 - c0 : t1 - c0], wr, wc)
        own_land = land[lay.own(*key.block)]
        gaps = gap_values(src, dst, internals, lay, key, out_flag, staged[t0 - c0 : t1 - c0], model, read, own_land)
    write_chunk(req.out, dst, internals, lay, key, out_sm, out_flag, state, gaps)
    return state
