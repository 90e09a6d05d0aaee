"""How deep in a gap a pixel lies: days since it was last observed, cells to the nearest observation of the day."""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

#: Cells beyond which ``distance_to_observed`` is not told apart (32 cells: 8 degrees at 0.25 degree).
DISTANCE_CAP = 32
#: The largest ``days_since_observed`` stored (int16).
DAYS_CAP = np.iinfo(np.int16).max


def days_since_observed(obs: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
    """Days since each pixel was last observed, per day of ``obs`` (T, H, W; True = observed): 0 on observed days.

    ``before`` (H, W) is the count of the day before the first of ``obs`` (a
    previous time chunk's last day); None: the record starts here, and a
    pixel not observed yet counts from the day before the record began (a
    lower bound). Calendar days count, staged or not, so the count of a day
    does not depend on where a time chunk ends.
    """
    t = obs.shape[0]
    out = np.empty(obs.shape, np.int16)
    prev = np.zeros(obs.shape[1:], np.int32) if before is None else np.asarray(before, np.int32)
    for k in range(t):
        prev = np.where(obs[k], 0, np.minimum(prev + 1, DAYS_CAP))
        out[k] = prev
    return out


def distance_to_observed(obs: np.ndarray, cap: int = DISTANCE_CAP) -> np.ndarray:
    """Euclidean distance in cells to the nearest observed pixel of the same day, rounded, at most ``cap``.

    ``obs`` is (T, H, W) or (H, W); 0 where observed, ``cap`` on a day with
    no observation at all. A block cut out of a larger grid passes a margin
    of ``cap`` cells around its own cells so that its distances are exact.
    """
    if obs.ndim == 2:
        return distance_to_observed(obs[None], cap)[0]
    out = np.full(obs.shape, cap, np.int8)
    rounded = _rounded(cap)
    rows, cols = np.indices(obs.shape[1:], np.int32)
    for k in range(obs.shape[0]):
        if obs[k].any():
            # the nearest observed cell's indices, then the squared distance in whole cells by table look-up
            near = ndimage.distance_transform_edt(~obs[k], return_distances=False, return_indices=True)
            d2 = (near[0] - rows) ** 2 + (near[1] - cols) ** 2
            out[k] = rounded[np.minimum(d2, rounded.size - 1)]
    return out


@functools.lru_cache
def _rounded(cap: int) -> np.ndarray:
    """``min(rint(sqrt(d2)), cap)`` (int8) for every whole squared distance ``d2`` up to the first that rounds past ``cap``.

    The same float64 square root and rounding as ``distance_transform_edt``'s
    distances would take, done once per value instead of once per cell.
    """
    d2 = np.arange(cap * cap + cap + 2, dtype=np.float64)  # sqrt(cap**2 + cap + 1) > cap + 0.5: beyond, all cap
    return np.minimum(np.rint(np.sqrt(d2)), cap).astype(np.int8)
