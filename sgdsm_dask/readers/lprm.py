"""LPRM Level-3 daily 0.25 deg soil moisture (AMSR-E, WindSat, AMSR2) from GES DISC.

The real files store each variable as (Longitude, Latitude), latitude north
first, int16 with ``_FillValue`` -32767, soil moisture in percent. One day
becomes a float32 (lat, lon) array in m3/m3 with NaN for no retrieval.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from ..errors import InputError
from ..grid import LAT, LON, Region
from .axes import axis_problem, west_east
from .ncfile import open_nc, read_raw
from .units import check_no_inf, check_sm, sm_divisor

#: Sensor spelling in GES DISC file names -> our sensor names.
SENSOR_ALIASES = {
    "AMSR2": "AMSR2",
    "AMSR_E": "AMSR-E",
    "AMSRE": "AMSR-E",
    "WSAT": "WindSat",
    "WINDSAT": "WindSat",
}

#: The GES DISC short names, by sensor (used by ``sgdsm download``).
SHORT_NAMES = {
    "AMSR-E": "LPRM_AMSRE_D_SOILM3",
    "WindSat": "LPRM_WSAT_D_SOILM3",
    "AMSR2": "LPRM_AMSR2_D_SOILM3",
}

_NAME = re.compile(
    r"^LPRM-(?P<sensor>[A-Z0-9_]+?)_L3_(?P<pass>[AD])_SOILM3_V(?P<version>\d{3})_"
    r"(?P<date>\d{8})(?P<time>\d{6})?\.nc4?$"
)


@dataclass(frozen=True)
class LprmName:
    """What a GES DISC LPRM file name says."""

    path: str
    sensor: str
    date: dt.date
    orbit_pass: str  # "D" descending (night) or "A" ascending
    version: str


def parse_lprm_name(path: str) -> LprmName | None:
    """Sensor, pass and date from an LPRM L3 file name, or ``None`` if it is not one."""
    name = PurePosixPath(str(path)).name
    m = _NAME.match(name)
    if m is None:
        return None
    sensor = SENSOR_ALIASES.get(m["sensor"].upper())
    if sensor is None:
        return None
    try:
        date = dt.datetime.strptime(m["date"], "%Y%m%d").date()
    except ValueError:
        return None
    return LprmName(path=str(path), sensor=sensor, date=date, orbit_pass=m["pass"], version=m["version"])


def read_lprm_day(path: str, region: Region | None = None, band: str = "c1") -> np.ndarray:
    """One LPRM L3 day as float32 m3/m3 on ``region`` (NaN where not retrieved).

    Parameters
    ----------
    path
        The daily file (local path or fsspec URL).
    region
        Part of the 0.25 deg grid to return; the whole grid by default.
    band
        ``c1`` (6.9 GHz, the paper's choice), ``c2`` (7.3 GHz) or ``x`` (10.7 GHz).

    Raises
    ------
    InputError
        A missing variable, a grid other than 0.25 deg global (said exactly:
        which axis, its size, order, step or offset), units that are not
        volumetric soil moisture or that the values contradict, infinite
        values or values outside 0..1 m3/m3, or a day with no valid pixel.
        Longitudes east first or on 0..360 are read where they say.
    """
    region = region or Region()
    var = f"soil_moisture_{band}"
    with open_nc(path) as ds:
        for needed in ("Latitude", "Longitude", var):
            if needed not in ds.variables:
                have = ", ".join(sorted(ds.variables)) or "none"
                raise InputError(path, f"missing variable {needed!r} (the file has: {have})")
        lat = read_raw(path, ds.variables["Latitude"]).values.astype(np.float64)
        lon = read_raw(path, ds.variables["Longitude"]).values.astype(np.float64)
        raw = read_raw(path, ds.variables[var])

    if lat.ndim != 1 or lon.ndim != 1:
        raise InputError(path, "Latitude and Longitude must be 1-D axes")
    if set(raw.dims) != {"Latitude", "Longitude"}:
        raise InputError(path, f"{var} has dimensions {raw.dims}; expected (Longitude, Latitude)")
    data = raw.values if raw.dims == ("Latitude", "Longitude") else raw.values.T
    if lat.size > 1 and lat[0] < lat[-1]:
        lat = lat[::-1]
        data = data[::-1, :]
    lon, data = west_east(lon, data, axis=1)
    problem = axis_problem("Latitude", lat, LAT) or axis_problem("Longitude", lon, LON)
    if problem:
        raise InputError(path, f"wrong grid: {problem} (the global 0.25 deg grid is {LAT.size} x {LON.size})")

    fill = raw.attrs.get("_FillValue", -32767)
    invalid = data == fill
    if "missing_value" in raw.attrs:
        invalid |= data == raw.attrs["missing_value"]
    scale = np.float32(raw.attrs.get("scale_factor", 1.0))
    offset = np.float32(raw.attrs.get("add_offset", 0.0))
    values = data.astype(np.float32) * scale + offset
    values[invalid] = np.nan
    check_no_inf(path, var, values)
    if not np.isfinite(values).any():
        raise InputError(path, f"{var} is _FillValue everywhere: an empty day")
    units = str(raw.attrs.get("units", ""))
    values = check_sm(path, var, units, values, sm_divisor(path, var, units))
    return np.ascontiguousarray(values[region.slices])
