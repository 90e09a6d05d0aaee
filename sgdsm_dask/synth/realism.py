"""How real a soil moisture cube looks: the statistics ``benchmarks.synth_realism`` tabulates.

Every function takes ``sm`` as a ``(time, lat, lon)`` float array in m3/m3
with NaN for no retrieval, and ``land`` as a ``(lat, lon)`` bool mask; only
land cells count. An *anomaly* is a value minus its pixel's mean over the
days it was observed; pixels observed on fewer than ``min_obs`` days have no
anomalies (their mean is too uncertain) and no pixel mean. Correlations are
Pearson correlations pooled over every pair of observed anomalies.

The range ends are LPRM's: retrievals are stored in whole percent between 0
and 99 %, and real files hold many values pinned at either end (drop-outs to
zero over dry or sandy soils, saturation over wet soils, open water and snow).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: LPRM's range of stored soil moisture (m3/m3); a value within ``END_TOL`` of an end counts as pinned there.
RANGE = (0.0, 0.99)
END_TOL = 0.005
#: Horizontal lags (cells) at which :func:`spatial_correlation` is tabulated.
LAGS = (1, 2, 4)


def _land_values(sm: np.ndarray, land: np.ndarray) -> np.ndarray:
    """``(time, n_land)`` values of the land cells."""
    sm = np.asarray(sm, dtype=np.float64)
    land = np.asarray(land, dtype=bool)
    if sm.ndim != 3 or sm.shape[1:] != land.shape:
        raise ValueError(f"sm {sm.shape} must be (time, lat, lon) on land's grid {land.shape}")
    return sm[:, land]


def observed(sm: np.ndarray, land: np.ndarray) -> np.ndarray:
    """The observed land values, flat."""
    v = _land_values(sm, land)
    return v[np.isfinite(v)]


def observed_fraction(sm: np.ndarray, land: np.ndarray) -> float:
    """Fraction of land pixel-days with a retrieval."""
    v = _land_values(sm, land)
    return float(np.isfinite(v).mean()) if v.size else float("nan")


def pixel_means(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> np.ndarray:
    """``(lat, lon)`` mean of each land pixel over its observed days; NaN with fewer than ``min_obs``."""
    sm = np.asarray(sm, dtype=np.float64)
    ok = np.isfinite(sm) & np.asarray(land, dtype=bool)[None]
    n = ok.sum(axis=0)
    total = np.where(ok, sm, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= max(min_obs, 1), total / n, np.nan)


def anomalies(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> np.ndarray:
    """``sm`` minus its pixel's mean (:func:`pixel_means`); NaN where unobserved, off land or too few days."""
    mean = pixel_means(sm, land, min_obs)
    return np.asarray(sm, dtype=np.float64) - mean[None]


def pixel_mean_spread(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> float:
    """Standard deviation of the pixels' means: how much the climate differs from place to place."""
    m = pixel_means(sm, land, min_obs)
    m = m[np.isfinite(m)]
    return float(m.std()) if m.size > 1 else float("nan")


def anomaly_std(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> float:
    """Standard deviation of the anomalies: day-to-day change and retrieval error together."""
    a = anomalies(sm, land, min_obs)
    a = a[np.isfinite(a)]
    return float(a.std()) if a.size > 1 else float("nan")


def _pooled_corr(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """Pearson correlation over the union of ``(a, b)`` pairs where both are finite."""
    xs, ys = [], []
    for a, b in pairs:
        ok = np.isfinite(a) & np.isfinite(b)
        xs.append(a[ok])
        ys.append(b[ok])
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    if x.size < 3:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def lag1_autocorrelation(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> float:
    """Correlation of a pixel's anomaly with the next day's, over pixels observed on both days."""
    a = anomalies(sm, land, min_obs)
    return _pooled_corr([(a[:-1], a[1:])])


def spatial_correlation(sm: np.ndarray, land: np.ndarray, lag: int, min_obs: int = 5) -> float:
    """Correlation of same-day anomalies ``lag`` cells apart, east-west and north-south pooled."""
    if lag < 1:
        raise ValueError("lag must be at least one cell")
    a = anomalies(sm, land, min_obs)
    return _pooled_corr([(a[:, :, :-lag], a[:, :, lag:]), (a[:, :-lag, :], a[:, lag:, :])])


def end_fractions(sm: np.ndarray, land: np.ndarray, lo: float = RANGE[0], hi: float = RANGE[1]) -> tuple[float, float]:
    """Fractions of the observed values pinned at the low end (drop-outs) and the high end (saturation)."""
    v = observed(sm, land)
    if not v.size:
        return float("nan"), float("nan")
    return float((v <= lo + END_TOL).mean()), float((v >= hi - END_TOL).mean())


#: The rows of :func:`summary`, in order, with their labels.
ROWS = (
    ("mean", "mean of observed values (m3/m3)"),
    ("std", "std of observed values"),
    ("p01", "1st percentile"),
    ("p99", "99th percentile"),
    ("pixel_mean_spread", "spread of pixel means (std)"),
    ("anomaly_std", "std of anomalies"),
    ("lag1", "lag-1 autocorrelation of anomalies"),
    *((f"spatial{k}", f"spatial correlation of anomalies, {k} cell{'s' if k > 1 else ''}") for k in LAGS),
    ("low_end", f"fraction at the low end ({RANGE[0]:g})"),
    ("high_end", f"fraction at the high end ({RANGE[1]:g})"),
    ("observed", "observed fraction of land pixel-days"),
)


def summary(sm: np.ndarray, land: np.ndarray, min_obs: int = 5) -> dict[str, float]:
    """Every statistic of :data:`ROWS` for one cube."""
    v = observed(sm, land)
    has = v.size > 0
    p01, p99 = np.percentile(v, [1, 99]) if has else (np.nan, np.nan)
    lo, hi = end_fractions(sm, land)
    out = {
        "mean": float(v.mean()) if has else float("nan"),
        "std": float(v.std()) if has else float("nan"),
        "p01": float(p01),
        "p99": float(p99),
        "pixel_mean_spread": pixel_mean_spread(sm, land, min_obs),
        "anomaly_std": anomaly_std(sm, land, min_obs),
        "lag1": lag1_autocorrelation(sm, land, min_obs),
    }
    for k in LAGS:
        out[f"spatial{k}"] = spatial_correlation(sm, land, k, min_obs)
    out.update(low_end=lo, high_end=hi, observed=observed_fraction(sm, land))
    return out


def markdown_table(columns: dict[str, dict[str, float]]) -> str:
    """One row per statistic of :data:`ROWS`, one column per cube."""
    names = list(columns)
    lines = ["| statistic | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in ROWS:
        cells = []
        for n in names:
            x = columns[n][key]
            cells.append("n/a" if not np.isfinite(x) else (f"{x:.4f}" if key.endswith("_end") else f"{x:.3f}"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
