"""How well can an estimator that only looks back in time fill a cube's hidden pixels?

    python -m benchmarks.forward_only_limit --store real_south.zarr [--seed 0]

Hides observed pixels exactly as ``sgdsm evaluate`` does, then scores, on
the hidden land pixels that have an earlier observation and a climatology:
each pixel's running mean of its past observations, that mean plus the
mean anomaly of today's observed neighbours (5 x 5 cells), and the two
baselines (which also use later days). A second table uses the pixels that
also have a same-day observed neighbour within 3 cells and compares the
same-day neighbour mean (7 x 7) with the running mean. Prints Markdown.
No model is involved: this is the bar a forward-only model (the paper's
state runs forward in time) has to clear.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from sgdsm_dask.io import zarr_store
from sgdsm_dask.validation import baselines, metrics
from sgdsm_dask.validation.simulated import hide


def window_mean(values: np.ndarray, valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the mean of ``values`` where ``valid`` in a ``size`` x ``size`` window, and the count."""
    k = np.ones((1, size, size))
    total = ndimage.convolve(np.where(valid, values, 0.0), k, mode="constant")
    n = ndimage.convolve(valid.astype(float), k, mode="constant")
    return np.where(n > 0, total / np.maximum(n, 1), np.nan), n


def past_mean(sm_in: np.ndarray) -> np.ndarray:
    """Each pixel's mean of its observations strictly before each day (NaN before the first)."""
    obs = np.isfinite(sm_in)
    total = np.cumsum(np.where(obs, sm_in, 0.0), axis=0)
    n = np.cumsum(obs, axis=0)
    before = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return np.concatenate([np.full((1,) + sm_in.shape[1:], np.nan), before[:-1]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sm = zarr_store.read_array(args.store, "sm")
    land = zarr_store.read_array(args.store, "land").astype(bool)
    sm_in, hidden = hide(sm, land, args.seed)
    obs = np.isfinite(sm_in)
    clim = baselines.climatology(sm_in)
    lin = baselines.linear_in_time(sm_in)
    past = past_mean(sm_in)
    anomaly, n_anom = window_mean(sm_in - past, obs & np.isfinite(past), 5)
    past_plus = past + np.where(n_anom >= 3, anomaly, 0.0)
    same_day, _ = window_mean(sm_in, obs, 7)

    def table(where: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        print(f"\n| estimator (n = {int(where.sum())}) | RMSE m3/m3 |\n|---|---|")
        for name, est in rows.items():
            print(f"| {name} | {metrics.rmse(est, sm, where):.4f} |")

    base = hidden & np.isfinite(clim) & np.isfinite(past)
    table(
        base,
        {
            "running mean of past observations": past,
            "+ mean anomaly of today's neighbours (5 x 5)": past_plus,
            "climatology (uses later days)": clim,
            "linear interpolation in time (uses later days)": lin,
        },
    )
    both = base & np.isfinite(same_day) & np.isfinite(lin)
    table(
        both,
        {
            "same-day mean of observed neighbours (7 x 7)": same_day,
            "running mean of past observations": past,
            "climatology (uses later days)": clim,
            "linear interpolation in time (uses later days)": lin,
        },
    )


if __name__ == "__main__":
    main()
