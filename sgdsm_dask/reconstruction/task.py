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

from ..flags import Flag
from ..io import zarr_store
from ..model.fill import PatchState
from ..staging.status import DayStatus
from .store import read_state, write_chunk
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


def _run_with_context(
    src: Any, dst: Any, lay: Layout, filler: Any, key: ChunkKey, state: PatchState | None, window: tuple, land: Any
) -> tuple[PatchState, np.ndarray, np.ndarray]:
    """Fill ``key``'s staged days with ``lay.context_days`` days of context each side; (state, filled, flags) of them.

    Days not staged enter the context as days with nothing observed, so a
    day's inputs depend on the calendar only, never on where a chunk ends.
    """
    wr, wc, oy, ox = window
    t0, t1 = lay.chunk_days(key.chunk)
    c0, c1 = max(0, t0 - lay.context_days), min(lay.days, t1 + lay.context_days)
    staged = np.asarray(src["day_status"][c0:c1]) == DayStatus.STAGED
    sm = np.where(staged[:, None, None], np.asarray(src["sm"][c0:c1, wr, wc]), np.nan).astype(np.float32)
    precip = np.asarray(src["precip"][c0:c1, wr, wc])
    prior = np.nan_to_num(np.asarray(dst["sm_prior"][wr, wc])), np.asarray(dst["n_observed"][wr, wc])
    days = [int(d) for d in np.flatnonzero(staged) if t0 <= c0 + d < t1]
    hc = None if state is None else (state.h, state.c)
    filled, flag, (h, c) = filler.run_window(sm, precip, land, prior, days, hc, (oy, ox))
    return PatchState(h, c), filled, flag


def run_chunk(req: ReconstructRequest, lay: Layout, sha256: str, key: ChunkKey, state: PatchState | None) -> PatchState:
    """One task: fill ``key``'s days and write them (:func:`~.store.write_chunk`); returns the state after them.

    ``state`` is the previous task's (None: read it from the store).
    Everything else the task needs it reads from the stores, so Dask can
    run it again on another worker if the one that held its input died
    (data scattered to one worker would be lost with it).
    """
    src = zarr_store.open_group(req.staged, mode="r")  # each store opened once per task
    dst = zarr_store.open_group(req.out)
    if state is None and key.chunk > 0:
        state = read_state(dst, lay, key.previous())
    filler = worker_filler(req.checkpoint_path(), sha256, lay.overlap)
    rows, cols = lay.cells(*key.block)
    wr, wc, oy, ox = lay.window(*key.block)
    land = np.asarray(src["land"][wr, wc]).astype(bool)
    t0, t1 = lay.chunk_days(key.chunk)
    status = np.asarray(src["day_status"][t0:t1])
    sm = np.asarray(src["sm"][t0:t1, wr, wc])
    precip = np.asarray(src["precip"][t0:t1, wr, wc])
    own = (
        slice(None),
        slice(rows.start - wr.start, rows.stop - wr.start),
        slice(cols.start - wc.start, cols.stop - wc.start),
    )
    out_sm = np.full(sm[own].shape, np.nan, np.float32)
    out_flag = np.full(sm[own].shape, Flag.NOT_FILLED, np.int8)
    days = np.flatnonzero(status == DayStatus.STAGED)
    if lay.prior_sigma:  # the 'anomaly' network: the record's prior and the days around the chunk
        state, filled, flag = _run_with_context(src, dst, lay, filler, key, state, (wr, wc, oy, ox), land)
        out_sm[days], out_flag[days] = filled[own], flag[own]
    elif days.size:
        filled, flag, state = filler.run(sm[days], precip[days], land, state, origins=(oy, ox))
        out_sm[days], out_flag[days] = filled[own], flag[own]
    elif state is None:
        state = PatchState.zeros(oy.size, ox.size, filler.hidden)
    write_chunk(req.out, dst, lay, key, out_sm, out_flag, state)
    return state
