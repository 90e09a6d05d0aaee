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
from .axes import west_east
from .ncfile import find_var, open_nc, read_raw, variable_names
from .regrid import ConservativeRegridder, regular_edges
from .units import check_precip, precip_factor

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


def _check_covers(path: str, lat_key: tuple, lon_key: tuple, region: Region) -> None:
    """Refuse a file that holds none of ``region``: its rain would be all NaN, as if the day had none measured.

    A file that covers part of the region (an OPeNDAP subset) is read: cells
    it does not reach are NaN, rain unavailable there (never zero), and the
    model takes them as such.
    """
    half = 0.05  # half an IMERG cell
    south, north = sorted((lat_key[0], lat_key[1]))
    west, east = sorted((lon_key[0], lon_key[1]))
    south, north, west, east = south - half, north + half, west - half, east + half
    w, s, e, n = region.bounds
    if west < e and w < east and south < n and s < north:
        return
    raise InputError(
        path,
        f"covers {west:g},{south:g},{east:g},{north:g} (W,S,E,N) but none of the region {region.to_text()}: "
        "it holds no rain for any of it",
    )


def read_imerg_day(path: str, region: Region | None = None) -> np.ndarray:
    """One day of IMERG precipitation in mm/day on ``region`` (float32, NaN where not covered).

    Raises
    ------
    InputError
        No precipitation variable, a grid other than 0.1 deg, unknown units,
        precipitation that is infinite, negative or above the world's greatest
        24-hour rainfall (:data:`~sgdsm_dask.readers.units.MAX_DAILY_MM`), or a
        file that covers none of ``region``. NaN is no value, like the fill
        value; longitudes on 0..360 are read where they say.
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
    units = raw.attrs.get("units", raw.attrs.get("Units"))
    data *= np.float32(precip_factor(path, name, None if units is None else str(units), amounts=False))
    # a half-hourly file (group Grid) holds a rate over half an hour; a daily file, the day's mean
    data = check_precip(path, name, data, period_hours=0.5 if group is not ds else 24.0)

    lon, data = west_east(lon, data, axis=1)
    lat_key, lon_key = _axis_key(path, "lat", lat), _axis_key(path, "lon", lon)
    _check_covers(path, lat_key, lon_key, region)
    regrid = _regridder(lat_key, lon_key, region)
    mean, _coverage = regrid(data)
    return mean
