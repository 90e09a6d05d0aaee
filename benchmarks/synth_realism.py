"""How real the synthetic archive looks: the same statistics on real and synthetic staged cubes.

    python -m benchmarks.synth_realism --real /work/exp/real_south.zarr --real /work/exp/real_north.zarr \\
        --synth SYNTH_SOUTH.zarr --synth SYNTH_NORTH.zarr [--min-obs 5]

Each store is a staged cube (``sgdsm stage``) with ``sm`` (time, lat, lon),
NaN for no retrieval, and ``land``; a ``truth.zarr`` of ``sgdsm synth`` works
too (its ``sm`` is gap-free). Prints a Markdown table, one column per cube:
level and spread of the observed values, spread of the pixel means, lag-1
autocorrelation and spatial correlation (1, 2, 4 cells) of the anomalies,
the fractions pinned at LPRM's range ends, and the observed fraction of land
pixel-days. The statistics are ``sgdsm_dask.synth.realism``'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from sgdsm_dask.synth import realism


def load(store: str) -> tuple[np.ndarray, np.ndarray]:
    """``(sm, land)`` of a staged cube (or a synthetic truth store)."""
    ds = xr.open_zarr(store, consolidated=False)
    return ds["sm"].values, ds["land"].values.astype(bool)


def measure(real: list[str], synth: list[str], min_obs: int = 5) -> dict[str, dict[str, float]]:
    columns = {}
    for kind, stores in (("real", real), ("synthetic", synth)):
        for store in stores:
            sm, land = load(store)
            columns[f"{kind}: {Path(store.rstrip('/')).stem}"] = realism.summary(sm, land, min_obs)
    return columns


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", action="append", default=[], metavar="STORE", help="a staged cube of real data")
    p.add_argument("--synth", action="append", default=[], metavar="STORE", help="a staged cube of synthetic data")
    p.add_argument("--min-obs", type=int, default=5, help="days a pixel needs for its mean and anomalies (default: 5)")
    args = p.parse_args(argv)
    if not args.real and not args.synth:
        p.error("give at least one --real or --synth store")
    print(realism.markdown_table(measure(args.real, args.synth, args.min_obs)))


if __name__ == "__main__":
    main()
