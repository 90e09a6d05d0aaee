"""How close can one scale bring a Gaussian sigma to both coverage bands? The scored pixels' own best factor.

    python -m benchmarks.sigma_ceiling --store real_south.zarr --checkpoint base_north.pt [--seed 0]

Runs ``sgdsm evaluate``'s evaluation (its hiding, fill and sigma, without
DCT-PLS), then looks for the factor ``c`` on sigma that brings the
fraction of errors within ±1σ and ±2σ closest to 0.683 and 0.954
(:func:`~sgdsm_dask.uncertainty.sigma.coverage_factor`), chosen on the
scored pixels themselves: an optimistic ceiling for any sigma of the same
shape, since a calibration never sees those pixels. It also counts the
retrieval values at the ends of the product's range among the scored
observations (exact 0 and 0.99 and above, where LPRM clips) and their share
of the model's squared error: errors that no feature of what the pixel
knew predicts, and that make the error distribution heavier-tailed than a
Gaussian. Prints one Markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np

from sgdsm_dask.model.fill import Filler
from sgdsm_dask.training.checkpoint import load
from sgdsm_dask.uncertainty.sigma import coverage_factor
from sgdsm_dask.validation.simulated import evaluate_store


def ceiling(store: str, checkpoint: str | None, seed: int = 0) -> dict[str, float]:
    """Coverage of sgdsm's sigma and of the best factor on the scored pixels; shares of range-end values."""
    filler = Filler.from_checkpoint(load(checkpoint), overlap=8)
    ev = evaluate_store(store, filler, seed=seed, dct=False)
    k = ev.scored & np.isfinite(ev.uncertainty.sigma)
    err = (ev.estimates["LSTM-CNN"] - ev.sm)[k]
    sigma = ev.uncertainty.sigma[k]
    truth = ev.sm[k]
    z = np.abs(err) / sigma
    c = coverage_factor(z)
    ends = (truth <= 0.0) | (truth >= 0.99)
    return {
        "n": int(k.sum()),
        "within_1": float(np.mean(z < 1)),
        "within_2": float(np.mean(z < 2)),
        "best_factor": c,
        "best_within_1": float(np.mean(z < c)),
        "best_within_2": float(np.mean(z < 2 * c)),
        "share_zero": float(np.mean(truth <= 0.0)),
        "share_099": float(np.mean(truth >= 0.99)),
        "mse_share_ends": float(np.sum(err[ends] ** 2) / np.sum(err**2)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "rmse_without_ends": float(np.sqrt(np.mean(err[~ends] ** 2))),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="a staged cube")
    ap.add_argument("--checkpoint", default=None, help="the model (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the hiding, as sgdsm evaluate's")
    args = ap.parse_args(argv)
    r = ceiling(args.store, args.checkpoint, args.seed)
    print(
        "| n | within ±1σ / ±2σ (sgdsm) | best factor on the scored pixels | within ±1σ / ±2σ then "
        "| observed 0 / ≥ 0.99 | their share of the squared error | RMSE / without them |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {r['n']} | {r['within_1']:.3f} / {r['within_2']:.3f} | {r['best_factor']:.3f} "
        f"| {r['best_within_1']:.3f} / {r['best_within_2']:.3f} | {r['share_zero']:.3f} / {r['share_099']:.3f} "
        f"| {r['mse_share_ends']:.2f} | {r['rmse']:.4f} / {r['rmse_without_ends']:.4f} |"
    )
    return r


if __name__ == "__main__":
    main()
