"""Any CF cube holding soil moisture ``sm`` (and optionally ``precip``) on lat/lon.

This covers ESA CCI SM daily files (one file per day; give the folder or a
glob), the real Americas cube in ``data/real/lprm``, and NetCDF or Zarr
cubes users bring. The cube must lie on the 0.25 deg grid (any box of it);
latitude may run either way, longitude on -180..180 or 0..360, and each
variable may name its dimensions its own way (``valid_time``, ``latitude``,
``y``...): the data follow their coordinates and come back north first.

Units are read (:mod:`.units`): soil moisture in m3 m-3 or percent (no units
attribute: m3 m-3, and the values must agree), precipitation as a rate or
as the day's total. A standard, proleptic Gregorian or noleap calendar is
read as dates; in a noleap cube a leap year's 29 February is absent, as any
day a cube lacks. Every problem is an :class:`InputError` naming the cube;
those the metadata or a sample of days show come from :func:`inspect_cube`,
before any store is created.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import InputError
from ..grid import Region, locate
from ..paths import is_url, local_or_url
from .units import check_precip, check_sm, precip_factor, sm_divisor

SM_NAMES = ("sm", "soil_moisture", "SM")
PRECIP_NAMES = ("precip", "precipitation", "precipitationCal", "tp")
TIME_NAMES = ("time", "valid_time", "date")
LAT_NAMES = ("lat", "latitude", "Latitude", "y")
LON_NAMES = ("lon", "longitude", "Longitude", "x")
#: Calendars whose dates are the standard calendar's (noleap and all_leap only lack or add 29 February).
DATE_CALENDARS = ("standard", "gregorian", "proleptic_gregorian", "noleap", "365_day", "all_leap", "366_day")


@dataclass(frozen=True)
class Layout:
    """Where one variable's days and cells lie in the file."""

    name: str
    dims: tuple[str, str, str]  # its time, latitude and longitude dimensions
    rows: tuple[int, ...]  # the file row of each row of the cube's region, north first
    cols: tuple[int, ...]  # the file column of each column, west first
    units: str | None


@dataclass(frozen=True)
class CubeInfo:
    """What a cube holds, as staging needs it."""

    path: str
    times: np.ndarray  # datetime64[D]
    region: Region
    sm: Layout
    precip: Layout | None
    sm_divisor: float  # stored / divisor = m3/m3
    precip_factor: float = 1.0  # stored * factor = mm/day

    @property
    def sm_var(self) -> str:
        return self.sm.name

    @property
    def precip_var(self) -> str | None:
        return None if self.precip is None else self.precip.name


def _expand(path: str) -> list[str] | str:
    path = local_or_url(path)
    if is_url(path) or path.rstrip("/").endswith(".zarr"):
        return path
    if os.path.isdir(path):
        files = sorted(globmod.glob(os.path.join(path, "*.nc")) + globmod.glob(os.path.join(path, "*.nc4")))
        if not files:
            raise InputError(path, "folder holds no .nc or .nc4 files")
        return files
    if any(c in path for c in "*?["):
        files = sorted(globmod.glob(path))
        if not files:
            raise InputError(path, "pattern matches no file")
        return files
    if not os.path.exists(path):
        raise InputError(path, "file not found")
    return path


def _open(path: str) -> xr.Dataset:
    target = _expand(path)
    try:
        if isinstance(target, list):
            # variables without time (cell bounds, as sgdsm's daily files have) are taken once, not stacked
            return xr.open_mfdataset(
                target,
                combine="by_coords",
                chunks={},
                decode_timedelta=False,
                data_vars="minimal",
                coords="minimal",
                compat="no_conflicts",
            )
        if str(target).rstrip("/").endswith(".zarr"):
            return xr.open_zarr(target, chunks={})
        return xr.open_dataset(target, chunks={}, decode_timedelta=False)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(path, f"cannot be opened as a NetCDF or Zarr cube ({exc})") from None


def _pick(ds: xr.Dataset, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that is a data variable of the cube."""
    for n in names:
        if n in ds.data_vars:
            return n
    return None


def _attr(ds: xr.Dataset, name: str, key: str) -> str:
    return str(ds[name].attrs.get(key, "")).strip().lower() if name in ds.variables else ""


def _kind(ds: xr.Dataset, dim: str) -> str | None:
    """``time``, ``lat`` or ``lon`` for a dimension, by its name or its coordinate's CF attributes."""
    if dim in TIME_NAMES or _attr(ds, dim, "standard_name") == "time" or _attr(ds, dim, "axis") == "t":
        return "time"
    if dim in LAT_NAMES or _attr(ds, dim, "standard_name") == "latitude" or _attr(ds, dim, "units") == "degrees_north":
        return "lat"
    if dim in LON_NAMES or _attr(ds, dim, "standard_name") == "longitude" or _attr(ds, dim, "units") == "degrees_east":
        return "lon"
    return None


def _layout(path: str, ds: xr.Dataset, var: str) -> tuple[Layout, Region]:
    """How ``var`` lies on the grid; its dimensions are found by name or CF attributes, its cells by coordinates."""
    dims = tuple(map(str, ds[var].dims))
    kinds = {k: [d for d in dims if _kind(ds, d) == k] for k in ("time", "lat", "lon")}
    if not kinds["lat"] or not kinds["lon"]:
        raise InputError(path, f"{var} has no latitude/longitude coordinates (dims {dims})")
    if not kinds["time"]:
        raise InputError(path, f"{var} has no time dimension (dims {dims})")
    if len(dims) != 3 or any(len(v) != 1 for v in kinds.values()):
        raise InputError(path, f"{var} has dimensions {dims}; expected (time, lat, lon)")
    t, y, x = (kinds[k][0] for k in ("time", "lat", "lon"))
    for d in (y, x):
        if d not in ds.variables:
            raise InputError(
                path,
                f"{var}'s dimension {d!r} has no coordinate values, so where its cells lie is unknown: give it lat/lon",
            )
    lat = np.asarray(ds[y].values, dtype=np.float64)
    lon = np.asarray(ds[x].values, dtype=np.float64)
    if lon.size and np.nanmin(lon) >= 0.0 and np.nanmax(lon) > 180.0:  # a 0..360 axis
        lon = np.where(lon >= 180.0, lon - 360.0, lon)
    rows = np.argsort(-lat, kind="stable")
    cols = np.argsort(lon, kind="stable")
    try:
        region = locate(lat[rows], lon[cols])
    except ValueError as exc:
        raise InputError(path, f"wrong grid: {var}: {exc}") from None
    units = ds[var].attrs.get("units")
    layout = Layout(var, (t, y, x), tuple(map(int, rows)), tuple(map(int, cols)), None if units is None else str(units))
    return layout, region


def _days(path: str, ds: xr.Dataset, dim: str) -> np.ndarray:
    """The dates of a time axis; a calendar whose days are not dates is refused by name."""
    values = ds[dim].values
    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[D]")
    if values.dtype == object and values.size and hasattr(values.flat[0], "calendar"):
        calendar = str(values.flat[0].calendar)
        if calendar not in DATE_CALENDARS:
            raise InputError(
                path,
                f"time axis {dim!r} uses the {calendar!r} calendar, which is not supported: its dates are not "
                "those of the standard calendar; give the cube a standard, proleptic_gregorian or noleap calendar",
            )
        try:
            return np.array([dt.date(v.year, v.month, v.day) for v in values.flat], dtype="datetime64[D]")
        except ValueError:
            bad = next(v for v in values.flat if not _is_date(v))
            raise InputError(
                path,
                f"time axis {dim!r} ({calendar} calendar) holds {bad.year}-{bad.month:02d}-{bad.day:02d}, "
                "which is no date of the standard calendar: not supported",
            ) from None
    units = ds[dim].attrs.get("units") or ds[dim].encoding.get("units")
    if not units:
        raise InputError(path, f"time axis {dim!r} is not decodable as dates (CF units missing?)")
    raise InputError(path, f"time axis {dim!r} has units {units!r}, which are not dates (e.g. 'days since 1970-01-01')")


def _is_date(v) -> bool:
    try:
        dt.date(v.year, v.month, v.day)
    except ValueError:
        return False
    return True


def _precip_layout(path: str, ds: xr.Dataset, var: str, sm: Layout, region: Region, days: np.ndarray) -> Layout:
    """The precipitation's layout, which must cover the same cells and days as the soil moisture."""
    layout, r = _layout(path, ds, var)
    if r != region:
        raise InputError(path, f"{var} covers {r.to_text()} but {sm.name} covers {region.to_text()}: they must match")
    if layout.dims[0] != sm.dims[0]:
        pdays = _days(path, ds, layout.dims[0])
        if not np.array_equal(pdays, days):
            span = f"{pdays[0]}..{pdays[-1]}" if pdays.size else "none"
            raise InputError(
                path, f"{var} holds the days {span} ({pdays.size}) but {sm.name} {days[0]}..{days[-1]} ({days.size})"
            )
    return layout


def inspect_cube(path: str) -> CubeInfo:
    """Check a cube and describe it; raises :class:`InputError` naming the problem.

    Besides the metadata, the first, middle and last days are read and
    checked, so values that contradict their units are refused before any
    store is made; :func:`read_cube_block` checks every day again.
    """
    with _open(path) as ds:
        sm = _pick(ds, SM_NAMES)
        if sm is None:
            raise InputError(path, f"missing variable 'sm' (the cube has: {', '.join(map(str, ds.data_vars))})")
        sm_layout, region = _layout(path, ds, sm)
        days = _days(path, ds, sm_layout.dims[0])
        if np.any(np.diff(days.astype(np.int64)) <= 0):
            dup = days[1:][np.diff(days.astype(np.int64)) <= 0][0]
            raise InputError(path, f"time axis is not strictly increasing by day (duplicate or out of order at {dup})")
        precip = _pick(ds, PRECIP_NAMES)
        p_layout = None if precip is None else _precip_layout(path, ds, precip, sm_layout, region, days)
        factor = 1.0
        if p_layout is not None:
            steps = np.diff(days.astype(np.int64))
            factor = precip_factor(
                path,
                precip,
                p_layout.units,
                cell_methods=str(ds[precip].attrs.get("cell_methods", "")),
                step_days=float(np.median(steps)) if steps.size else 1.0,
            )
        info = CubeInfo(
            path=path,
            times=days,
            region=region,
            sm=sm_layout,
            precip=p_layout,
            sm_divisor=sm_divisor(path, sm, sm_layout.units),
            precip_factor=factor,
        )
        _read(ds, info, sorted({0, days.size // 2, days.size - 1}), region)  # checked together
        return info


def _index(positions: np.ndarray) -> slice | np.ndarray:
    """A slice where the positions run on by one (the fast read), else the positions."""
    if positions.size and np.array_equal(positions, np.arange(positions[0], positions[0] + positions.size)):
        return slice(int(positions[0]), int(positions[0]) + positions.size)
    return positions


def _read(ds: xr.Dataset, info: CubeInfo, days: slice | list[int], region: Region) -> dict[str, np.ndarray]:
    """``days`` (positions on the time axis) on ``region`` from the open cube, converted and checked."""
    cr = info.region
    rows = slice(region.row0 - cr.row0, region.row1 - cr.row0)
    cols = slice(region.col0 - cr.col0, region.col1 - cr.col0)
    out: dict[str, np.ndarray] = {}
    for key, layout in (("sm", info.sm), ("precip", info.precip)):
        if layout is None:
            continue
        t, y, x = layout.dims
        picks = {t: days, y: _index(np.asarray(layout.rows)[rows]), x: _index(np.asarray(layout.cols)[cols])}
        da = ds[layout.name].transpose(t, y, x).isel(picks)
        try:
            values = np.asarray(da.values, dtype=np.float32)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InputError(info.path, f"{layout.name} days {_days_text(days)} cannot be read ({exc})") from None
        if key == "sm":
            out[key] = check_sm(info.path, layout.name, layout.units or "m3 m-3", values, info.sm_divisor)
        else:
            out[key] = check_precip(info.path, layout.name, values * np.float32(info.precip_factor))
    return out


def _days_text(days: slice | list[int]) -> str:
    return f"{days.start}..{days.stop - 1}" if isinstance(days, slice) else ", ".join(map(str, days))


def read_cube_block(info: CubeInfo, t0: int, t1: int, region: Region) -> dict[str, np.ndarray]:
    """Days ``t0:t1`` of the cube on ``region`` (which must lie inside the cube's region).

    Returns ``sm`` in m3/m3 and, if the cube has it, ``precip`` in mm/day;
    both float32 (time, lat, lon), north first, checked as :mod:`.units` says.
    """
    cr = info.region
    if not (cr.row0 <= region.row0 and region.row1 <= cr.row1 and cr.col0 <= region.col0 and region.col1 <= cr.col1):
        raise InputError(info.path, f"cube covers {cr.to_text()} but {region.to_text()} was asked for")
    with _open(info.path) as ds:
        return _read(ds, info, slice(t0, t1), region)


def open_cube(path: str) -> xr.Dataset:
    """Open a cube normalised to ``sm`` (m3/m3) [and ``precip``, mm/day] on (time, lat, lon), north first."""
    info = inspect_cube(path)
    data = read_cube_block(info, 0, info.times.size, info.region)
    coords = {"time": info.times.astype("datetime64[ns]"), "lat": info.region.lat, "lon": info.region.lon}
    return xr.Dataset({k: (("time", "lat", "lon"), v) for k, v in data.items()}, coords=coords)
