"""sigma fitted on the staged cube itself before the chains run (:mod:`sgdsm_dask.uncertainty.calibration`).

A task per calibration window, on the workers (the model is loaded there
once, as for the chains): it reads its window of the staged cube, hides
and fills it, and returns the hidden pixels' errors and features; the
client fits the :class:`~sgdsm_dask.uncertainty.SigmaModel` on them all
and stores it in the result store's attributes before the first chunk
runs. A resumed run or an append finds it there and keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import zarr_store
from ..staging.status import DayStatus
from ..uncertainty import SigmaModel
from ..uncertainty.calibration import (
    Window,
    WindowData,
    fit_windows,
    scale_fallback,
    window_errors,
    window_fill,
    windows,
)
from ..uncertainty.gaps import DAYS_CAP
from .store import SIGMA_ATTR, open_model, read_prior, read_scale
from .worker import worker_filler

if TYPE_CHECKING:
    from .layout import Layout
    from .request import ReconstructRequest


def _cutter(req: ReconstructRequest, lay: Layout) -> Any:
    """``cut(window)`` of ``req``'s staged cube (:class:`WindowData`), reading only the window (and its past mask)."""
    src = zarr_store.open_group(req.staged, mode="r")
    internals = open_model(req.out)
    staged = np.asarray(src["day_status"][:]) == DayStatus.STAGED

    def cut(win: Window) -> WindowData:
        rows, cols = win.cells
        on = staged[win.t0 : win.t1, None, None]
        sm = np.where(on, np.asarray(src["sm"][win.t0 : win.t1, rows, cols]), np.nan).astype(np.float32)
        precip = np.asarray(src["precip"][win.t0 : win.t1, rows, cols])
        land = np.asarray(src["land"][rows, cols]).astype(bool)
        before = None
        if win.t0:  # only the pixels the window observes are hidden: only their count matters
            before = days_before(src["sm"], staged, win.t0, rows, cols, land & np.isfinite(sm).any(axis=0))
        sums, in_prior = None, None
        if lay.prior_sigma:  # the 'anomaly' network: the record's prior, as the chains give it
            prior, n = read_prior(internals, rows, cols)
            sums = (prior.astype(np.float64) * n, n.astype(np.float64))
            in_prior = np.arange(win.t0, win.t1) < lay.prior_days  # the days its sums count
        return WindowData(sm, precip, land, before, read_scale(internals, rows, cols), sums, in_prior=in_prior)

    return cut


def days_before(sm: Any, staged: np.ndarray, t0: int, rows: slice, cols: slice, need: np.ndarray) -> np.ndarray:
    """``days_since_observed`` of day ``t0 - 1`` over ``rows``, ``cols`` of the staged ``sm``: exact where ``need``.

    Read back from ``t0`` a time chunk at a time, only until every pixel of
    ``need`` was last observed (or the record starts), not the whole past;
    a pixel outside ``need`` not observed by then gets a lower bound.
    """
    step = max(1, int(sm.chunks[0]))
    out = np.zeros(need.shape, np.int16)
    left = np.ones(need.shape, bool)  # pixels whose last observation before t0 is not found yet
    stop = t0
    while stop > 0 and (left & need).any() and t0 - stop < DAYS_CAP:
        start = (stop - 1) // step * step
        seen = np.isfinite(np.asarray(sm[start:stop, rows, cols])) & staged[start:stop, None, None]
        last = stop - 1 - np.argmax(seen[::-1], axis=0)  # the last day observed in the block, where any
        now = left & seen.any(axis=0)
        out[now] = np.minimum(t0 - 1 - last[now], DAYS_CAP)
        left &= ~now
        stop = start
    # not observed since day `stop`: exact from the record's start (as days_since_observed counts), else a bound
    out[left] = min(t0 - stop, DAYS_CAP)
    return out


def window_task(req: ReconstructRequest, lay: Layout, sha256: str, win: Window, fallback: float) -> tuple:
    """One task: the hidden pixels' errors and features of one calibration window (on a worker's model)."""
    filler = worker_filler(req.checkpoint_path(), sha256, lay.overlap)
    shape = (lay.days, lay.rows, lay.cols)
    return window_errors(_cutter(req, lay)(win), win, shape, fallback, window_fill(filler))


def ensure_sigma(req: ReconstructRequest, lay: Layout, sha256: str, client: Any, resources: Any) -> SigmaModel:
    """The store's fitted sigma: read back, or fitted now (a task per window on a cluster) and stored."""
    attrs = zarr_store.read_attrs(req.out)
    if SIGMA_ATTR in attrs:
        return SigmaModel.from_json(attrs[SIGMA_ATTR])
    land = zarr_store.read_array(req.staged, "land").astype(bool)
    scale = read_scale(open_model(req.out))
    fallback = scale_fallback(scale, land)
    wins = windows(land & np.isfinite(scale), lay.days)
    if client is not None:
        futures = [
            client.submit(window_task, req, lay, sha256, w, fallback, pure=False, resources=resources) for w in wins
        ]
        found = client.gather(futures)
    else:
        found = [window_task(req, lay, sha256, w, fallback) for w in wins]
    model = fit_windows(found, fallback)
    zarr_store.update_attrs(req.out, {SIGMA_ATTR: model.to_json()})
    return model
