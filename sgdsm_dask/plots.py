"""Pictures written to files: quick-looks, error maps, time series.

Figures are made with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: no display is needed, and a Jupyter session's backend is left
as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .flags import reconstructed

#: The PNG text "Software" of every picture sgdsm draws begins so: ``sgdsm series`` replaces only such a file.
SOFTWARE = "sgdsm-dask"


def png_metadata() -> dict[str, str]:
    from . import __version__

    return {"Software": f"{SOFTWARE} {__version__}"}


def ours(png: str | Path) -> bool:
    """Whether ``png`` is a PNG file that sgdsm drew (its text chunk "Software" names sgdsm-dask)."""
    try:
        from PIL import Image

        with Image.open(png) as im:
            return im.format == "PNG" and str(im.text.get("Software", "")).startswith(SOFTWARE)  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return False


def claim_png(png: str | Path, option: str) -> None:
    """An InputError unless ``png`` is absent or a picture of ours (checked before anything is drawn)."""
    from .io.outputs import claim_file

    claim_file(str(png), ours, "a picture sgdsm drew", option)


def coverage_curve(ds: xr.Dataset) -> np.ndarray:
    """Daily land coverage rate: observed land cells over land cells (the paper's Fig. 2)."""
    land = ds["land"].values
    observed = (ds["sm"].notnull() & ds["land"]).sum(("lat", "lon")).values  # chunk by chunk
    return observed / max(int(land.sum()), 1)


def stage_quicklook(store: str, png: str | Path, truth: str | None = None) -> Path:
    """A map of the last staged day, its rain, and the daily coverage curve."""
    ds = xr.open_zarr(store, consolidated=False)
    staged = np.flatnonzero(ds["available"].values)
    if staged.size == 0:
        raise ValueError(f"{store}: no staged day to show")
    t = int(staged[-1])
    day = ds.isel(time=t)
    extent = _extent(ds.lat.values, ds.lon.values)
    ncols = 3 if truth else 2
    fig = _figure(figsize=(5.2 * ncols, 8.0), layout="constrained")
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
    fig.savefig(png, dpi=90, metadata=png_metadata())
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
    st = xr.open_zarr(staged, consolidated=False)
    rs = xr.open_zarr(result, consolidated=False)
    days = np.flatnonzero(reconstructed(rs["flag"]).any(("lat", "lon")).values)
    if days.size == 0:
        raise ValueError(f"{result}: no reconstructed day to show")
    t = int(days[-1])
    land = st["land"].values
    extent = _extent(st.lat.values, st.lon.values)
    maps = [
        ("observed (LPRM, gaps)", np.where(land, st["sm"][t].values, np.nan)),
        ("SGD-SM 2.0 LSTM-CNN, filled", rs["sm"][t].values),
    ]
    tr = xr.open_zarr(truth, consolidated=False) if truth else None
    if tr is not None:
        maps.append(("synthetic truth", np.where(land, tr["sm"][t].values, np.nan)))
    fig = _figure(figsize=(5.0 * len(maps), 8.5), layout="constrained")
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
    lines = {"reconstructed (filled days)": (rs["sm"][:, i, j].values, {"color": "tab:green"})}
    if tr is not None:
        lines["truth"] = (tr["sm"][:, i, j].values, {"color": "0.5", "ls": "--"})
    draw_series(
        ax,
        st["time"].values,
        st["sm"][:, i, j].values,
        lines,
        st["precip"][:, i, j].values,
        f"pixel {float(st.lat[i]):.3f} N, {float(st.lon[j]):.3f} E",
        legend_outside=False,
    )
    out = Path(png)
    fig.savefig(out, dpi=110, metadata=png_metadata())
    return out


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(**kw)


def _save(fig: Any, png: str | Path, dpi: int) -> Path:
    """Lay ``fig`` out tightly, write it to ``png`` at ``dpi`` and return the path."""
    fig.tight_layout()
    out = Path(png)
    fig.savefig(out, dpi=dpi, metadata=png_metadata())
    return out


def draw_series(
    ax,
    time: np.ndarray,
    observed: np.ndarray,
    lines: dict[str, tuple[np.ndarray, dict]],
    precip: np.ndarray | None,
    title: str,
    hidden: np.ndarray | None = None,
    legend_outside: bool = True,
) -> None:
    """One pixel over time like the paper's Fig. 9-11: observations as dots, fills as lines, rain as bars from the top.

    ``lines`` maps a label to (values, matplotlib style); ``hidden`` are
    observations withheld from every method (drawn as open red circles).
    """
    for label, (values, style) in lines.items():
        ax.plot(time, values, label=label, **style)
    ax.plot(time, observed, "o", color="black", ms=4, label="observed")
    if hidden is not None and np.isfinite(hidden).any():
        ax.plot(time, hidden, "o", mfc="none", mec="tab:red", ms=7, label="observed, hidden (scored)")
    ax.set_ylabel("soil moisture (m3/m3)")
    ax.set_title(title)
    if np.issubdtype(np.asarray(time).dtype, np.datetime64):
        import matplotlib.dates as mdates

        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    if precip is not None and np.isfinite(precip).any():
        rain = ax.twinx()
        rain.bar(time, np.nan_to_num(precip), color="tab:blue", alpha=0.35)
        rain.set_ylabel("precipitation (mm/day)")
        rain.invert_yaxis()
    if legend_outside:  # right of the rain axis, clear of the lines
        ax.legend(loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize="small", borderaxespad=0.0)
    else:
        ax.legend(loc="lower left", fontsize="small", ncol=3)


def _extent(lat: np.ndarray, lon: np.ndarray) -> list[float]:
    """The grid's outer cell edges: west, east, south, north (matplotlib's ``extent``)."""
    from .grid import RES

    h = RES / 2
    return [float(np.min(lon)) - h, float(np.max(lon)) + h, float(np.min(lat)) - h, float(np.max(lat)) + h]


def error_maps(ev, png: str | Path, min_days: int = 3) -> Path:
    """Per-pixel RMSE of every method on its hidden pixels, and the model's RMSE minus the best baseline's.

    ``ev`` is a :class:`~sgdsm_dask.validation.simulated.Evaluation`; pixels
    with fewer than ``min_days`` scored days are left blank.
    """
    per = ev.pixel_rmse(min_days)
    lat, lon = ev.coords["lat"], ev.coords["lon"]
    extent = _extent(lat, lon)
    baselines = [m for m in per if m != "LSTM-CNN"]
    best = min(baselines, key=lambda m: ev.scores[0].rmse[m])
    panels = [(f"{m}: RMSE per pixel", per[m], "magma_r", 0.0, None) for m in per]
    diff = per["LSTM-CNN"] - per[best]
    lim = float(np.nanpercentile(np.abs(diff), 95)) if np.isfinite(diff).any() else 0.1
    panels.append((f"LSTM-CNN minus {best}\n(blue: model better)", diff, "RdBu_r", -lim, lim))
    top = max(float(np.nanpercentile(per["LSTM-CNN"], 98)), 1e-3) if np.isfinite(per["LSTM-CNN"]).any() else 0.1
    cols = 3
    rows = -(-len(panels) // cols)
    aspect = (extent[3] - extent[2]) / max(extent[1] - extent[0], 1e-6)
    fig = _figure(figsize=(5 * cols, max(2.5, 5 * aspect) * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (title, values, cmap, lo, hi) in zip(axes.flat, panels, strict=False):
        im = ax.imshow(values, extent=extent, cmap=cmap, vmin=lo, vmax=top if hi is None else hi)
        ax.set_facecolor("0.85")
        ax.set_title(title, fontsize="medium")
        fig.colorbar(im, ax=ax, label="m3/m3", shrink=0.8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"errors on hidden observed pixels (at least {min_days} scored days per pixel)")
    return _save(fig, png, dpi=72)


_STYLES = {
    "LSTM-CNN": {"color": "tab:green", "lw": 2},
    "linear in time": {"color": "tab:orange", "ls": ":"},
    "climatology": {"color": "tab:purple", "ls": "--"},
    "DCT-PLS": {"color": "tab:brown", "ls": "-."},
    "climatology + neighbour anomaly": {"color": "tab:blue", "ls": "--"},
}


def evaluation_series(ev, png: str | Path, k: int = 3) -> Path:
    """Time series at the ``k`` pixels with the most hidden days: what each method made of the hidden observations."""
    pixels = ev.series_pixels(k)
    if not pixels:
        raise ValueError("no hidden pixel was scored: nothing to plot")
    fig = _figure(figsize=(13, 3.4 * len(pixels)))
    axes = fig.subplots(len(pixels), 1, squeeze=False)
    time = ev.coords.get("time", np.arange(ev.sm.shape[0]))
    lat, lon = ev.coords.get("lat"), ev.coords.get("lon")
    for ax, (i, j) in zip(axes[:, 0], pixels, strict=True):
        lines = {m: (e[:, i, j], _STYLES.get(m, {})) for m, e in ev.estimates.items()}
        if ev.truth is not None:
            lines["truth"] = (ev.truth[:, i, j], {"color": "0.5", "lw": 1})
        where = f"{float(lat[i]):.3f} N, {float(lon[j]):.3f} E" if lat is not None else f"row {i}, column {j}"
        draw_series(
            ax,
            time,
            ev.sm_in[:, i, j],
            lines,
            None if ev.precip is None else ev.precip[:, i, j],
            f"pixel {where}: {int(ev.scored[:, i, j].sum())} hidden days scored",
            hidden=np.where(ev.scored[:, i, j], ev.sm[:, i, j], np.nan),
        )
    return _save(fig, png, dpi=100)


def product_series(staged: str, result: str, lon: float, lat: float, png: str | Path) -> Path:
    """Observed, reconstructed and precipitation over time at the pixel nearest (``lon``, ``lat``) (Fig. 9-11)."""
    from .errors import InputError

    st = xr.open_zarr(staged, consolidated=False)
    rs = xr.open_zarr(result, consolidated=False)
    for name, ds in ((staged, st), (result, rs)):
        west, east, south, north = _extent(ds.lat.values, ds.lon.values)
        if not (west <= lon <= east and south <= lat <= north):
            raise InputError(name, f"the point {lon:.3f} E, {lat:.3f} N is outside its grid")
    at = st.sel(lon=lon, lat=lat, method="nearest")
    res = rs.sel(lon=float(at.lon), lat=float(at.lat), time=at.time)
    if not bool(at["land"]):
        raise InputError(staged, f"the pixel {float(at.lat):.3f} N, {float(at.lon):.3f} E is not land")
    flag = res["flag"].values
    filled = np.where(reconstructed(flag), res["sm"].values, np.nan)
    fig = _figure(figsize=(13, 4))
    ax = fig.subplots()
    draw_series(
        ax,
        at["time"].values,
        at["sm"].values,
        {
            "SGD-SM 2.0 series": (res["sm"].values, {"color": "tab:green"}),
            "reconstructed days": (filled, {"color": "tab:green", "marker": "s", "ls": "none", "ms": 4}),
        },
        at["precip"].values,
        f"pixel {float(at.lat):.3f} N, {float(at.lon):.3f} E: {int(reconstructed(flag).sum())} of {flag.size} days reconstructed",
    )
    return _save(fig, png, dpi=110)
