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
