"""Scores of an estimate against a reference, NaN-aware (pairs with a NaN on either side are left out)."""

from __future__ import annotations

import numpy as np


def _pairs(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(est) & np.isfinite(ref)
    if where is not None:
        ok &= where
    return est[ok].astype(np.float64), ref[ok].astype(np.float64)


def rmse(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> float:
    e, r = _pairs(est, ref, where)
    return float(np.sqrt(np.mean((e - r) ** 2))) if e.size else float("nan")


def count(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> int:
    return int(_pairs(est, ref, where)[0].size)


def bias(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean of ``est - ref``."""
    e, r = _pairs(est, ref, where)
    return float(np.mean(e - r)) if e.size else float("nan")


def mae(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> float:
    e, r = _pairs(est, ref, where)
    return float(np.mean(np.abs(e - r))) if e.size else float("nan")


def ubrmse(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> float:
    """Unbiased RMSE: the RMSE after removing the mean difference, sqrt(RMSE^2 - bias^2)."""
    e, r = _pairs(est, ref, where)
    if not e.size:
        return float("nan")
    d = e - r
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))


def pearson_r(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> float:
    """Pearson correlation; NaN with fewer than 3 pairs or a constant series."""
    e, r = _pairs(est, ref, where)
    if e.size < 3 or e.std() == 0 or r.std() == 0:
        return float("nan")
    return float(np.corrcoef(e, r)[0, 1])


def all_scores(est: np.ndarray, ref: np.ndarray, where: np.ndarray | None = None) -> dict[str, float]:
    """R, RMSE, MAE, ubRMSE, bias and N, the columns of the paper's Table 1 (plus ubRMSE, bias, N)."""
    return {
        "R": pearson_r(est, ref, where),
        "RMSE": rmse(est, ref, where),
        "MAE": mae(est, ref, where),
        "ubRMSE": ubrmse(est, ref, where),
        "bias": bias(est, ref, where),
        "N": count(est, ref, where),
    }


def seam_sums(
    filled: np.ndarray, reconstructed: np.ndarray, edges_y: np.ndarray, edges_x: np.ndarray
) -> tuple[float, int, float, int]:
    """``(sum, count)`` of the jumps across patch borders, then of those elsewhere: :func:`seam_score`'s parts.

    Sums of whole days add up: a record scored slab by slab gets the score of the whole.
    """
    f = filled.astype(np.float64)
    across, other = [], []
    for axis, edges in ((-2, edges_y), (-1, edges_x)):
        n = f.shape[axis]
        d = np.abs(np.diff(f, axis=axis))
        both = reconstructed.take(np.arange(1, n), axis) & reconstructed.take(np.arange(n - 1), axis)
        at_edge = np.zeros(n - 1, bool)
        at_edge[np.asarray(edges, int)[(np.asarray(edges) > 0) & (np.asarray(edges) < n)] - 1] = True
        shape = [1] * d.ndim
        shape[axis] = n - 1
        at_edge = at_edge.reshape(shape)
        ok = both & np.isfinite(d)
        across.append(d[ok & at_edge])
        other.append(d[ok & ~at_edge])
    a, o = np.concatenate(across), np.concatenate(other)
    return float(a.sum()), int(a.size), float(o.sum()), int(o.size)


def seam_from_sums(across: float, n_across: int, other: float, n_other: int) -> float:
    """The mean jump across borders over the mean elsewhere, from :func:`seam_sums` (NaN without both)."""
    if not n_across or not n_other or other == 0:
        return float("nan")
    return float((across / n_across) / (other / n_other))


def seam_score(filled: np.ndarray, reconstructed: np.ndarray, edges_y: np.ndarray, edges_x: np.ndarray) -> float:
    """Mean jump between neighbouring cells across patch borders over the mean jump elsewhere.

    ``filled`` is (..., H, W); only pairs of neighbours that are both
    ``reconstructed`` count (observed pixels carry the sensor's own noise).
    ``edges_y`` / ``edges_x`` are the first cells after a border (a pair
    (i - 1, i) crosses a border when i is in the list). About 1: no seam;
    well above 1: patch borders show.
    """
    return seam_from_sums(*seam_sums(filled, reconstructed, edges_y, edges_x))
