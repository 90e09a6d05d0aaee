"""What a user would otherwise pick to fill gaps, on (T, H, W) arrays with NaN gaps."""

from __future__ import annotations

import numpy as np


def linear_in_time(sm: np.ndarray) -> np.ndarray:
    """Per pixel, linear interpolation between the nearest observed days before and after.

    Before the first and after the last observation the nearest observed
    value is held; pixels never observed stay NaN.
    """
    t = sm.shape[0]
    obs = np.isfinite(sm)
    idx = np.arange(t)[:, None, None]
    prev_i = np.maximum.accumulate(np.where(obs, idx, -1), axis=0)
    next_i = np.flip(np.minimum.accumulate(np.flip(np.where(obs, idx, t), 0), axis=0), 0)
    has_prev, has_next = prev_i >= 0, next_i < t
    pv = np.take_along_axis(sm, np.clip(prev_i, 0, t - 1), 0)
    nv = np.take_along_axis(sm, np.clip(next_i, 0, t - 1), 0)
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


def climatology(sm: np.ndarray) -> np.ndarray:
    """Per pixel, the mean of its observed days (over the whole array)."""
    return np.where(np.isfinite(sm), sm, pixel_climatology(sm)[None]).astype(np.float32)


def neighbour_anomaly(sm: np.ndarray, sigma: float, min_weight: float = 1e-3) -> np.ndarray:
    """Climatology plus the same day's anomaly of the observed neighbours, Gaussian-weighted.

    With ``c`` the pixel's climatology (:func:`pixel_climatology`) and, on
    the observed pixels ``m`` of a day, the anomaly ``a = y - c``, a gap
    gets ``c + G*(a m) / G*(m)``: a normalised convolution of that day
    with a Gaussian ``G`` of ``sigma`` cells (cut at 3 sigma, zero outside
    the grid). Where the weight ``G*(m)`` is below ``min_weight`` (no
    observed neighbour near enough) the anomaly is 0: plain climatology.
    Observed pixels are returned unchanged; pixels never observed stay NaN.
    """
    from scipy.ndimage import gaussian_filter

    obs = np.isfinite(sm)
    clim = pixel_climatology(sm).astype(np.float64)
    a = np.where(obs, sm - clim[None], 0.0)
    m = obs.astype(np.float64)
    smooth = {"sigma": (0.0, sigma, sigma), "mode": "constant", "cval": 0.0, "truncate": 3.0}  # per day: not in time
    num, den = gaussian_filter(a, **smooth), gaussian_filter(m, **smooth)
    anomaly = np.where(den >= min_weight, num / np.maximum(den, min_weight), 0.0)
    return np.where(obs, sm, clim[None] + anomaly).astype(np.float32)
