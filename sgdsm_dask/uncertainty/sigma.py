"""The standard error of a filled value from what its pixel knew, fitted on pixels hidden on purpose.

For a reconstructed pixel with ``d`` days since its last observation, ``r``
cells to the nearest observation of its day and ``s`` the standard
deviation of its own observations over the record::

    log sigma = log c + b0 + b2 [d >= 2] + b4 [d >= 4] + b8 [d >= 8] + bd log(1 + r) + bs log s

The coefficients ``b`` maximise the Gaussian likelihood of the errors of
pixels hidden on purpose (:func:`fit_sigma`); the factor ``c`` then makes
the fractions of those errors within one and two sigma as close as one
scale can to a Gaussian's 0.683 and 0.954 (retrieval errors of real
products are heavier-tailed than a Gaussian, so the likelihood's own scale
covers too many within one sigma). Observed pixels carry
:data:`OBSERVED_SIGMA`: the staged cube holds no retrieval error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

#: sigma of an observed pixel (m3/m3): the target accuracy of satellite soil moisture (GCOS, ESA CCI SM), not a
#: measured error; the staged cube holds no retrieval error (LPRM's ``*_error`` is not staged).
OBSERVED_SIGMA = 0.04
#: Gap-depth classes of the reliability table, by days since observed: lower edges (the last open-ended).
DEPTH_EDGES = (1, 2, 4, 8)
DEPTH_NAMES = ("1", "2-3", "4-7", "8+")
SIGMA_RANGE = (0.002, 0.5)
_SCALE_FLOOR = 0.005  # m3/m3: a pixel whose observations hardly vary is not known better than this
GAUSS_1, GAUSS_2 = 0.6827, 0.9545


def depth_class(days: np.ndarray) -> np.ndarray:
    """0 .. 3: the class of ``days`` since observed (1, 2-3, 4-7, 8 and more; 0 days falls in the first)."""
    return np.digitize(days, DEPTH_EDGES[1:])


def _features(days: np.ndarray, dist: np.ndarray, scale: np.ndarray) -> np.ndarray:
    d = np.asarray(days)
    return np.stack(
        [
            np.ones(d.shape),
            d >= 2,
            d >= 4,
            d >= 8,
            np.log1p(np.asarray(dist, np.float64)),
            np.log(np.maximum(np.asarray(scale, np.float64), _SCALE_FLOOR)),
        ],
        -1,
    ).astype(np.float64)


@dataclass(frozen=True)
class SigmaModel:
    """Coefficients of log sigma (:mod:`this module's formula <.sigma>`) and what they were fitted on."""

    coef: tuple[float, ...] = (float("nan"),) + (0.0,) * 5
    factor: float = 1.0
    n: int = 0  # hidden pixels fitted on
    scale_fallback: float = 0.05  # m3/m3: the pixel scale where a pixel has too few observations for its own
    fitted_on: dict = field(default_factory=dict)  # seed, windows, ... (for the record)

    def sigma(self, days: np.ndarray, dist: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """sigma (float32, m3/m3) of filled pixels with these ``days`` since observed, ``dist`` and pixel ``scale``.

        The formula of :func:`_features` by table look-up: the depth steps
        take 4 values and ``log(1 + r)`` one per whole cell, so only the
        pixel scale is computed per value (this runs on every filled pixel
        of every chunk).
        """
        b0, b2, b4, b8, bd, bs = (float(c) for c in self.coef)
        steps = np.array([b0, b0 + b2, b0 + b2 + b4, b0 + b2 + b4 + b8]) + np.log(self.factor)
        d = np.asarray(days)
        level = steps[(d >= 2).astype(np.intp) + (d >= 4) + (d >= 8)]
        r = np.asarray(dist)
        if np.issubdtype(r.dtype, np.integer) and r.size and r.min() >= 0:
            near = (bd * np.log1p(np.arange(int(r.max()) + 1, dtype=np.float64)))[r]
        else:
            near = bd * np.log1p(r.astype(np.float64))
        scale = np.where(np.isfinite(scale), scale, self.scale_fallback)
        own = bs * np.log(np.maximum(np.asarray(scale, np.float64), _SCALE_FLOOR))
        return np.clip(np.exp(level + near + own), *SIGMA_RANGE).astype(np.float32)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SigmaModel:
        d = json.loads(text)
        return cls(tuple(d["coef"]), d["factor"], d["n"], d.get("scale_fallback", 0.05), d.get("fitted_on", {}))


def coverage_factor(z: np.ndarray) -> float:
    """The factor ``c`` for which ``|z| < c`` and ``|z| < 2c`` come closest to 0.683 and 0.954 (``z``: error / sigma).

    Closest in the larger of the two misses, each in units of how far it
    may be off (0.05 and 0.025: the bands 0.63-0.73 and 0.92-0.97).
    """
    z = np.sort(np.abs(z))
    best, best_c = np.inf, 1.0
    for c in np.exp(np.linspace(-1.0, 1.0, 201)):
        w1 = np.searchsorted(z, c) / z.size
        w2 = np.searchsorted(z, 2 * c) / z.size
        loss = max(abs(w1 - GAUSS_1) / 0.05, abs(w2 - GAUSS_2) / 0.025)  # each in units of its tolerance
        if loss < best:
            best, best_c = loss, float(c)
    return best_c


def fit_sigma(
    err: np.ndarray, days: np.ndarray, dist: np.ndarray, scale: np.ndarray, min_n: int = 200, **fitted_on: object
) -> SigmaModel:
    """Fit :class:`SigmaModel` to the errors ``err`` (fill minus observed) of hidden pixels and their features.

    With fewer than ``min_n`` errors only the level is fitted (their RMS);
    with none, sigma is NaN (nothing to calibrate on).
    """
    from scipy import optimize

    err = np.asarray(err, np.float64)
    ok = np.isfinite(err)
    err, days, dist, scale = err[ok], np.asarray(days)[ok], np.asarray(dist)[ok], np.asarray(scale)[ok]
    if err.size == 0:
        return SigmaModel(fitted_on={**fitted_on, "note": "no hidden pixel to calibrate on"})
    level = np.log(max(np.sqrt(np.mean(err**2)), SIGMA_RANGE[0]))
    if err.size < min_n:
        return SigmaModel((level,) + (0.0,) * 5, 1.0, int(err.size), fitted_on=fitted_on)
    x = _features(days, dist, scale)
    e2 = err**2

    def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
        ls = x @ b
        w = e2 * np.exp(-2 * ls)
        return float(np.mean(ls + 0.5 * w)), x.T @ (1 - w) / err.size

    b0 = np.zeros(x.shape[1])
    b0[0] = level
    b = optimize.minimize(nll, b0, jac=True, method="L-BFGS-B").x
    c = coverage_factor(err / np.exp(x @ b))
    return SigmaModel(tuple(float(v) for v in b), c, int(err.size), fitted_on=fitted_on)


@dataclass(frozen=True)
class Reliability:
    """Fractions of errors within one and two sigma, RMSE and mean sigma: overall and per gap-depth class."""

    rows: list[dict]  # {"class", "n", "within_1", "within_2", "rmse", "mean_sigma"}; the first: all
    spearman: float  # between mean sigma and RMSE over the classes

    def table(self) -> str:
        lines = [
            "| days since observed | n | within ±1σ | within ±2σ | RMSE | mean σ |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['class']} | {r['n']} | {r['within_1']:.3f} | {r['within_2']:.3f} | "
                f"{r['rmse']:.4f} | {r['mean_sigma']:.4f} |"
            )
        lines += ["", f"Spearman correlation of mean σ and RMSE over the classes: {self.spearman:.2f}"]
        return "\n".join(lines)


def reliability(err: np.ndarray, sigma: np.ndarray, days: np.ndarray) -> Reliability:
    """:class:`Reliability` of ``sigma`` for the errors ``err`` of pixels ``days`` since observed (1-D, same length)."""
    from scipy.stats import spearmanr

    err, sigma, days = (np.asarray(a).ravel() for a in (err, sigma, days))
    ok = np.isfinite(err) & np.isfinite(sigma)
    err, sigma, days = err[ok], sigma[ok], days[ok]
    cls = depth_class(days)

    def row(name: str, k: np.ndarray) -> dict:
        n = int(k.sum())
        if not n:
            return {"class": name, "n": 0, "within_1": np.nan, "within_2": np.nan, "rmse": np.nan, "mean_sigma": np.nan}
        z = np.abs(err[k]) / sigma[k]
        return {
            "class": name,
            "n": n,
            "within_1": float(np.mean(z < 1)),
            "within_2": float(np.mean(z < 2)),
            "rmse": float(np.sqrt(np.mean(err[k] ** 2))),
            "mean_sigma": float(np.mean(sigma[k])),
        }

    rows = [row("all", np.ones(err.shape, bool))] + [row(nm, cls == i) for i, nm in enumerate(DEPTH_NAMES)]
    full = [r for r in rows[1:] if r["n"]]
    rho = float(spearmanr([r["mean_sigma"] for r in full], [r["rmse"] for r in full])[0]) if len(full) >= 3 else np.nan
    return Reliability(rows, rho)
