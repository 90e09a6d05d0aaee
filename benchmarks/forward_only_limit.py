"""How well can an estimator that only looks back in time fill a cube's hidden pixels?

    python -m benchmarks.forward_only_limit --store real_south.zarr [--seed 0]

Hides observed pixels exactly as ``sgdsm evaluate`` does, then scores, on
the hidden land pixels that have an earlier observation and a climatology:
each pixel's running mean of its past observations, that mean plus the
mean anomaly of today's observed neighbours (5 x 5 cells), and the two
baselines (which also use later days). A second table uses the pixels that
also have a same-day observed neighbour within 3 cells and compares the
same-day neighbour mean (7 x 7) with the running mean. Prints Markdown.
This is the bar a forward-only model (the paper's state runs forward in
time) has to clear.

The first table also holds a decayed mean of each pixel's past
observations after the cube was run through once already (the state
"spun up" on the cube itself, as a model's could be), and with
``--model`` the shipped checkpoint twice: from a zero state, and with its
state spun up the same way (slow: the model fills the cube twice), with
the cube's precipitation as ``sgdsm evaluate`` gives it.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from sgdsm_dask.io import zarr_store
from sgdsm_dask.validation import baselines
from sgdsm_dask.validation.simulated import hide, score_methods


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


def cycled_mean(sm_in: np.ndarray, decay: float) -> np.ndarray:
    """Each pixel's decayed mean of its past observations, on a second pass after a first pass over the cube."""
    obs = np.isfinite(sm_in)
    mean = np.zeros(sm_in.shape[1:])
    weight = np.zeros(sm_in.shape[1:])
    out = np.full(sm_in.shape, np.nan)
    for second in (False, True):
        for t in range(sm_in.shape[0]):
            if second:
                out[t] = np.where(weight > 0, mean, np.nan)
            new = decay * weight + obs[t]
            mean = np.where(
                new > 0, (decay * weight * mean + np.where(obs[t], sm_in[t], 0.0)) / np.maximum(new, 1e-9), mean
            )
            weight = new
    return out


def model_fills(sm_in: np.ndarray, precip: np.ndarray, land: np.ndarray) -> dict[str, np.ndarray]:
    """The shipped checkpoint with the cube's rain, as ``sgdsm evaluate`` runs it: from zero, then spun up."""
    from sgdsm_dask.model.fill import Filler

    filler = Filler.from_checkpoint()
    from_zero, _, spun = filler.run(sm_in, precip, land)  # the first pass is also the spin-up
    return {
        "LSTM-CNN, shipped checkpoint, state from zero": from_zero,
        "LSTM-CNN, state spun up over the cube once": filler.run(sm_in, precip, land, spun)[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", action="store_true", help="also the shipped checkpoint, from zero and spun up")
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
        score = score_methods(rows, sm, where, "hidden pixels")
        print(f"\n| estimator (n = {score.n}) | RMSE m3/m3 |\n|---|---|")
        for name, value in score.rmse.items():
            print(f"| {name} | {value:.4f} |")

    base = hidden & np.isfinite(clim) & np.isfinite(past)
    table(
        base,
        {
            "running mean of past observations": past,
            "+ mean anomaly of today's neighbours (5 x 5)": past_plus,
            "decayed mean (0.95) of past observations, cube run through twice": cycled_mean(sm_in, 0.95),
            **(model_fills(sm_in, zarr_store.read_array(args.store, "precip"), land) if args.model else {}),
            "climatology (uses later days)": clim,
            "linear interpolation in time (uses later days)": lin,
        },
    )
    table(
        base & np.isfinite(same_day) & np.isfinite(lin),
        {
            "same-day mean of observed neighbours (7 x 7)": same_day,
            "running mean of past observations": past,
            "climatology (uses later days)": clim,
            "linear interpolation in time (uses later days)": lin,
        },
    )


if __name__ == "__main__":
    main()
