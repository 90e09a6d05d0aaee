"""Write synthetic days in the exact file layouts of the real products.

LPRM L3 daily: NETCDF4_CLASSIC, variables (Longitude, Latitude), int16 in
percent with ``_FillValue`` -32767, plus ``*_error``, ``opt_depth_*``, ``ts``,
``mask``, ``frequency_map`` and ``scantime``, named
``LPRM-AMSR2_L3_D_SOILM3_V001_YYYYMMDDhhmmss.nc4`` (AMSR_E / WSAT for the
other sensors). IMERG Final daily: (time, lon, lat) float32 mm/day with
``_FillValue`` -9999.9, ``precipitation`` (V07) or ``precipitationCal`` (V06),
named ``3B-DAY.MS.MRG.3IMERG.YYYYMMDD-S000000-E235959.V07B.nc4``.

Files are written under a temporary name and renamed, so an interrupted
``sgdsm synth`` never leaves a half-written file under a real name.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from ..grid import LAT, LON, NLAT, NLON, Region

LPRM_FILL = np.int16(-32767)
IMERG_FILL = np.float32(-9999.9)
_FILE_SENSOR = {"AMSR2": ("AMSR2", "001"), "AMSR-E": ("AMSR_E", "002"), "WindSat": ("WSAT", "001")}


def lprm_name(sensor: str, day: dt.date, first_scan_s: float) -> str:
    code, version = _FILE_SENSOR[sensor]
    hms = dt.timedelta(seconds=int(first_scan_s) % 86400)
    stamp = (dt.datetime.combine(day, dt.time()) + hms).strftime("%Y%m%d%H%M%S")
    return f"LPRM-{code}_L3_D_SOILM3_V{version}_{stamp}.nc4"


def imerg_name(day: dt.date, version: int) -> str:
    tag = "V07B" if version == 7 else "V06"
    return f"3B-DAY.MS.MRG.3IMERG.{day:%Y%m%d}-S000000-E235959.{tag}.nc4"


def _atomic(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _to_int16(values: np.ndarray, scale: float) -> np.ndarray:
    out = np.full(values.shape, LPRM_FILL, dtype=np.int16)
    ok = np.isfinite(values)
    out[ok] = np.round(values[ok] / scale).astype(np.int16)
    return out


#: The int16 variables of an LPRM day, in the product's order: name, which field, scale factor, long_name, units.
_LPRM_INT16 = (
    ("ts", "ts", 0.1, "Skin Temperature (2mm)", "Kelvin"),
    ("soil_moisture_c1", "sm", 1.0, "Volumetric Soil Moisture from 6.9 GHZ", "percent"),
    ("opt_depth_c1", "vod", 0.01, "Optical Depth from 6.9 GHz", None),
    ("soil_moisture_c2", "sm", 1.0, "Volumetric Soil Moisture from 7.3 GHz", "percent"),
    ("opt_depth_c2", "vod", 0.01, "Optical Depth from 7.3 GHz", None),
    ("soil_moisture_x", "sm", 1.0, "Volumetric Soil Moisture from 10.7 GHz", "percent"),
    ("opt_depth_x", "vod", 0.01, "Optical Depth from 10.7 GHz", None),
    ("soil_moisture_c1_error", "err", 0.01, "Uncertainty of Soil Moisture in 6.9 GHz", "percent"),
    ("soil_moisture_c2_error", "err", 0.01, "Uncertainty of Soil Moisture in 7.3 GHz", "percent"),
    ("soil_moisture_x_error", "err", 0.01, "Uncertainty of Soil Moisture in 10.7 GHz", "percent"),
)


def _write_lprm_axes(ds) -> None:
    """The Latitude and Longitude variables of an LPRM file, as the product writes them."""
    for name, values, std in (("Latitude", LAT, "Lat"), ("Longitude", LON, "Lon")):
        v = ds.createVariable(name, "f4", (name,), zlib=True, complevel=2)
        v.units = "degrees_north" if name == "Latitude" else "degrees_east"
        v.scale_factor = np.float32(1.0)
        v.add_offset = np.float32(0.0)
        v.long_name = name
        v._CoordinateAxisType = std
        v.set_auto_maskandscale(False)
        v[:] = values.astype(np.float32)


def write_lprm_day(
    folder: str | os.PathLike,
    sensor: str,
    day: dt.date,
    region: Region,
    sm_percent: np.ndarray,
    temperature: np.ndarray,
    vegetation: np.ndarray,
    cause: np.ndarray,
    scantime: np.ndarray,
) -> Path:
    """One global LPRM file; cells outside ``region`` are fill, as if never observed."""
    import netCDF4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seen = np.isfinite(sm_percent)
    first = float(scantime[seen].min() % 86400) if seen.any() else 0.0
    path = folder / lprm_name(sensor, day, first)
    tmp = _atomic(path)

    def global_grid(block: np.ndarray, fill: float) -> np.ndarray:
        full = np.full((NLAT, NLON), fill, dtype=np.float64)
        full[region.slices] = block
        return full.T  # stored (Longitude, Latitude)

    with netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        ds.Conventions = "CF-1.0"
        ds.createDimension("Longitude", NLON)
        ds.createDimension("Latitude", NLAT)
        _write_lprm_axes(ds)
        dims = ("Longitude", "Latitude")
        obs = np.where(seen, sm_percent, np.nan)
        observed_area = (cause == 0) | seen
        ts = np.where(observed_area | (cause == 2), temperature, np.nan)
        vod = np.where(seen | (cause == 3), vegetation, np.nan)
        err = np.where(seen, 2.5 + 0.02 * np.nan_to_num(sm_percent), np.nan)
        mask = np.where(cause == 2, 2, 0) + np.where(cause == 3, 4, 0) + np.where(cause == 4, 8, 0)
        fields = {"ts": ts, "sm": obs, "vod": vod, "err": err}
        for name, key, scale, long_name, units in _LPRM_INT16:
            v = ds.createVariable(name, "i2", dims, zlib=True, complevel=2, fill_value=LPRM_FILL)
            v.long_name = long_name
            if units:
                v.units = units
            v.coordinates = "Longitude Latitude"
            v.scale_factor = np.float32(scale)
            v.add_offset = np.float32(0.0)
            v.set_auto_maskandscale(False)
            v[:] = global_grid(_to_int16(fields[key], scale), LPRM_FILL).astype(np.int16)
        v = ds.createVariable("mask", "i2", dims, zlib=True, complevel=2)
        v.long_name = "Bit Mask"
        v.coordinates = "Longitude Latitude"
        v[:] = global_grid(mask, 0).astype(np.int16)
        v = ds.createVariable("frequency_map", "i2", dims, zlib=True, complevel=2, fill_value=np.int16(-1))
        v.long_name = "Frequency map"
        v.units = "GHz"
        v.coordinates = "Longitude Latitude"
        v.scale_factor = np.float32(0.1)
        v.add_offset = np.float32(0.0)
        v.set_auto_maskandscale(False)
        v[:] = global_grid(np.where(seen, 69, -1), -1).astype(np.int16)
        v = ds.createVariable("scantime", "f8", dims, zlib=True, complevel=2, fill_value=0.0, chunksizes=(720, 360))
        v.long_name = "Scan time"
        v.units = "seconds since 1993-01-01 00:00:00"
        v.coordinates = "Longitude Latitude"
        v.set_auto_maskandscale(False)
        v[:] = global_grid(np.where(seen, scantime, 0.0), 0.0)
    os.replace(tmp, path)
    return path


def write_imerg_day(
    folder: str | os.PathLike,
    day: dt.date,
    lat: np.ndarray,
    lon: np.ndarray,
    rain: np.ndarray,
    version: int = 7,
) -> Path:
    """One IMERG Final daily file; ``rain`` is (lat, lon) north first at 0.1 deg, mm/day."""
    import netCDF4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / imerg_name(day, version)
    tmp = _atomic(path)
    order = np.argsort(lat)  # IMERG stores latitude south first
    lat_s = lat[order]
    grid = rain[order, :].T[None, :, :]  # (time, lon, lat)
    name = "precipitation" if version == 7 else "precipitationCal"
    days_since = (day - dt.date(1980, 1, 6)).days
    with netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        ds.BeginDate = f"{day:%Y-%m-%d}"
        ds.BeginTime = "00:00:00.000Z"
        ds.EndDate = f"{day:%Y-%m-%d}"
        ds.EndTime = "23:59:59.999Z"
        ds.title = f"GPM IMERG Final Precipitation L3 1 day 0.1 degree x 0.1 degree ({'V07' if version == 7 else 'V06'}) [sgdsm synthetic]"
        ds.FileHeader = (
            f"StartGranuleDateTime={day:%Y-%m-%d}T00:00:00.000Z;\nStopGranuleDateTime={day:%Y-%m-%d}T23:59:59.999Z"
        )
        ds.createDimension("time", 1)
        ds.createDimension("lon", lon.size)
        ds.createDimension("lat", lat.size)
        ds.createDimension("nv", 2)
        v = ds.createVariable(name, "f4", ("time", "lon", "lat"), zlib=True, complevel=4, fill_value=IMERG_FILL)
        v.units = "mm/day"
        v.long_name = "Daily mean precipitation rate (combined microwave-IR) estimate"
        v.coordinates = "time lon lat"
        v[:] = np.where(np.isfinite(grid), grid, IMERG_FILL).astype(np.float32)
        cnt = ds.createVariable("precipitation_cnt", "i2", ("time", "lon", "lat"), zlib=True, complevel=4)
        cnt.units = "count"
        cnt.long_name = "Count of all valid half-hourly precipitation retrievals for the day"
        cnt[:] = np.where(np.isfinite(grid), 48, 0).astype(np.int16)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "days since 1980-01-06 00:00:00Z"
        t.standard_name = "time"
        t.bounds = "time_bnds"
        t[:] = [float(days_since)]
        tb = ds.createVariable("time_bnds", "f8", ("time", "nv"))
        tb.units = "days since 1980-01-06 00:00:00Z"
        tb[:] = [[days_since, days_since + 1]]
        la = ds.createVariable("lat", "f8", ("lat",))
        la.units = "degrees_north"
        la.long_name = "Latitude"
        la[:] = lat_s
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units = "degrees_east"
        lo.long_name = "Longitude"
        lo[:] = lon.astype(np.float32)
    os.replace(tmp, path)
    return path
