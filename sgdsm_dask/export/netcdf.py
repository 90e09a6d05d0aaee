"""The CF-1.8 / ACDD-1.3 NetCDF4 file of a day: its dataset, attributes and encoding, and its write."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__, cf
from ..io.files import write_failure

_HDF5_WRITE = threading.Lock()  # HDF5 is not thread-safe: one file write at a time per process

ENCODING = {
    # zlib level 1: on a synthetic 720 x 360 day 15 ms and 334 KiB against 19 ms and 311 KiB at
    # level 4 (byte shuffle made these NaN-heavy maps larger, not smaller)
    "sm": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "float32", "_FillValue": np.float32(np.nan)},
    "flag": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "int8", "_FillValue": None},
    "time": cf.TIME_ENCODING,
    "lat": {"_FillValue": None},
    "lon": {"_FillValue": None},
}


def _global_attrs(result: str, lat: np.ndarray, lon: np.ndarray, attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "Conventions": "CF-1.8, ACDD-1.3",
        "title": "Seamless global daily soil moisture (SGD-SM 2.0 method), sgdsm-dask",
        "summary": "Daily LPRM soil moisture with gaps filled by an LSTM-CNN with partial convolutions "
        "that also sees GPM IMERG precipitation (Zhang et al., ESSD 2022).",
        "institution": "sgdsm-dask users",
        "source": f"reconstruction store {os.path.basename(result.rstrip('/'))}",
        "history": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} sgdsm export (sgdsm-dask {__version__})",
        "references": "Zhang, Q. et al. (2022), Earth Syst. Sci. Data, 14, 1845-1863",
        "provenance": attrs.get("provenance", ""),
        "geospatial_lat_min": float(lat.min() - 0.125),
        "geospatial_lat_max": float(lat.max() + 0.125),
        "geospatial_lon_min": float(lon.min() - 0.125),
        "geospatial_lon_max": float(lon.max() + 0.125),
        "geospatial_lat_resolution": "0.25 degree",
        "geospatial_lon_resolution": "0.25 degree",
        "date_created": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
    }


def dataset(result: str, days: xr.Dataset, attrs: dict[str, Any]) -> xr.Dataset:
    """The CF / ACDD dataset of ``days`` (a time chunk: built once, cut per day by :func:`one_day`)."""
    import rioxarray  # noqa: F401 - registers the .rio accessor

    lat, lon = days["lat"].values, days["lon"].values
    grid = xr.Dataset(
        coords={
            "time": ("time", days["time"].values, {"standard_name": "time", "axis": "T"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        }
    )
    # the CRS goes on the coordinates alone: write_crs deep-copies what it is given (0.1 s for 8 global days)
    grid = grid.rio.write_crs("EPSG:4326", grid_mapping_name="crs")
    ds = grid.assign(
        sm=days["sm"].variable.astype(np.float32, copy=False), flag=days["flag"].variable.astype(np.int8, copy=False)
    )
    ds["sm"].attrs = cf.sm(
        "surface soil moisture, gaps filled (SGD-SM 2.0 LSTM-CNN)", valid_range=np.array([0.0, 1.0], np.float32)
    )
    ds["flag"].attrs = cf.flag(long_name="origin of the soil moisture value")
    ds = ds.rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    for name in ("sm", "flag"):  # as an attribute, so the per-variable encoding below cannot drop it
        ds[name].encoding.pop("grid_mapping", None)
        ds[name].attrs["grid_mapping"] = "crs"
    ds.attrs = _global_attrs(result, lat, lon, attrs)
    return ds


def one_day(ds: xr.Dataset, i: int) -> xr.Dataset:
    """Day ``i`` of a :func:`dataset`, with its time coverage."""
    day = ds.isel(time=slice(i, i + 1))
    day0 = pd.Timestamp(day["time"].values[0])
    day.attrs = {
        **ds.attrs,
        "time_coverage_start": f"{day0:%Y-%m-%d}T00:00:00Z",
        "time_coverage_end": f"{day0:%Y-%m-%d}T23:59:59Z",
    }
    return day


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """``ds.to_netcdf`` under a lock of this process only.

    Inside a Dask worker, ``to_netcdf`` adds a cluster-wide ``distributed.Lock``
    per file, taken through the scheduler for every HDF5 access (about 100
    round trips for one day). Each file here has exactly one writer, so all
    that is needed is to keep the HDF5 calls of this process's threads apart.
    """
    from xarray.backends import NetCDF4DataStore

    try:
        store = NetCDF4DataStore.open(str(path), mode="w", format="NETCDF4", lock=_HDF5_WRITE)
        try:
            ds.dump_to_store(store, encoding=ENCODING)
        finally:
            store.close()
    except (RuntimeError, OSError) as exc:
        if isinstance(exc, RuntimeError) and not str(exc).startswith("NetCDF:"):
            raise
        # netCDF reports a file it cannot create as EACCES (a full disk too), HDF5 a failed write without an
        # errno: the same write of a few blocks, by the operating system, says what it is
        cause = write_failure(path)
        if isinstance(exc, OSError):
            raise (cause or exc) from None
        if cause is not None:
            raise OSError(cause.errno, f"{exc}: {cause.strerror}") from None
        why = f"{exc}: the disk is full, a quota or file-size limit was reached, or the folder is not writable"
        raise OSError(why) from None
