"""What a user would otherwise pick to fill gaps, on (T, H, W) arrays with NaN gaps."""

from __future__ import annotations

import numpy as np


def linear_in_time(
    sm: np.ndarray,
    before: tuple[np.ndarray, np.ndarray] | None = None,
    after: tuple[np.ndarray, np.ndarray] | None = None,
    t0: int = 0,
    days: int | None = None,
) -> np.ndarray:
    """Per pixel, linear interpolation between the nearest observed days before and after.

    Before the first and after the last observation the nearest observed
    value is held; pixels never observed stay NaN. ``sm`` may be a slab of
    a longer record, days ``t0`` to ``t0 + len(sm)`` of ``days``: then
    ``before`` is ``(value, day)`` (H, W) of each pixel's last observation
    before the slab (day -1: none) and ``after`` that of its first one after
    it (day ``days``: none), and the slab gets the values the whole record
    would (:mod:`.chunked_eval`).
    """
    t = sm.shape[0]
    days = t0 + t if days is None else days
    obs = np.isfinite(sm)
    idx = t0 + np.arange(t)[:, None, None]
    prev_i = np.maximum.accumulate(np.where(obs, idx, -1), axis=0)
    next_i = np.flip(np.minimum.accumulate(np.flip(np.where(obs, idx, days), 0), axis=0), 0)
    if before is not None:
        prev_i = np.maximum(prev_i, before[1][None])
    if after is not None:
        next_i = np.minimum(next_i, after[1][None])
    has_prev, has_next = prev_i >= 0, next_i < days
    pv = np.take_along_axis(sm, np.clip(prev_i - t0, 0, t - 1), 0)
    nv = np.take_along_axis(sm, np.clip(next_i - t0, 0, t - 1), 0)
    if before is not None:
        pv = np.where(prev_i < t0, before[0][None], pv)
    if after is not None:
        nv = np.where(next_i >= t0 + t, after[0][None], nv)
    span = np.maximum(next_i - prev_i, 1)
    w = (idx - prev_i) / span
    both = pv + (nv - pv) * w
    out = np.where(has_prev & has_next, both, np.where(has_prev, pv, nv))
    out = np.where(has_prev | has_next, out, np.nan)
    return np.where(obs, sm, out).astype(np.float32)


def pixel_climatology(sm: np.ndarray) -> np.ndarray:
    """``(H, W)``: per pixel, the mean of its observed days; NaN where it is never observed."""
    obs = np.isfinite(sm)
    n = obs.sum(axis=0)
    total = np.where(obs, sm, 0.0).sum(axis=0, dtype=np.float64)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan).astype(np.float32)


def climatology(sm: np.ndarray, clim: np.ndarray | None = None) -> np.ndarray:
    """Per pixel, the mean of its observed days (over the whole array; or ``clim``, that of a whole record)."""
    clim = pixel_climatology(sm) if clim is None else clim
    return np.where(np.isfinite(sm), sm, clim[None]).astype(np.float32)


def neighbour_anomaly(
    sm: np.ndarray, sigma: float, min_weight: float = 1e-3, clim: np.ndarray | None = None
) -> np.ndarray:
    """Climatology plus the same day's anomaly of the observed neighbours, Gaussian-weighted.

    With ``c`` the pixel's climatology (:func:`pixel_climatology`) and, on
    the observed pixels ``m`` of a day, the anomaly ``a = y - c``, a gap
    gets ``c + G*(a m) / G*(m)``: a normalised convolution of that day
    with a Gaussian ``G`` of ``sigma`` cells (cut at 3 sigma, zero outside
    the grid). Where the weight ``G*(m)`` is below ``min_weight`` (no
    observed neighbour near enough) the anomaly is 0: plain climatology.
    Observed pixels are returned unchanged; pixels never observed stay NaN.
    ``clim`` (H, W): the climatology of a whole record ``sm`` is a slab of
    (default: ``sm``'s own); each day is filtered on its own, so a slab of
    whole days gets the values the whole record would.
    """
    from scipy.ndimage import gaussian_filter

    obs = np.isfinite(sm)
    clim = (pixel_climatology(sm) if clim is None else clim).astype(np.float64)
    a = np.where(obs, sm - clim[None], 0.0)
    m = obs.astype(np.float64)
    smooth = {"sigma": (0.0, sigma, sigma), "mode": "constant", "cval": 0.0, "truncate": 3.0}  # per day: not in time
    num, den = gaussian_filter(a, **smooth), gaussian_filter(m, **smooth)
    anomaly = np.where(den >= min_weight, num / np.maximum(den, min_weight), 0.0)
    return np.where(obs, sm, clim[None] + anomaly).astype(np.float32)
