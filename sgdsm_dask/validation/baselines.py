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


def climatology(sm: np.ndarray) -> np.ndarray:
    """Per pixel, the mean of its observed days (over the whole array)."""
    obs = np.isfinite(sm)
    n = obs.sum(axis=0)
    total = np.where(obs, sm, 0.0).sum(axis=0, dtype=np.float64)
    clim = np.where(n > 0, total / np.maximum(n, 1), np.nan).astype(np.float32)
    return np.where(np.isfinite(sm), sm, clim[None]).astype(np.float32)
