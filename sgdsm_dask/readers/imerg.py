"""GPM IMERG Final precipitation (GPM_3IMERGDF V06/V07), regridded to 0.25 deg.

Daily files store ``precipitation`` (V07) or ``precipitationCal`` (V06) in
mm/day as (time, lon, lat) at 0.1 deg, latitude south first. Half-hourly
files keep the same names inside the HDF5 group ``Grid`` in mm/hr; their rate
is returned as the equivalent mm/day. The regrid is conservative: each
0.25 deg cell is the area-weighted mean of the 0.1 deg cells it overlaps.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import PurePosixPath

import numpy as np

from ..errors import InputError
from ..grid import Region
from ..regrid import ConservativeRegridder, regular_edges
from .ncfile import find_var, open_nc, read_raw, variable_names

SHORT_NAME = "GPM_3IMERGDF"
VARIABLES = ("precipitation", "precipitationCal")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")


def parse_imerg_name(path: str) -> dt.date | None:
    """Date of an IMERG file from its name (``3B-DAY.MS.MRG.3IMERG.20230601-S000000-...``)."""
    name = PurePosixPath(str(path)).name
    if "IMERG" not in name.upper():
        return None
    for m in _DATE.finditer(name):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
    return None


@lru_cache(maxsize=16)
def _regridder(lat_key: tuple, lon_key: tuple, region: Region) -> ConservativeRegridder:
    lat_c = np.linspace(lat_key[0], lat_key[1], lat_key[2])
    lon_c = np.linspace(lon_key[0], lon_key[1], lon_key[2])
    return ConservativeRegridder(regular_edges(lat_c), regular_edges(lon_c), region.lat_edges(), region.lon_edges())


def _axis_key(path: str, name: str, values: np.ndarray) -> tuple[float, float, int]:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise InputError(path, f"{name} axis must be 1-D with at least two cells")
    steps = np.diff(v)
    if not np.allclose(steps, steps[0], atol=1e-4) or abs(abs(steps[0]) - 0.1) > 1e-3:
        raise InputError(path, f"wrong grid: {name} step {abs(float(steps[0])):g} deg; expected the IMERG 0.1 deg grid")
    return (round(float(v[0]), 4), round(float(v[-1]), 4), int(v.size))


def read_imerg_day(path: str, region: Region | None = None) -> np.ndarray:
    """One day of IMERG precipitation in mm/day on ``region`` (float32, NaN where not covered).

    Raises
    ------
    InputError
        No precipitation variable, a grid other than 0.1 deg, unknown units,
        or negative or infinite precipitation.
    """
    region = region or Region()
    with open_nc(path) as ds:
        found = find_var(ds, VARIABLES, groups=("", "Grid"))
        if found is None:
            have = ", ".join(variable_names(ds)) or "none"
            raise InputError(
                path, f"missing variable 'precipitation' (V07) or 'precipitationCal' (V06) (the file has: {have})"
            )
        var, name, group = found
        for axis in ("lat", "lon"):
            if axis not in group.variables:
                raise InputError(path, f"missing coordinate variable {axis!r}")
        lat = read_raw(path, group.variables["lat"]).values
        lon = read_raw(path, group.variables["lon"]).values
        raw = read_raw(path, var)

    dims = raw.dims
    if "lat" not in dims or "lon" not in dims:
        raise InputError(path, f"{name} has dimensions {dims}; expected (time, lon, lat)")
    data = raw.values
    if "time" in dims:
        if data.shape[dims.index("time")] != 1:
            raise InputError(path, f"{name} holds {data.shape[dims.index('time')]} time steps; expected one day")
        data = np.take(data, 0, axis=dims.index("time"))
        dims = tuple(d for d in dims if d != "time")
    if dims == ("lon", "lat"):
        data = data.T
    data = data.astype(np.float32)
    fill = raw.attrs.get("_FillValue", raw.attrs.get("CodeMissingValue", -9999.9))
    fill = np.float32(float(fill))
    missing = np.isclose(data, fill)
    if "scale_factor" in raw.attrs or "add_offset" in raw.attrs:
        data = data * np.float32(raw.attrs.get("scale_factor", 1.0)) + np.float32(raw.attrs.get("add_offset", 0.0))
    data[missing] = np.nan
    finite = np.isfinite(data)
    if np.any(~finite & ~missing):
        raise InputError(path, f"{name} holds infinite or NaN values that are not the fill value")
    neg = np.count_nonzero(data[finite] < 0)
    if neg:
        raise InputError(path, f"{name} has {neg} negative precipitation values")

    units = str(raw.attrs.get("units", raw.attrs.get("Units", ""))).strip().lower().replace(" ", "")
    if units in ("mm/day", "mmday-1", "mm/d", "mmd-1"):
        factor = 1.0
    elif units in ("mm/hr", "mm/h", "mmh-1", "mmhr-1"):
        factor = 24.0  # a half-hourly rate, as the equivalent daily amount
    else:
        raise InputError(path, f"{name} has units {units!r}; expected mm/day (daily) or mm/hr (half-hourly)")
    if factor != 1.0:
        data *= np.float32(factor)

    regrid = _regridder(_axis_key(path, "lat", lat), _axis_key(path, "lon", lon), region)
    mean, _coverage = regrid(data)
    return mean
