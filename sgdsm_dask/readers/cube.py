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

A folder (or glob) of files is a cube of its files' days, on a local disk
or an object store (``s3://bucket/esa-cci/``, any fsspec URL): a file by
URL is fetched whole, in one request, and opened from memory by the same
netCDF4 library as a local file (:mod:`.ncfile`), so both give the same
values bit for bit. It is opened
whole once, by :func:`inspect_cube` on the client, which also notes which
file holds each day (:class:`FileMap`); :func:`read_cube_block` then opens
only the files of the days it reads, so staging a folder of N daily files
opens each file about twice, not N/8 times. A file that cannot be opened
or read is named in the error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob as globmod
import os
from dataclasses import dataclass

import dask
import numpy as np
import xarray as xr
from xarray.backends import BackendEntrypoint

from ..errors import InputError
from ..grid import Region, locate
from ..paths import filesystem, is_url, local_or_url
from .ncfile import _fetch
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


@dataclass(frozen=True, eq=False)
class FileMap:
    """Which file of a folder cube holds each day, found once on the client.

    ``file[dim][t]`` is the index in ``files`` of the file holding day ``t``
    of the cube's time axis for the time dimension ``dim``, ``local[dim][t]``
    that day's position in the file (``dim``: the soil moisture's time
    dimension, and the precipitation's if it has its own).
    """

    files: tuple[str, ...]
    file: dict[str, np.ndarray]  # int32, one per day of the cube (from day ``start``)
    local: dict[str, np.ndarray]  # int32, one per day of the cube (from day ``start``)
    start: int = 0  # the cube's day the arrays begin at (:meth:`for_days`)

    def days_of(self, dim: str, t0: int, t1: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The files holding days ``t0:t1``: index -> (the days' positions in the block, their positions in the file)."""
        if t0 < self.start or t1 - self.start > self.file[dim].size:
            raise ValueError(f"days {t0}:{t1} are not in this file map (days {self.start}:...)")
        file = self.file[dim][t0 - self.start : t1 - self.start]
        local = self.local[dim][t0 - self.start : t1 - self.start]
        return {int(f): (np.flatnonzero(file == f), local[file == f]) for f in np.unique(file)}

    def for_days(self, t0: int, t1: int) -> FileMap:
        """The map of days ``t0:t1`` only: the files holding them, nothing of the others.

        What a staging task is sent, so its size does not grow with the
        folder (all of a record's tasks are submitted at once).
        """
        cut = {d: a[t0 - self.start : t1 - self.start] for d, a in self.file.items()}
        used = np.unique(np.concatenate(list(cut.values())))
        renumber = np.full(len(self.files), -1, np.int32)
        renumber[used] = np.arange(used.size, dtype=np.int32)
        return FileMap(
            files=tuple(self.files[i] for i in used),
            file={d: renumber[a] for d, a in cut.items()},
            local={d: a[t0 - self.start : t1 - self.start] for d, a in self.local.items()},
            start=t0,
        )


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
    file_map: FileMap | None = None  # a folder or glob of files: which file holds which day

    @property
    def sm_var(self) -> str:
        return self.sm.name

    def for_days(self, t0: int, t1: int) -> CubeInfo:
        """This cube as days ``t0:t1`` need it: a folder's file map cut to their files (:meth:`FileMap.for_days`)."""
        if self.file_map is None:
            return self
        return dataclasses.replace(self, file_map=self.file_map.for_days(t0, t1))

    @property
    def precip_var(self) -> str | None:
        return None if self.precip is None else self.precip.name


def _expand(path: str) -> list[str] | str:
    """A cube's files: the sorted ``.nc``/``.nc4`` files of a folder or a glob, else the file or store itself."""
    path = local_or_url(path)
    if path.rstrip("/").endswith(".zarr"):
        return path
    if is_url(path):
        return _expand_url(path)
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


def _expand_url(url: str) -> list[str] | str:
    """:func:`_expand` on an object store: a prefix's files or a glob's, listed with fsspec (no cache), as URLs."""
    fs, key = filesystem(url)
    try:
        if any(c in key for c in "*?["):
            files = sorted(fs.unstrip_protocol(k) for k in fs.glob(key) if k.endswith((".nc", ".nc4")))
            if not files:
                raise InputError(url, "pattern matches no file")
            return files
        if fs.isdir(key):
            found = fs.ls(key, detail=True)
            names = [e["name"] for e in found if e.get("type") == "file" and e["name"].endswith((".nc", ".nc4"))]
            if not names:
                raise InputError(url, "folder holds no .nc or .nc4 files")
            return sorted(fs.unstrip_protocol(k) for k in names)
        if not fs.exists(key):
            raise InputError(url, "file not found")
    except InputError:
        raise
    except (OSError, ValueError) as exc:  # the store refused the listing: no bucket, no rights
        raise InputError(url, f"cannot be listed ({exc.__class__.__name__}: {exc})") from None
    return url


class _FetchedNetCDF(BackendEntrypoint):
    """xarray's netCDF4 backend for a file named by an fsspec URL: fetched whole, opened from memory.

    The decoding is the netCDF4 backend's own (:class:`StoreBackendEntrypoint`
    on a :class:`NetCDF4DataStore`), so a file gives the same dataset from
    an object store as from a local disk; ``xr.open_mfdataset`` combines
    such files exactly as it combines local ones.
    """

    description = "NetCDF4/HDF5 by fsspec URL, fetched whole (sgdsm)"

    def open_dataset(self, filename_or_obj, *, drop_variables=None, **decoders) -> xr.Dataset:  # type: ignore[override]
        import netCDF4
        from xarray.backends.netCDF4_ import NetCDF4DataStore
        from xarray.backends.store import StoreBackendEntrypoint

        url = str(filename_or_obj)
        data = _fetch(url)
        try:
            nc = netCDF4.Dataset(url.rsplit("/", 1)[-1] or "file", "r", memory=data)
        except (OSError, RuntimeError) as exc:
            raise InputError(
                url, f"not a readable NetCDF4/HDF5 file ({len(data)} bytes), truncated or corrupt ({exc})"
            ) from None
        store = NetCDF4DataStore(nc)
        try:
            return StoreBackendEntrypoint().open_dataset(store, drop_variables=drop_variables, **decoders)
        except Exception:
            store.close()
            raise


def _engine(path: str | list[str]) -> type[BackendEntrypoint] | None:
    """The backend for ``path`` (or a list of files): :class:`_FetchedNetCDF` for URLs, xarray's choice locally."""
    first = path[0] if isinstance(path, list) else path
    return _FetchedNetCDF if is_url(first) else None


def _open(path: str, seen: list[tuple[str, dict]] | None = None, target: list[str] | str | None = None) -> xr.Dataset:
    """The cube, a folder's files combined by their coordinates; ``seen`` gets each file's name and time axes.

    ``target``: what :func:`_expand` made of ``path``, if known.
    """
    target = _expand(path) if target is None else target

    def note(ds: xr.Dataset) -> xr.Dataset:
        if seen is not None:
            axes = {str(d): ds[d].values for d in ds.dims if d in ds.variables and _kind(ds, d) == "time"}
            seen.append((str(ds.encoding.get("source", "")), axes))
        return ds

    try:
        if isinstance(target, list):
            # variables without time (cell bounds, as sgdsm's daily files have) are taken once, not stacked;
            # files on boxes of their own are joined (outer: xarray's default so far), cells a file lacks NaN
            return xr.open_mfdataset(
                target,
                combine="by_coords",
                chunks={},
                decode_timedelta=False,
                data_vars="minimal",
                coords="minimal",
                compat="no_conflicts",
                join="outer",
                preprocess=note,
                engine=_engine(target),
            )
        if str(target).rstrip("/").endswith(".zarr"):
            return xr.open_zarr(target, chunks={})
        return xr.open_dataset(target, chunks={}, decode_timedelta=False, engine=_engine(target))
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
    target = _expand(path)
    seen: list[tuple[str, dict]] = []
    with _open(path, seen, target) as ds:
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
    if isinstance(target, list):
        dims = [sm_layout.dims[0]] + ([p_layout.dims[0]] if p_layout and p_layout.dims[0] != sm_layout.dims[0] else [])
        info = dataclasses.replace(info, file_map=_file_map(path, target, seen, dims, days))
    return info


def _file_map(path: str, files: list[str], seen: list[tuple[str, dict]], dims: list[str], days: np.ndarray) -> FileMap:
    """Which of ``files`` holds each of the cube's ``days``, from each file's time axes as the cube was opened."""
    # each file is opened once, in order: anything else is a bug here, not bad input
    noted = [os.path.basename(src) for src, _ in seen]
    if len(noted) != len(files) or any(n and n != os.path.basename(f) for n, f in zip(noted, files, strict=True)):
        raise RuntimeError(f"{path}: the files' time axes were not noted once each, in order")
    file = {d: np.full(days.size, -1, np.int32) for d in dims}
    local = {d: np.full(days.size, -1, np.int32) for d in dims}
    for i, (name, (_, axes)) in enumerate(zip(files, seen, strict=True)):
        for d in dims:
            if d not in axes:
                continue
            fdays = _days(name, xr.Dataset(coords={d: axes[d]}), d)
            at = np.searchsorted(days, fdays)
            if np.any(at >= days.size) or not np.array_equal(days[np.minimum(at, days.size - 1)], fdays):
                raise InputError(name, f"its days {fdays[0]}..{fdays[-1]} are not days of the cube {path}")
            file[d][at], local[d][at] = i, np.arange(at.size, dtype=np.int32)
    for d in dims:
        if np.any(file[d] < 0):
            raise InputError(path, f"no file holds {d} {days[file[d] < 0][0]} of the cube")
    return FileMap(files=tuple(files), file=file, local=local)


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
            # read here, in this thread: a task's (or the client's) block is never sent on to a cluster, and a
            # file fetched into memory (:class:`_FetchedNetCDF`) is read from this process's copy
            with dask.config.set(scheduler="synchronous"):
                values = np.asarray(da.values, dtype=np.float32)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InputError(info.path, f"{layout.name} days {_days_text(days)} cannot be read ({exc})") from None
        out[key] = _checked(info.path, info, key, layout, values)
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
    if info.file_map is not None:
        return _read_files(info, t0, t1, region)
    with _open(info.path) as ds:
        return _read(ds, info, slice(t0, t1), region)


def _open_file(path: str) -> xr.Dataset:
    """One file of a folder cube, opened as :func:`_open` opens each (its arrays read on demand; a URL's fetched)."""
    try:
        return xr.open_dataset(path, decode_timedelta=False, engine=_engine(path))
    except InputError as exc:
        if is_url(path) and exc.problem == "file not found":
            raise InputError(path, "file not found (it was there when the folder was inspected)") from None
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if not is_url(path) and not os.path.exists(path):
            raise InputError(path, "file not found (it was there when the folder was inspected)") from None
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(path, f"cannot be opened as a NetCDF file, truncated or corrupt? ({why})") from None


def _read_files(info: CubeInfo, t0: int, t1: int, region: Region) -> dict[str, np.ndarray]:
    """Days ``t0:t1`` of a folder cube on ``region``: each file holding one of them opened once, no other file.

    The values are those of the whole folder combined (:func:`_open`): each
    file's cells are placed by its own coordinates, cells a file lacks are NaN,
    and the block is checked as one; a problem the check finds in one file's
    days alone names that file.
    """
    fmap = info.file_map
    layouts = {k: v for k, v in (("sm", info.sm), ("precip", info.precip)) if v is not None}
    held = {k: fmap.days_of(v.dims[0], t0, t1) for k, v in layouts.items()}  # variable -> file -> days
    stored = {k: np.full((t1 - t0, *region.shape), np.nan, np.float32) for k in layouts}
    for f in sorted({f for files in held.values() for f in files}):
        name = fmap.files[f]
        with _open_file(name) as ds:
            for key, layout in layouts.items():
                if f in held[key]:
                    _place(name, ds, layout.name, held[key][f], region, stored[key])
    out: dict[str, np.ndarray] = {}
    for key, layout in layouts.items():
        try:
            out[key] = _checked(info.path, info, key, layout, stored[key])
        except InputError:
            for f, (at, _) in sorted(held[key].items()):
                _checked(fmap.files[f], info, key, layout, stored[key][at])  # the file at fault, if one alone is
            raise
    return out


def _place(name: str, ds: xr.Dataset, var: str, days: tuple[np.ndarray, np.ndarray], region: Region, into) -> None:
    """Write ``var``'s days ``days`` (block positions, file positions) of file ``name`` into ``into`` on ``region``."""
    if var not in ds.data_vars:
        raise InputError(name, f"missing variable {var!r}, which the folder's other files hold")
    layout, fr = _layout(name, ds, var)
    r0, r1 = max(region.row0, fr.row0), min(region.row1, fr.row1)
    c0, c1 = max(region.col0, fr.col0), min(region.col1, fr.col1)
    if r0 >= r1 or c0 >= c1:
        return  # the file has none of the region's cells: NaN, as in the folder combined
    t, y, x = layout.dims
    picks = {
        t: _index(days[1]),
        y: _index(np.asarray(layout.rows)[r0 - fr.row0 : r1 - fr.row0]),
        x: _index(np.asarray(layout.cols)[c0 - fr.col0 : c1 - fr.col0]),
    }
    try:
        values = np.asarray(ds[var].transpose(t, y, x).isel(picks).values, dtype=np.float32)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(name, f"{var} cannot be read ({exc})") from None
    into[days[0], r0 - region.row0 : r1 - region.row0, c0 - region.col0 : c1 - region.col0] = values


def _checked(path: str, info: CubeInfo, key: str, layout: Layout, stored: np.ndarray) -> np.ndarray:
    """``stored`` converted and checked as :func:`_read` does, a problem named after ``path``."""
    if key == "sm":
        return check_sm(path, layout.name, layout.units or "m3 m-3", stored, info.sm_divisor)
    return check_precip(path, layout.name, stored * np.float32(info.precip_factor))


def open_cube(path: str) -> xr.Dataset:
    """Open a cube normalised to ``sm`` (m3/m3) [and ``precip``, mm/day] on (time, lat, lon), north first."""
    info = inspect_cube(path)
    data = read_cube_block(info, 0, info.times.size, info.region)
    coords = {"time": info.times.astype("datetime64[ns]"), "lat": info.region.lat, "lon": info.region.lon}
    return xr.Dataset({k: (("time", "lat", "lon"), v) for k, v in data.items()}, coords=coords)
