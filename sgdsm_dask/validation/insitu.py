"""``sgdsm validate``: a reconstruction against ISMN in-situ stations, like the paper's Table 1 and Fig. 8.

Each station's surface sensor is read with the ``ismn`` package; its
readings flagged good (``G``) are averaged over the two hourly readings
around the descending overpass of the day (AMSR2 and AMSR-E: 01:30 local
solar time; WindSat: 06:00), and compared with the product's 0.25 deg
pixel holding the station. R, RMSE, MAE, ubRMSE, bias and N are reported
per station and on average, separately for observed pixels (flag 0), for
reconstructed pixels (flag 1) and for both.

The output folder may be an object store's prefix (``s3://bucket/val``):
everything is written into a local temporary folder, then each table and
plot is uploaded whole (:class:`~sgdsm_dask.io.files.Folder`); such a
prefix is written only if it is absent, empty or holds only what
``sgdsm validate`` writes (:func:`claim_folder`).
"""

from __future__ import annotations

import csv
import math
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..flags import SUBSETS
from ..grid import RES
from ..io.files import Folder
from . import metrics

#: Nominal local solar time of the descending overpass, hours.
DESCENDING_OVERPASS = {"AMSR-E": 1.5, "AMSR2": 1.5, "WindSat": 6.0}


#: What ``sgdsm validate`` writes into its ``--out`` (ISMN tables, plots and metadata; a reference's tables and maps).
OURS = re.compile(
    r"ismn_validation\.(csv|md)|scatter_[A-Za-z0-9_.-]+\.png|ismn_metadata|store_scores\.(md|json)|scores\.zarr"
)


def claim_folder(out_dir: str) -> Folder:
    """The output folder ``out_dir``, once it may be written; one line naming it otherwise, nothing written.

    A local folder or an object store's prefix is written only if it is
    absent, empty or holds nothing but what ``sgdsm validate`` writes
    (:data:`OURS`: an earlier validation's tables and plots, replaced), the
    rule of every folder sgdsm writes (docs/reliability.md, docs/cloud.md).
    Before, a local folder was written into whatever it held.
    """
    where = Folder(out_dir)
    if not where.remote and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise InputError(out_dir, "is a file; --out names a folder (nothing was written)")
    foreign = [n for n in where.names() if not OURS.fullmatch(n)]
    if foreign:
        raise InputError(
            out_dir,
            f"holds files sgdsm validate did not write ({len(foreign)}, such as {foreign[0]}); nothing was "
            "written: give another --out",
        )
    return where


@dataclass
class StationSeries:
    network: str
    station: str
    lat: float
    lon: float
    depth: tuple[float, float]
    daily: pd.Series  # one value per UTC date of the product's days, NaN where no good reading


def overpass_mean(hourly: pd.Series, lon: float, overpass_hours: float = 1.5) -> pd.Series:
    """Per product day D, the mean of the two hourly readings around D's overpass (UTC index).

    The overpass of day D is at ``overpass_hours`` local solar time, i.e.
    ``D + overpass_hours - lon / 15`` hours UTC; the readings at the full
    hours before and after it are averaged (one alone if the other is
    missing). Returns a Series indexed by day (midnight).
    """
    hourly = hourly.dropna()
    hourly = hourly[~hourly.index.duplicated()]
    if hourly.empty:
        return pd.Series(dtype=float)
    days = pd.date_range(hourly.index.min().floor("D") - pd.Timedelta(days=1), hourly.index.max().ceil("D"))
    at = days + pd.to_timedelta(overpass_hours - lon / 15.0, unit="h")
    before, after = at.floor("h"), at.floor("h") + pd.Timedelta(hours=1)
    a = hourly.reindex(before).to_numpy(np.float64)
    b = hourly.reindex(after).to_numpy(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # days with neither reading: NaN, dropped below
        mean = np.nanmean(np.vstack([a, b]), axis=0)
    return pd.Series(mean, index=days).dropna()


def read_stations(
    archive: str, work_dir: str, max_depth: float = 0.1, overpass_hours: float = 1.5
) -> list[StationSeries]:
    """Every surface soil-moisture sensor (depth starting at 0, ending at most ``max_depth`` m) of an ISMN archive.

    The ``ismn`` package writes its metadata index beside the data unless
    told otherwise; it goes into ``work_dir`` here, so the archive's folder
    is only read.
    """
    try:
        from ismn.interface import ISMN_Interface
    except ImportError:
        raise InputError(archive, "reading ISMN archives needs the 'ismn' package: pip install ismn") from None
    if not Path(archive).exists():
        raise InputError(archive, "no such ISMN archive (a .zip download or its unpacked folder)")
    meta = Path(work_dir) / "ismn_metadata"
    made = [p for p in (Path(work_dir), meta) if not p.exists()]
    meta.mkdir(parents=True, exist_ok=True)
    try:
        ds = ISMN_Interface(archive, meta_path=str(meta), parallel=False)
    except Exception as exc:  # noqa: BLE001 - the package raises many kinds for a bad archive
        for p in reversed(made):  # leave no folder behind for an archive that could not be read
            shutil.rmtree(p, ignore_errors=True)
        raise InputError(archive, f"not an ISMN archive the ismn package can read ({exc})") from None
    out = []
    for net in ds.collection.iter_networks():
        for st in net.iter_stations():
            for sensor in st.iter_sensors(variable="soil_moisture"):
                d0, d1 = float(sensor.depth.start), float(sensor.depth.end)
                if d0 != 0.0 or d1 > max_depth:
                    continue
                data = sensor.read_data()
                good = data["soil_moisture"].where(data["soil_moisture_flag"].astype(str).str.startswith("G"))
                daily = overpass_mean(good, float(st.lon), overpass_hours)
                out.append(StationSeries(net.name, st.name, float(st.lat), float(st.lon), (d0, d1), daily))
    return out


def station_pixel(product: Any, station: StationSeries) -> tuple[int, int] | None:
    """Row and column of the product pixel holding ``station`` (None: outside the product)."""
    lat, lon = product["lat"].values, product["lon"].values
    i, j = int(np.abs(lat - station.lat).argmin()), int(np.abs(lon - station.lon).argmin())
    half = RES / 2 + 1e-9
    if abs(lat[i] - station.lat) > half or abs(lon[j] - station.lon) > half:
        return None
    return i, j


def station_scores(sm: np.ndarray, flag: np.ndarray, times: pd.DatetimeIndex, station: StationSeries) -> dict:
    """Scores per subset of one station against its pixel's series ``sm`` and ``flag``."""
    insitu = station.daily.reindex(times).to_numpy(np.float64)
    out: dict[str, Any] = {
        name: metrics.all_scores(sm, insitu, np.isin(flag, flags)) for name, flags in SUBSETS.items()
    }
    out["_series"] = {"sm": sm, "flag": flag, "insitu": insitu, "time": times}
    return out


def pixel_series(product: Any, pixels: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """``sm`` and ``flag`` (time, pixel) at ``pixels``, one time chunk of the store at a time.

    Each read takes the stations' pixels of one time chunk, so Zarr decodes
    only the chunks that hold a station, a few at a time; no whole
    ``(time, lat, lon)`` array is ever read, however long the record.
    """
    import xarray as xr

    rows = xr.DataArray([i for i, _ in pixels], dims="pixel")
    cols = xr.DataArray([j for _, j in pixels], dims="pixel")
    n = product.sizes["time"]
    enc = product["sm"].encoding
    step = int((enc.get("preferred_chunks") or {}).get("time") or (enc.get("chunks") or (n,))[0] or n)
    sm = np.empty((n, len(pixels)), np.float64)
    flag = np.empty((n, len(pixels)), product["flag"].dtype)
    for t0 in range(0, n, step):
        at = product[["sm", "flag"]].isel(time=slice(t0, t0 + step), lat=rows, lon=cols)
        sm[t0 : t0 + step] = at["sm"].values
        flag[t0 : t0 + step] = at["flag"].values
    return sm, flag


def validate(product_store: str, archive: str, out_dir: str, max_depth: float = 0.1, sensor: str = "AMSR2") -> dict:
    """Score a reconstruction store against an ISMN archive; CSV, Markdown and scatter plots into ``out_dir``.

    ``out_dir``: a folder, or an fsspec URL (:func:`claim_folder`; the files
    are made locally, then uploaded). The summary names the files where they are.
    """
    from ..export import open_result

    try:  # the inputs are checked before anything is written
        product = open_result(product_store)
    except Exception as exc:  # noqa: BLE001
        raise InputError(product_store, f"not a reconstruction store ({exc.__class__.__name__})") from None
    missing = {"sm", "flag"} - set(product.variables)
    if missing:
        raise InputError(product_store, f"missing variable(s) {', '.join(sorted(missing))}")
    where = claim_folder(out_dir)
    if where.remote:  # made here, then uploaded: the ismn package, CSV and matplotlib write local files
        work = Path(tempfile.mkdtemp(prefix="sgdsm-validate-"))
        try:
            summary = _validate(product, product_store, archive, work, max_depth, sensor)
            for key in ("csv", "markdown"):
                summary[key] = _upload(where, Path(summary[key]))
            summary["plots"] = [_upload(where, Path(p)) for p in summary["plots"]]
            return summary
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return _validate(product, product_store, archive, Path(out_dir), max_depth, sensor)


def _upload(where: Folder, local: Path) -> str:
    """The file ``local`` put whole into ``where`` under its own name; its URL."""
    where.write(local.name, lambda tmp: shutil.copyfile(local, tmp))
    return str(where.file(local.name))


def _validate(product: Any, product_store: str, archive: str, out: Path, max_depth: float, sensor: str) -> dict:
    """:func:`validate` into the local folder ``out``."""
    stations = read_stations(archive, str(out), max_depth, DESCENDING_OVERPASS.get(sensor, 1.5))
    rows, skipped, series = [], [], {}
    inside = []
    for st in stations:
        pixel = station_pixel(product, st)
        if pixel is None:
            skipped.append(f"{st.network}/{st.station} ({st.lat:.3f}, {st.lon:.3f}): outside the product")
        else:
            inside.append((st, pixel))
    times = pd.DatetimeIndex(product["time"].values).normalize()
    sm, flag = pixel_series(product, [p for _, p in inside]) if inside else (None, None)
    lat, lon = product["lat"].values, product["lon"].values
    for n, (st, (i, j)) in enumerate(inside):
        sc = station_scores(sm[:, n], flag[:, n], times, st)
        series[f"{st.network}/{st.station}"] = sc["_series"]
        for subset in SUBSETS:
            rows.append(
                {
                    "network": st.network,
                    "station": st.station,
                    "lat": st.lat,
                    "lon": st.lon,
                    "depth_m": f"{st.depth[0]:g}-{st.depth[1]:g}",
                    "pixel_lat": float(lat[i]),
                    "pixel_lon": float(lon[j]),
                    "pixels": subset,
                    **sc[subset],
                }
            )
    if not rows:
        raise InputError(archive, "no surface station of the archive lies inside the product" + _why(stations, skipped))
    csv_path = out / "ismn_validation.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md_path = out / "ismn_validation.md"
    md_path.write_text(markdown(rows, skipped))
    plots = [str(p) for p in scatter_plots(series, out)]
    return {"stations": len(series), "csv": str(csv_path), "markdown": str(md_path), "plots": plots, "skipped": skipped}


def _why(stations: list[StationSeries], skipped: list[str]) -> str:
    if not stations:
        return " (no soil-moisture sensor starting at 0 m within --max-depth)"
    return " (" + "; ".join(skipped) + ")"


def averages(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Mean of each metric over the stations, per subset (stations with no pair left out)."""
    out = {}
    for subset in SUBSETS:
        sel = [r for r in rows if r["pixels"] == subset and r["N"] > 0]
        out[subset] = {
            k: (float(np.nanmean([r[k] for r in sel])) if sel else math.nan)
            for k in ("R", "RMSE", "MAE", "ubRMSE", "bias")
        }
        out[subset]["N"] = sum(r["N"] for r in sel)
        out[subset]["stations"] = len(sel)
    return out


def markdown(rows: list[dict], skipped: list[str]) -> str:
    head = "| station | pixels | R | RMSE | MAE | ubRMSE | bias | N |\n|---|---|---|---|---|---|---|---|"
    lines = ["# ISMN validation", "", head]
    for r in rows:
        lines.append(
            f"| {r['network']}/{r['station']} | {r['pixels']} | {r['R']:.3f} | {r['RMSE']:.3f} | {r['MAE']:.3f} "
            f"| {r['ubRMSE']:.3f} | {r['bias']:+.3f} | {r['N']} |"
        )
    for subset, a in averages(rows).items():
        lines.append(
            f"| **mean of {a['stations']} stations** | {subset} | {a['R']:.3f} | {a['RMSE']:.3f} | {a['MAE']:.3f} "
            f"| {a['ubRMSE']:.3f} | {a['bias']:+.3f} | {a['N']} |"
        )
    lines += [
        "",
        "Metrics in m3/m3 (R unitless); in-situ values are the mean of the two hourly readings",
        "around the descending overpass, readings flagged G only.",
    ]
    if skipped:
        lines += ["", "Left out:", *[f"- {s}" for s in skipped]]
    return "\n".join(lines) + "\n"


def scatter_plots(series: dict[str, dict], out: Path) -> list[Path]:
    """One scatter per station (Fig. 8): product against in situ, observed and reconstructed pixels apart."""
    from matplotlib.figure import Figure  # not pyplot: no display, and a notebook's backend stays as it was

    from ..plots import png_metadata

    paths = []
    for name, s in series.items():
        fig = Figure(figsize=(4.5, 4.5))
        ax = fig.subplots()
        for flag, label, colour in ((0, "observed", "tab:blue"), (1, "reconstructed", "tab:orange")):
            k = (s["flag"] == flag) & np.isfinite(s["sm"]) & np.isfinite(s["insitu"])
            ax.scatter(s["insitu"][k], s["sm"][k], s=9, alpha=0.7, color=colour, label=f"{label} (N={int(k.sum())})")
        ax.plot([0, 0.6], [0, 0.6], color="grey", lw=0.8)
        ax.set(xlim=(0, 0.6), ylim=(0, 0.6), xlabel="in situ (m3/m3)", ylabel="product (m3/m3)", title=name)
        ax.legend(loc="upper left", fontsize=8)
        path = out / f"scatter_{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"  # never a path out of ``out``
        fig.savefig(path, dpi=110, bbox_inches="tight", metadata=png_metadata())
        paths.append(path)
    return paths
