"""Write a synthetic archive: LPRM and IMERG daily files plus the gap-free truth.

Layout of ``OUT_DIR``::

    lprm/YYYY/LPRM-AMSR2_L3_D_SOILM3_V001_YYYYMMDDhhmmss.nc4
    imerg/YYYY/MM/3B-DAY.MS.MRG.3IMERG.YYYYMMDD-S000000-E235959.V07B.nc4
    truth.zarr      sm (truth), precip (0.25 deg), gap_cause, land

Rain days are independent given the seed, so rain and IMERG files are made
in parallel on the cluster; the soil water balance is sequential but cheap
and runs on the client; the LPRM files (retrieval of the truth through the
day's gaps) are again written in parallel.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__, cf
from ..config import SensorTimeline
from ..errors import ConfigError, InputError
from ..grid import LAT, Region
from ..io import outputs, zarr_store
from ..paths import absolute
from ..readers.landmask import land_mask
from ..readers.regrid import ConservativeRegridder, regular_edges
from ..runner import submit
from . import physics
from .writers import write_imerg_day, write_lprm_day


@dataclass(frozen=True)
class SynthRequest:
    """What ``sgdsm synth`` makes."""

    out_dir: str
    start: dt.date
    days: int
    region: Region = field(default_factory=Region)
    seed: int = 0
    imerg_version: int = 7
    days_per_task: int = 4
    missing_days: tuple[dt.date, ...] = ()  # left out of the LPRM archive, as real outages are

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


def _half_box(region: Region) -> tuple[slice, slice]:
    """0.5 deg blocks covering ``region`` (the IMERG files cover this box)."""
    return (
        slice(region.row0 // 2, -(-region.row1 // 2)),
        slice(region.col0 // 2, -(-region.col1 // 2)),
    )


def _fine_axes(region: Region) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = _half_box(region)
    north = 90.0 - 0.5 * rows.start
    west = -180.0 + 0.5 * cols.start
    nlat = 5 * (rows.stop - rows.start)
    nlon = 5 * (cols.stop - cols.start)
    lat = np.round(north - 0.05 - 0.1 * np.arange(nlat), 4)
    lon = np.round(west + 0.05 + 0.1 * np.arange(nlon), 4)
    return lat, lon


def rain_task(req: SynthRequest, dates: list[dt.date]) -> np.ndarray:
    """Make and write the IMERG files of ``dates``; return their rain on the 0.25 deg region."""
    statics = physics.static_fields(req.seed)
    rows, cols = _half_box(req.region)
    lat, lon = _fine_axes(req.region)
    regrid = ConservativeRegridder(
        regular_edges(lat), regular_edges(lon), req.region.lat_edges(), req.region.lon_edges()
    )
    out = np.empty((len(dates), *req.region.shape), dtype=np.float32)
    for i, day in enumerate(dates):
        fine = physics.rain_fine(req.seed, day, statics, rows, cols)
        write_imerg_day(Path(req.out_dir) / "imerg" / f"{day:%Y}" / f"{day:%m}", day, lat, lon, fine, req.imerg_version)
        out[i], _ = regrid(fine)
    return out


def lprm_task(req: SynthRequest, i0: int, dates: list[dt.date], sensors: list[str]) -> np.ndarray:
    """Retrieve the truth through each day's gaps and write the LPRM files; return the gap causes.

    The truth of these days is already in ``truth.zarr``: reading it here
    keeps large arrays out of the task graph.
    """
    theta = zarr_store.read_array(str(Path(req.out_dir) / "truth.zarr"), "sm", (slice(i0, i0 + len(dates)),))
    temps = [physics.night_temperature(day, LAT, req.seed)[req.region.slices] for day in dates]
    statics = physics.static_fields(req.seed)
    land = land_mask(req.region)
    veg = statics.vegetation[req.region.slices]
    causes = np.empty((len(dates), *req.region.shape), dtype=np.int8)
    for i, day in enumerate(dates):
        sm, cause, over = physics.observe(day, req.region, sensors[i], theta[i], land, temps[i], veg, req.seed)
        causes[i] = cause
        if day in req.missing_days:
            continue
        write_lprm_day(
            Path(req.out_dir) / "lprm" / f"{day:%Y}",
            sensors[i],
            day,
            req.region,
            sm * 100.0,
            temps[i],
            veg,
            cause,
            over.scantime,
        )
    return causes


def _truth_template(req: SynthRequest, chunk: int) -> xr.Dataset:
    nt = req.days
    ny, nx = req.region.shape
    shape = (nt, ny, nx)
    chunks = (chunk, ny, nx)
    coords = {
        "time": pd.date_range(req.start, periods=nt, freq="D").values,
        "lat": ("lat", req.region.lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", req.region.lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    ds = xr.Dataset(
        {
            "sm": (
                ("time", "lat", "lon"),
                zarr_store.lazy(shape, chunks, np.float32, np.nan),
                {"units": "m3 m-3", "long_name": "true surface soil moisture (gap-free)"},
            ),
            "precip": (
                ("time", "lat", "lon"),
                zarr_store.lazy(shape, chunks, np.float32, np.nan),
                {"units": "mm day-1", "long_name": "precipitation regridded to 0.25 deg"},
            ),
            "gap_cause": (
                ("time", "lat", "lon"),
                zarr_store.lazy(shape, chunks, np.int8, 0),
                {"flag_values": np.arange(6, dtype=np.int8), "flag_meanings": physics.GAP_MEANINGS},
            ),
            "land": (("lat", "lon"), land_mask(req.region)),
        },
        coords=coords,
        attrs={
            "title": "sgdsm-dask synthetic archive: truth",
            "Conventions": "CF-1.8",
            "source": f"sgdsm-dask {__version__} synthetic generator",
            "synth_request": json.dumps(_request_json(req)),
            "synth_fingerprint": _fingerprint(req),
        },
    )
    ds["time"].encoding.update(cf.TIME_ENCODING)
    for name in ("sm", "precip", "gap_cause"):
        ds[name].encoding["chunks"] = chunks
    return ds


def _fingerprint(req: SynthRequest) -> str:
    """The archive's identity: another request's files must never be mixed into its folder."""
    return outputs.fingerprint(_request_json(req))


def _claim_folder(req: SynthRequest) -> Path:
    """The archive's folder, if it is absent, empty or this request's archive; one line otherwise."""
    out = Path(absolute(req.out_dir))
    truth = str(out / "truth.zarr")
    if outputs.entries(str(out)) and not outputs.entries(truth):
        raise InputError(
            str(out), "exists and is not a synthetic archive of sgdsm; nothing in it was touched: choose another folder"
        )
    if outputs.claim(truth, "truth", _fingerprint(req)) == "other":
        raise InputError(
            str(out),
            "holds the synthetic archive of another request (dates, region, seed or missing days); "
            "its files would be mixed with the new ones: choose another folder",
        )
    return out


def _request_json(req: SynthRequest) -> dict[str, Any]:
    d = asdict(req)
    d["start"] = req.start.isoformat()
    d["region"] = req.region.to_text()
    d["missing_days"] = [x.isoformat() for x in req.missing_days]
    return d


def _spin_up(bucket: physics.Bucket, req: SynthRequest, statics: physics.StaticFields) -> physics.SoilState:
    """Sixty days of climatological rain so day one starts near equilibrium."""
    state = bucket.initial()
    lat = req.region.lat
    wet = statics.wetness[req.region.slices]
    for k in range(60, 0, -1):
        day = req.start - dt.timedelta(days=k)
        temp = physics.night_temperature(day, LAT, req.seed)[req.region.slices]
        rain = physics.mean_rain(day, lat)[:, None] * wet
        state = bucket.step(state, rain, temp)
    return state


def _batches(dates: list[dt.date], size: int) -> Iterator[tuple[int, list[dt.date]]]:
    for i in range(0, len(dates), size):
        yield i, dates[i : i + size]


def write_archive(
    req: SynthRequest,
    client: Any | None = None,
    timeline: SensorTimeline | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the archive described by ``req``; returns the output folder.

    Parameters
    ----------
    client
        A ``distributed.Client``; without one everything runs in this process.
    progress
        Called with the number of days finished after each batch.
    """
    timeline = timeline or SensorTimeline()
    dates = req.dates()
    sensors = []
    for d in dates:
        s = timeline.sensor_on(d)
        if s is None:
            raise ConfigError(f"no sensor in the timeline covers {d}; LPRM soil moisture starts 2002-06-19")
        sensors.append(s)
    if req.region.shape[0] < 1 or req.days < 1:
        raise ConfigError("synth needs at least one day and one cell")
    out = _claim_folder(req)
    out.mkdir(parents=True, exist_ok=True)
    truth = str(out / "truth.zarr")
    zarr_store.write_template(truth, _truth_template(req, req.days_per_task), "truth")

    statics = physics.static_fields(req.seed)
    bucket = physics.Bucket(statics, req.region)
    land = land_mask(req.region)
    state = _spin_up(bucket, req, statics)
    batches = list(_batches(dates, req.days_per_task))

    window = 2 * (len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else 1) + 1
    rain_q: deque = deque()
    lprm_q: deque = deque()
    next_rain = 0
    for i0, batch in batches:
        while next_rain < len(batches) and len(rain_q) < window:
            rain_q.append(submit(client, rain_task, req, batches[next_rain][1]))
            next_rain += 1
        rain = rain_q.popleft().result()
        thetas = np.empty_like(rain)
        temps = np.empty_like(rain)
        for j, day in enumerate(batch):
            temps[j] = physics.night_temperature(day, LAT, req.seed)[req.region.slices]
            state = bucket.step(state, rain[j], temps[j])
            thetas[j] = np.where(land, state.theta, np.nan)
        zarr_store.write_region(truth, {"sm": thetas, "precip": rain}, i0)
        lprm_q.append((i0, len(batch), submit(client, lprm_task, req, i0, batch, sensors[i0 : i0 + len(batch)])))
        while len(lprm_q) > window or (lprm_q and i0 == batches[-1][0]):
            j0, n, fut = lprm_q.popleft()
            zarr_store.write_region(truth, {"gap_cause": fut.result()}, j0)
            if progress:
                progress(n)
    return out
