"""Quick-look pictures (matplotlib, Agg backend; no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def coverage_curve(ds: xr.Dataset) -> np.ndarray:
    """Daily land coverage rate: observed land cells over land cells (the paper's Fig. 2)."""
    land = ds["land"].values
    sm = ds["sm"].values
    return np.isfinite(sm[:, land]).sum(axis=1) / max(int(land.sum()), 1)


def stage_quicklook(store: str, png: str | Path, truth: str | None = None) -> Path:
    """A map of the last staged day, its rain, and the daily coverage curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = xr.open_zarr(store, consolidated=False)
    staged = np.flatnonzero(ds["available"].values)
    if staged.size == 0:
        raise ValueError(f"{store}: no staged day to show")
    t = int(staged[-1])
    day = ds.isel(time=t)
    extent = [
        float(ds.lon.min()) - 0.125,
        float(ds.lon.max()) + 0.125,
        float(ds.lat.min()) - 0.125,
        float(ds.lat.max()) + 0.125,
    ]
    ncols = 3 if truth else 2
    fig = plt.figure(figsize=(5.2 * ncols, 8.0), constrained_layout=True)
    grid = fig.add_gridspec(2, ncols, height_ratios=[2.2, 1])
    ax = fig.add_subplot(grid[0, 0])
    im = ax.imshow(
        np.where(ds["land"].values, day["sm"].values, np.nan), extent=extent, vmin=0, vmax=0.5, cmap="YlGnBu"
    )
    ax.set_facecolor("0.85")
    ax.set_title(f"staged soil moisture {str(day.time.values)[:10]}")
    fig.colorbar(im, ax=ax, label="m3/m3", shrink=0.8)
    col = 1
    if truth:
        tr = xr.open_zarr(truth, consolidated=False).sel(time=day.time)
        ax = fig.add_subplot(grid[0, col])
        im = ax.imshow(tr["sm"].values, extent=extent, vmin=0, vmax=0.5, cmap="YlGnBu")
        ax.set_facecolor("0.85")
        ax.set_title("synthetic truth (gap-free)")
        fig.colorbar(im, ax=ax, label="m3/m3", shrink=0.8)
        col += 1
    ax = fig.add_subplot(grid[0, col])
    im = ax.imshow(day["precip"].values, extent=extent, vmin=0, vmax=40, cmap="Blues")
    ax.set_title("IMERG precipitation, 0.25 deg")
    fig.colorbar(im, ax=ax, label="mm/day", shrink=0.8)
    ax = fig.add_subplot(grid[1, :])
    cov = coverage_curve(ds)
    ax.plot(ds.time.values, 100 * cov, marker="o", ms=3)
    missing = ~ds["available"].values
    if missing.any():
        ax.plot(ds.time.values[missing], np.zeros(missing.sum()), "rx", label="missing day")
        ax.legend()
    ax.set_ylabel("land observed (%)")
    ax.set_title("daily coverage rate of land (cf. paper Fig. 2)")
    ax.set_ylim(0, 100)
    png = Path(png)
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return png
