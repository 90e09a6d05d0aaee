"""sigma fitted on the staged cube itself before the chains run (:mod:`sgdsm_dask.uncertainty.calibration`).

One task, on a worker (the model is loaded there once, as for the chains):
it reads the calibration windows of the staged cube, hides and fills them,
and returns the fitted :class:`~sgdsm_dask.uncertainty.SigmaModel`, which
the client stores in the result store's attributes before the first chunk
runs. A resumed run or an append finds it there and keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import zarr_store
from ..staging.status import DayStatus
from ..uncertainty import SigmaModel, days_since_observed
from ..uncertainty.calibration import Window, WindowData, calibrate, window_fill
from .store import SIGMA_ATTR
from .worker import worker_filler

if TYPE_CHECKING:
    from .layout import Layout
    from .request import ReconstructRequest


def calibrate_store(req: ReconstructRequest, lay: Layout, sha256: str) -> SigmaModel:
    """Fit sigma on windows of ``req``'s staged cube hidden on purpose (the task; returns the model)."""
    src = zarr_store.open_group(req.staged, mode="r")
    dst = zarr_store.open_group(req.out, mode="r")
    land = np.asarray(src["land"][:]).astype(bool)
    staged = np.asarray(src["day_status"][:]) == DayStatus.STAGED
    filler = worker_filler(req.checkpoint_path(), sha256, lay.overlap)

    def cut(win: Window) -> WindowData:
        rows, cols = win.cells
        on = staged[win.t0 : win.t1, None, None]
        sm = np.where(on, np.asarray(src["sm"][win.t0 : win.t1, rows, cols]), np.nan).astype(np.float32)
        precip = np.asarray(src["precip"][win.t0 : win.t1, rows, cols])
        before = None
        if win.t0:
            seen = np.isfinite(np.asarray(src["sm"][: win.t0, rows, cols])) & staged[: win.t0, None, None]
            before = days_since_observed(seen)[-1]
        sums = None
        if lay.prior_sigma:  # the 'anomaly' network: the record's prior, as the chains give it
            n = np.asarray(dst["n_observed"][rows, cols]).astype(np.float64)
            sums = (np.nan_to_num(np.asarray(dst["sm_prior"][rows, cols], np.float64)) * n, n)
        return WindowData(sm, precip, land[rows, cols], before, np.asarray(dst["sm_std"][rows, cols]), sums)

    scale = np.asarray(dst["sm_std"][:])
    return calibrate(cut, scale, land, lay.days, window_fill(filler))


def ensure_sigma(req: ReconstructRequest, lay: Layout, sha256: str, client: Any, resources: Any) -> SigmaModel:
    """The store's fitted sigma: read back, or fitted now (on a worker when there is a cluster) and stored."""
    attrs = zarr_store.read_attrs(req.out)
    if SIGMA_ATTR in attrs:
        return SigmaModel.from_json(attrs[SIGMA_ATTR])
    if client is not None:
        model = client.submit(calibrate_store, req, lay, sha256, pure=False, resources=resources).result()
    else:
        model = calibrate_store(req, lay, sha256)
    zarr_store.update_attrs(req.out, {SIGMA_ATTR: model.to_json()})
    return model
