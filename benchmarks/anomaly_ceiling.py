"""How much do space-time anomalies explain? A linear combination of hand-made features, fitted by least squares.

    python -m benchmarks.anomaly_ceiling --fit real_south.zarr --score real_north.zarr [--seed 0]

Both cubes are hidden exactly as ``sgdsm evaluate`` hides them (other days'
gap masks, ``--seed``). On each hidden pixel the features are, with ``c`` the
pixel's climatology of the hidden cube and anomalies taken against it: the
same-day Gaussian-weighted anomaly of observed neighbours at 1, 2 and 4
cells (and its weight), the pixel's own anomaly and its neighbours' (2
cells) 1 to 3 days before and after, the difference between a smoothed
climatology and its own (1 and 3 cells), ``1 / n_observed`` and ``c``.
The weights are fitted by least squares on the hidden pixels of ``--fit``
and applied to ``--score``; with ``--fit`` and ``--score`` the same cube the
fit is on the scored pixels themselves, an optimistic ceiling for any
estimator built of these features. Prints one Markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from sgdsm_dask.io import zarr_store
from sgdsm_dask.validation import baselines
from sgdsm_dask.validation.simulated import hide


def _load(store: str) -> tuple[np.ndarray, np.ndarray]:
    sm = zarr_store.read_array(store, "sm", (slice(None), slice(None), slice(None)))
    land = zarr_store.read_array(store, "land", (slice(None), slice(None))).astype(bool)
    return sm, land


def _g(x: np.ndarray, s: float) -> np.ndarray:
    return ndimage.gaussian_filter(x, (0, s, s), mode="constant", truncate=3.0)


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` moved ``k`` days later (positive) or earlier (negative), zeros where nothing moves in."""
    out = np.zeros_like(x)
    if k > 0:
        out[k:] = x[:-k]
    else:
        out[:k] = x[-k:]
    return out


def features(sm_in: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The climatology ``c`` (H, W) and the feature cubes (T, H, W) of a hidden cube."""
    obs = np.isfinite(sm_in)
    n = obs.sum(0)
    c = baselines.pixel_climatology(sm_in)
    cc = np.nan_to_num(c)
    a = np.where(obs, sm_in - cc, 0.0)
    m = obs.astype(float)
    f: dict[str, np.ndarray] = {}
    for s in (1, 2, 4):
        num, den = _g(a, s), _g(m, s)
        an = np.where(den > 1e-3, num / np.maximum(den, 1e-12), 0.0)
        f[f"anomaly {s}"], f[f"weight {s}"], f[f"weighted anomaly {s}"] = an, np.log1p(den), an * np.minimum(den, 1)
    for k in (1, 2, 3):
        for sign, name in ((1, "before"), (-1, "after")):
            sa, sm_ = _shift(a, sign * k), _shift(m, sign * k)
            f[f"own {k} {name}"], f[f"seen {k} {name}"] = sa, sm_
            num, den = _g(sa, 2), _g(sm_, 2)
            f[f"neighbours {k} {name}"] = np.where(den > 1e-3, num / np.maximum(den, 1e-12), 0.0) * np.minimum(den, 1)
    for s in (1, 3):
        smooth = ndimage.gaussian_filter(cc * n, s, mode="constant") / np.maximum(
            ndimage.gaussian_filter(n.astype(float), s, mode="constant"), 1e-9
        )
        f[f"smoothed climatology {s}"] = np.broadcast_to((smooth - cc) / np.sqrt(np.maximum(n, 1)), a.shape)
    f["1/n"] = np.broadcast_to(1.0 / np.maximum(n, 1), a.shape)
    f["c"] = np.broadcast_to(cc, a.shape)
    f["1"] = np.ones_like(a)
    return c, f


def _design(store: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    sm, land = _load(store)
    sm_in, hidden = hide(sm, land, seed)
    c, f = features(sm_in)
    ok = hidden & np.isfinite(c)[None]
    x = np.stack([np.asarray(v)[ok] for v in f.values()], 1)
    base = np.broadcast_to(np.nan_to_num(c), sm.shape)[ok]
    ref = sm[ok]
    scores = {"climatology": float(np.sqrt(np.mean((base - ref) ** 2)))}
    for sigma in (2.0, 4.0):
        e = baselines.neighbour_anomaly(sm_in, sigma)[ok]
        scores[f"climatology + neighbour anomaly (sigma {sigma:g})"] = float(np.sqrt(np.mean((e - ref) ** 2)))
    return x, ref - base, base, scores


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", required=True, metavar="STORE", help="the staged cube the weights are fitted on")
    ap.add_argument("--score", required=True, metavar="STORE", help="the staged cube scored")
    ap.add_argument("--seed", type=int, default=0, help="seed of the hiding (as sgdsm evaluate's)")
    args = ap.parse_args(argv)
    x, y, _, _ = _design(args.fit, args.seed)
    w = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ y)
    xs, ys, base, scores = _design(args.score, args.seed)
    scores["linear combination of the features"] = float(np.sqrt(np.mean((base + xs @ w - (base + ys)) ** 2)))
    print(f"| estimator on {args.score}'s hidden pixels (n = {ys.size}; weights fitted on {args.fit}) | RMSE |")
    print("|---|---|")
    for name, value in scores.items():
        print(f"| {name} | {value:.4f} |")


if __name__ == "__main__":
    main()
