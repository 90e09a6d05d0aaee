"""Quick-look pictures (matplotlib, Agg backend; no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def coverage_curve(ds: xr.Dataset) -> np.ndarray:
    """Daily land coverage rate: observed land cells over land cells (the paper's Fig. 2)."""
    land = ds["land"].values
    observed = (ds["sm"].notnull() & ds["land"]).sum(("lat", "lon")).values  # chunk by chunk
    return observed / max(int(land.sum()), 1)


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


def pick_pixel(staged: xr.Dataset) -> tuple[int, int]:
    """A land pixel with gaps on about half of the days and the most rain: where filling shows."""
    land = staged["land"].values
    frac = staged["sm"].notnull().mean("time").values  # reductions chunk by chunk, never the whole cube
    rain = staged["precip"].fillna(0.0).sum("time").values
    score = np.where(land & (frac > 0.25) & (frac < 0.75), rain + 1.0, -1.0)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(i), int(j)


def reconstruction_quicklook(staged: str, result: str, png: str | Path, truth: str | None = None) -> Path:
    """Before and after maps of one day, and a time series at a pixel with its rain (paper Fig. 6 and 11)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = xr.open_zarr(staged, consolidated=False)
    rs = xr.open_zarr(result, consolidated=False)
    days = np.flatnonzero((rs["flag"] == 1).any(("lat", "lon")).values)
    if days.size == 0:
        raise ValueError(f"{result}: no reconstructed day to show")
    t = int(days[-1])
    land = st["land"].values
    extent = [
        float(st.lon.min()) - 0.125,
        float(st.lon.max()) + 0.125,
        float(st.lat.min()) - 0.125,
        float(st.lat.max()) + 0.125,
    ]
    maps = [
        ("observed (LPRM, gaps)", np.where(land, st["sm"][t].values, np.nan)),
        ("SGD-SM 2.0 LSTM-CNN, filled", rs["sm"][t].values),
    ]
    tr = xr.open_zarr(truth, consolidated=False) if truth else None
    if tr is not None:
        maps.append(("synthetic truth", np.where(land, tr["sm"][t].values, np.nan)))
    fig = plt.figure(figsize=(5.0 * len(maps), 8.5), constrained_layout=True)
    grid = fig.add_gridspec(2, len(maps), height_ratios=[2.2, 1])
    i, j = pick_pixel(st)
    for k, (title, values) in enumerate(maps):
        ax = fig.add_subplot(grid[0, k])
        im = ax.imshow(values, extent=extent, vmin=0, vmax=0.5, cmap="YlGnBu")
        ax.set_facecolor("0.85")
        ax.plot(float(st.lon[j]), float(st.lat[i]), marker="x", color="red")
        ax.set_title(f"{title}\n{str(st.time.values[t])[:10]}")
        fig.colorbar(im, ax=ax, label="m3/m3", shrink=0.8)
    ax = fig.add_subplot(grid[1, :])
    time = st["time"].values
    series = rs["sm"][:, i, j].values
    obs = st["sm"][:, i, j].values
    ax.plot(time, series, color="tab:green", label="reconstructed (filled days)")
    ax.plot(time, obs, "o", color="black", ms=4, label="observed")
    if tr is not None:
        ax.plot(time, tr["sm"][:, i, j].values, "--", color="0.5", label="truth")
    ax.set_ylabel("soil moisture (m3/m3)")
    ax.set_title(f"pixel {float(st.lat[i]):.3f} N, {float(st.lon[j]):.3f} E")
    rain = ax.twinx()
    rain.bar(time, np.nan_to_num(st["precip"][:, i, j].values), color="tab:blue", alpha=0.35, label="rain")
    rain.set_ylabel("precipitation (mm/day)")
    rain.invert_yaxis()
    ax.legend(loc="lower left", fontsize="small")
    out = Path(png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
