"""Any CF cube holding soil moisture ``sm`` (and optionally ``precip``) on lat/lon.

This covers ESA CCI SM daily files (one file per day; give the folder or a
glob), the real Americas cube in ``data/real/lprm``, and NetCDF or Zarr
cubes users bring. The cube must lie on the 0.25 deg grid (any box of it);
latitude may run either way and comes back north first.
"""

from __future__ import annotations

import glob as globmod
import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import InputError
from ..grid import Region, locate
from ..paths import is_url, local_or_url

SM_NAMES = ("sm", "soil_moisture", "SM")
PRECIP_NAMES = ("precip", "precipitation", "precipitationCal", "tp")
LAT_NAMES = ("lat", "latitude", "Latitude", "y")
LON_NAMES = ("lon", "longitude", "Longitude", "x")


@dataclass(frozen=True)
class CubeInfo:
    """What a cube holds, as staging needs it."""

    path: str
    times: np.ndarray  # datetime64[D]
    region: Region
    sm_var: str
    precip_var: str | None
    lat_name: str
    lon_name: str
    flip_lat: bool
    sm_divisor: float


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
            return xr.open_mfdataset(target, combine="by_coords", chunks={}, decode_timedelta=False)
        if str(target).rstrip("/").endswith(".zarr"):
            return xr.open_zarr(target, chunks={})
        return xr.open_dataset(target, chunks={}, decode_timedelta=False)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(path, f"cannot be opened as a NetCDF or Zarr cube ({exc})") from None


def _pick(ds: xr.Dataset | xr.DataArray, names: tuple[str, ...]) -> str | None:
    pool = ds.variables if isinstance(ds, xr.Dataset) else ds.coords
    for n in names:
        if n in pool or n in ds.dims:
            return n
    return None


def inspect_cube(path: str) -> CubeInfo:
    """Check a cube and describe it; raises :class:`InputError` naming the problem."""
    with _open(path) as ds:
        sm = _pick(ds, SM_NAMES)
        if sm is None:
            raise InputError(path, f"missing variable 'sm' (the cube has: {', '.join(map(str, ds.data_vars))})")
        precip = _pick(ds, PRECIP_NAMES)
        lat_name = _pick(ds, LAT_NAMES)
        lon_name = _pick(ds, LON_NAMES)
        if lat_name is None or lon_name is None:
            raise InputError(path, f"{sm} has no latitude/longitude coordinates (dims {ds[sm].dims})")
        if "time" not in ds[sm].dims:
            raise InputError(path, f"{sm} has no time dimension (dims {ds[sm].dims})")
        if set(ds[sm].dims) != {"time", lat_name, lon_name}:
            raise InputError(path, f"{sm} has dimensions {ds[sm].dims}; expected (time, lat, lon)")
        lat = ds[lat_name].values.astype(np.float64)
        lon = ds[lon_name].values.astype(np.float64)
        flip = bool(lat.size > 1 and lat[0] < lat[-1])
        try:
            region = locate(lat[::-1] if flip else lat, lon)
        except ValueError as exc:
            raise InputError(path, f"wrong grid: {exc}") from None
        times = ds["time"].values
        if not np.issubdtype(times.dtype, np.datetime64):
            raise InputError(path, "time axis is not decodable as dates (CF units missing?)")
        days = times.astype("datetime64[D]")
        if np.any(np.diff(days.astype(np.int64)) <= 0):
            dup = days[1:][np.diff(days.astype(np.int64)) <= 0][0]
            raise InputError(path, f"time axis is not strictly increasing by day (duplicate or out of order at {dup})")
        units = str(ds[sm].attrs.get("units", "m3 m-3")).strip().lower().replace(" ", "")
        divisor = 100.0 if units in ("percent", "%") else 1.0
        return CubeInfo(
            path=path,
            times=days,
            region=region,
            sm_var=sm,
            precip_var=precip if precip in ds.data_vars else None,
            lat_name=lat_name,
            lon_name=lon_name,
            flip_lat=flip,
            sm_divisor=divisor,
        )


def read_cube_block(info: CubeInfo, t0: int, t1: int, region: Region) -> dict[str, np.ndarray]:
    """Days ``t0:t1`` of the cube on ``region`` (which must lie inside the cube's region).

    Returns ``sm`` in m3/m3 and, if the cube has it, ``precip`` in mm/day;
    both float32 (time, lat, lon), north first.
    """
    cr = info.region
    if not (cr.row0 <= region.row0 and region.row1 <= cr.row1 and cr.col0 <= region.col0 and region.col1 <= cr.col1):
        raise InputError(info.path, f"cube covers {cr.to_text()} but {region.to_text()} was asked for")
    rows = np.arange(region.row0 - cr.row0, region.row1 - cr.row0)
    if info.flip_lat:
        rows = (cr.shape[0] - 1) - rows
    cols = slice(region.col0 - cr.col0, region.col1 - cr.col0)
    out: dict[str, np.ndarray] = {}
    with _open(info.path) as ds:
        for key, var in (("sm", info.sm_var), ("precip", info.precip_var)):
            if var is None:
                continue
            da = (
                ds[var]
                .transpose("time", info.lat_name, info.lon_name)
                .isel(time=slice(t0, t1), **{info.lat_name: rows, info.lon_name: cols})
            )
            try:
                values = np.asarray(da.values, dtype=np.float32)
            except (OSError, ValueError, RuntimeError) as exc:
                raise InputError(info.path, f"{var} days {t0}..{t1 - 1} cannot be read ({exc})") from None
            out[key] = values
    sm = out["sm"]
    if info.sm_divisor != 1.0:
        sm /= np.float32(info.sm_divisor)
    finite = sm[np.isfinite(sm)]
    if finite.size and float(finite.max()) > 1.0:
        raise InputError(
            info.path, f"{info.sm_var} has values up to {float(finite.max()):g} m3/m3: the values look like percent"
        )
    if finite.size and float(finite.min()) < 0.0:
        raise InputError(info.path, f"{info.sm_var} has negative soil moisture ({float(finite.min()):g})")
    if "precip" in out:
        p = out["precip"]
        if np.any(np.isinf(p)) or np.nanmin(p, initial=0.0) < 0:
            raise InputError(info.path, f"{info.precip_var} has negative or infinite precipitation")
    return out


def open_cube(path: str) -> xr.Dataset:
    """Open a cube normalised to ``sm`` (m3/m3) [and ``precip``] on (time, lat, lon), north first."""
    info = inspect_cube(path)
    data = read_cube_block(info, 0, info.times.size, info.region)
    coords = {"time": info.times.astype("datetime64[ns]"), "lat": info.region.lat, "lon": info.region.lon}
    return xr.Dataset({k: (("time", "lat", "lon"), v) for k, v in data.items()}, coords=coords)
