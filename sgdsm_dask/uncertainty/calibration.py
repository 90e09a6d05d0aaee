"""Calibrate :class:`~.sigma.SigmaModel` on a cube: hide observed pixels in a few windows, fill them, fit.

A real cube's error level differs from a synthetic one's, and between
regions, by a factor of two and more (docs/validation.md), so sigma is not
a table shipped once: every reconstruction fits it on its own cube.
Windows of 104 x 104 cells (3 x 3 patches) and 12 days are cut out of the
cube where it observes land (:func:`windows`); their observed pixels are
hidden with the gaps of other days of the window (as ``sgdsm evaluate``
hides them, with :data:`CALIBRATION_SEED`, so never the pixels ``sgdsm
evaluate`` scores with its seed, nor those it tunes the baselines on); the
model fills each window (the 'anomaly' network with the record's prior,
less the hidden pixels), and the errors of the hidden pixels fit sigma,
leaving out a window's outer :data:`MARGIN` cells and :data:`SPIN_UP` days
at each end, which lack what the whole cube gives (neighbours, the state
of the days before, the days after), except where the window ends where
the cube does. About 4 % of the cube's land cell-days, at least
:data:`MIN_WINDOWS` windows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .gaps import days_since_observed, distance_to_observed
from .sigma import SigmaModel, fit_sigma

#: Seed of the calibration's hiding: ``sgdsm evaluate`` scores with ``--seed`` (0) and tunes with ``--seed + 1``.
CALIBRATION_SEED = 7919
WINDOW_CELLS = 104  # 3 x 3 patches of 40 at the default overlap of 8
MARGIN = 16  # cells at a window's edge filled but not fitted on (they lack the neighbours the whole cube gives)
WINDOW_DAYS = 12  # 6 days fitted on between 3 days of spin-up and 3 of look-ahead at each end
FRACTION = 0.04
MIN_WINDOWS = 12
MAX_WINDOWS = 64
SPIN_UP = 3  # days at each end of a window filled but not fitted on: the state starts at zero, the days after end


@dataclass(frozen=True)
class Window:
    """Days ``[t0, t1)`` and cells ``[r0, r1) x [c0, c1)`` of a cube."""

    t0: int
    t1: int
    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def cells(self) -> tuple[slice, slice]:
        return slice(self.r0, self.r1), slice(self.c0, self.c1)

    def inner(self, shape: tuple[int, int, int], margin: int, spin_up: int) -> tuple[slice, slice, slice]:
        """The window's days and cells fitted on, in its own indices.

        ``spin_up`` days in from each end and ``margin`` cells in from each
        side, except where the window ends where the cube (``shape``) does:
        there the model lacks what it lacks in the cube too.
        """
        (t, h, w), out = shape, []
        for a0, a1, n, m in (
            (self.t0, self.t1, t, spin_up),
            (self.r0, self.r1, h, margin),
            (self.c0, self.c1, w, margin),
        ):
            lo = m if a0 > 0 else 0
            hi = (a1 - a0) - (m if a1 < n else 0)
            out.append(slice(lo, max(lo + 1, hi)))
        return out[0], out[1], out[2]


def windows(land: np.ndarray, days: int, seed: int = CALIBRATION_SEED) -> list[Window]:
    """The calibration windows of a cube of ``days`` days: seeded, where ``land`` (H, W) is true.

    ``land`` is the land the cube observes (land pixels with observations).

    Depends on the cube's shape and land only, so every time chunk size
    and worker count calibrates on the same windows.
    """
    h, w = land.shape
    wh, ww, wd = min(h, WINDOW_CELLS), min(w, WINDOW_CELLS), min(days, WINDOW_DAYS)
    n_land = int(land.sum())
    if not n_land or not days:
        return []
    inner = max(1, wh - 2 * MARGIN) * max(1, ww - 2 * MARGIN) * max(1, wd - 2 * SPIN_UP)
    k = int(np.clip(np.ceil(FRACTION * n_land * days / inner), MIN_WINDOWS, MAX_WINDOWS))
    step = 8
    rows = np.unique(np.r_[np.arange(0, h - wh + 1, step), h - wh])
    cols = np.unique(np.r_[np.arange(0, w - ww + 1, step), w - ww])
    cum = np.pad(land.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    frac = np.array([[cum[r + wh, c + ww] - cum[r, c + ww] - cum[r + wh, c] + cum[r, c] for c in cols] for r in rows])
    frac = frac / (wh * ww)
    cand = np.argwhere(frac >= min(0.25, frac.max()))
    rng = np.random.default_rng(seed)
    weight = frac[cand[:, 0], cand[:, 1]]
    # a cube with fewer places than windows takes places again, at other days
    pick = rng.choice(len(cand), size=k, replace=len(cand) < k, p=weight / weight.sum())
    starts = rng.integers(0, days - wd + 1, size=pick.size)
    return [
        Window(int(t), int(t) + wd, int(rows[i]), int(rows[i]) + wh, int(cols[j]), int(cols[j]) + ww)
        for (i, j), t in zip(cand[pick], starts, strict=True)
    ]


@dataclass
class WindowData:
    """What the model and sigma see of a window.

    ``sm`` (T, h, w; NaN gaps), ``precip`` or None, ``land``; ``before``: days
    since observed on the day before the window (None at the record's
    start); ``scale``: each pixel's standard deviation of its observations
    over the record; ``sums``: each pixel's sum and count of observations
    over the record (the 'anomaly' network's prior; the pixels the
    calibration hides are taken out of them before the fill); ``in_prior``:
    which days of the window those sums count (None: all of them; a prior
    over the first days of the record leaves the later ones out).
    """

    sm: np.ndarray
    precip: np.ndarray | None
    land: np.ndarray
    before: np.ndarray | None
    scale: np.ndarray
    sums: tuple[np.ndarray, np.ndarray] | None = None
    inner: tuple[slice, slice, slice] = (slice(None), slice(None), slice(None))  # the days and cells fitted on
    in_prior: np.ndarray | None = None


def hidden_errors(
    data: WindowData, fill: Callable[..., np.ndarray], seed: int = CALIBRATION_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(error, days since observed, distance, scale) of the pixels of a window hidden with ``seed`` and filled.

    ``fill(sm, precip, land, sums)`` fills the window; ``sums`` are the
    record's sums less the hidden pixels (None where the data has none).
    A ``fill`` with the attribute ``causal`` true (each day's fill depends
    on that day and the days before only: the LSTM-CNN, :func:`window_fill`)
    is given the days up to the last one fitted on, not the look-ahead days
    after it: the same errors for less work.
    """
    from ..validation.simulated import hide

    sm, land = data.sm, data.land.astype(bool)
    if sm.shape[0] < 2:
        return (np.zeros(0),) * 4  # type: ignore[return-value]
    sm_in, hidden = hide(sm, land, seed)
    sums = None
    if data.sums is not None:  # the record's prior, without the pixels hidden now (on the days it counts)
        counted = hidden if data.in_prior is None else hidden & data.in_prior[:, None, None]
        gone = np.where(counted, sm, 0.0).astype(np.float64)
        sums = (data.sums[0] - gone.sum(axis=0), data.sums[1] - counted.sum(axis=0))
    # a fill that runs forward in time leaves the days before the last one fitted on as they are without the
    # days after it (the look-ahead days of a window, only ever filled for a fill that sees both ways)
    n = data.inner[0].stop if getattr(fill, "causal", False) else None
    sm, sm_in, hidden = sm[:n], sm_in[:n], hidden[:n]
    filled = fill(sm_in, None if data.precip is None else data.precip[:n], land, sums)
    obs = np.isfinite(sm_in)
    days = days_since_observed(obs, data.before)
    dist = distance_to_observed(obs)
    edge = np.ones(sm.shape, bool)
    edge[data.inner] = False
    hidden[edge] = False
    scale = np.broadcast_to(data.scale, sm.shape)
    return (filled - sm)[hidden], days[hidden], dist[hidden], scale[hidden]


def scale_fallback(scale: np.ndarray, land: np.ndarray) -> float:
    """The pixel scale of pixels without one: the median over the land that has one (0.05 without any)."""
    seen = land & np.isfinite(scale)
    return float(np.median(scale[seen])) if seen.any() else 0.05


def window_errors(
    data: WindowData,
    win: Window,
    shape: tuple[int, int, int],
    fallback: float,
    fill: Callable[..., np.ndarray],
    seed: int = CALIBRATION_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hidden_errors` of window ``win`` of a cube of ``shape`` (days, rows, columns), its edges left out."""
    data.scale = np.where(np.isfinite(data.scale), data.scale, fallback)
    data.inner = win.inner(shape, MARGIN, SPIN_UP)
    return hidden_errors(data, fill, seed)


def fit_windows(found: list[tuple], fallback: float, seed: int = CALIBRATION_SEED) -> SigmaModel:
    """Fit sigma on the :func:`window_errors` of every window."""
    parts = [np.concatenate([f[i] for f in found]) if found else np.zeros(0) for i in range(4)]
    model = fit_sigma(*parts, seed=seed, windows=len(found))
    return replace(model, scale_fallback=fallback)


def calibrate(
    cut: Callable[[Window], WindowData],
    scale: np.ndarray,
    land: np.ndarray,
    days: int,
    fill: Callable[..., np.ndarray],
    seed: int = CALIBRATION_SEED,
) -> SigmaModel:
    """Fit sigma on the hidden pixels of the :func:`windows` of a cube, one after the other (in memory).

    ``cut(window)`` reads a window's data; ``scale`` (H, W) is each pixel's
    standard deviation over the record (NaN where unknown: the land median
    stands in, there and in the model). ``sgdsm reconstruct`` runs the
    windows as tasks of their own (:mod:`sgdsm_dask.reconstruction.calibration`).
    """
    fallback = scale_fallback(scale, land)
    shape = (days, *land.shape)
    found = [
        window_errors(cut(win), win, shape, fallback, fill, seed)
        for win in windows(land & np.isfinite(scale), days, seed)
    ]
    return fit_windows(found, fallback, seed)


def pixel_scale(total: np.ndarray, total_sq: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Each pixel's standard deviation of its observations from their sums; NaN where fewer than 3."""
    n = np.asarray(n, np.float64)
    mean = np.asarray(total, np.float64) / np.maximum(n, 1)
    var = np.maximum(np.asarray(total_sq, np.float64) / np.maximum(n, 1) - mean**2, 0.0) * n / np.maximum(n - 1, 1)
    return np.where(n >= 3, np.sqrt(var), np.nan).astype(np.float32)


def window_fill(filler: object) -> Callable[..., np.ndarray]:
    """``fill(sm, precip, land, sums)`` of a window by ``filler`` (a Filler or the 'anomaly' network's CubeFiller).

    The 'anomaly' network corrects each pixel's prior; given ``sums``, it
    is the record's (as in the chains), not the window's few days. The
    LSTM-CNN's fill is ``causal`` (:func:`hidden_errors`).
    """
    from ..model.fill import Filler

    def fill(sm: np.ndarray, precip: np.ndarray | None, land: np.ndarray, sums: tuple | None) -> np.ndarray:
        if sums is None or not hasattr(filler, "run_window"):
            return filler.run(sm, precip, land)[0]  # type: ignore[attr-defined]
        from ..model.anomaly import prior_from_sums
        from ..model.fill import patch_origins

        net = filler.net  # type: ignore[attr-defined]
        prior = prior_from_sums(sums[0], sums[1], land, net.cfg.prior_sigma)
        p, ov = net.cfg.patch, filler.overlap  # type: ignore[attr-defined]
        origins = patch_origins(sm.shape[1], p, ov), patch_origins(sm.shape[2], p, ov)
        days = list(range(sm.shape[0]))
        return filler.run_window(sm, precip, land, prior, days, None, origins)[0]  # type: ignore[attr-defined]

    # the LSTM-CNN fills day by day, from the days before only; the 'anomaly' network sees days on both sides
    fill.causal = isinstance(filler, Filler) and not hasattr(filler, "run_window")  # type: ignore[attr-defined]
    return fill
