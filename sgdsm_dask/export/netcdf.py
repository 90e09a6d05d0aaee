"""The CF-1.8 / ACDD-1.3 NetCDF4 file of a day: its dataset, attributes and encoding, and its write.

Every file passes the IOOS compliance-checker's ``cf:1.8`` and ``acdd:1.3``
suites without an error or warning at high or medium priority once the run
file names its creator (``metadata``: :class:`~sgdsm_dask.config.ProductMetadata`;
without it the checker names what is missing, nothing else).
The attributes are listed in docs/data.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__, cf
from ..grid import RES
from ..io.files import write_failure
from .gaps import ENCODING as GAP_ENCODING
from .gaps import gap_maps

_HDF5_WRITE = threading.Lock()  # HDF5 is not thread-safe: one file write at a time per process

ENCODING = {
    # zlib level 1: on a synthetic 720 x 360 day 15 ms and 334 KiB against 19 ms and 311 KiB at
    # level 4 (byte shuffle made these NaN-heavy maps larger, not smaller)
    "sm": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "float32", "_FillValue": np.float32(np.nan)},
    "flag": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "int8", "_FillValue": None},
    **GAP_ENCODING,  # sm_uncertainty, encoded like sm (the gap depths stay in the result store)
    "time": cf.TIME_ENCODING,
    "lat": {"_FillValue": None},
    "lon": {"_FillValue": None},
    "time_bnds": cf.TIME_ENCODING,
    **{name: {"_FillValue": None} for name in ("lat_bnds", "lon_bnds", "depth")},
}

#: The depth the values stand for (m below the land surface): the middle of the top 0-5 cm, the layer of the
#: in-situ probes the paper scores them against (sect. 4.2); C-band retrievals sense its upper centimetres.
DEPTH = 0.025
KEYWORDS = (
    "EARTH SCIENCE > LAND SURFACE > SOILS > SOIL MOISTURE/WATER CONTENT > SURFACE SOIL MOISTURE, "
    "EARTH SCIENCE > LAND SURFACE > SOILS > SOIL MOISTURE/WATER CONTENT"
)


def product_attrs(metadata: Any | None = None, provenance: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The global attributes of an export that its run sets: ``metadata``'s, then what they default to.

    ``metadata`` is a :class:`~sgdsm_dask.config.ProductMetadata` (None: its
    defaults); ``provenance`` the export's (:func:`~.manifest.export_provenance`),
    whose staged cube names the inputs (``source``). Built once on the client
    and sent to every task.
    """
    from ..config import ProductMetadata

    staged = (provenance or {}).get("staged") or {}
    inputs = staged.get("source") or "the staged cube's soil moisture and precipitation"
    credit = (
        "LPRM soil moisture by VU Amsterdam and NASA GSFC and GPM IMERG precipitation by NASA, from NASA GES DISC"
        if inputs.startswith("LPRM")
        else f"the providers of the input ({inputs})"
    )
    return {
        "source": f"{inputs}; gaps filled by the SGD-SM 2.0 LSTM-CNN (sgdsm-dask {__version__})",
        "product_version": __version__,
        "acknowledgement": f"Input: {credit}. Method: Zhang, Q. et al. (2022), SGD-SM 2.0, "
        "Earth Syst. Sci. Data, 14, 1845-1863.",
        **(metadata or ProductMetadata()).attrs(),
    }


def _global_attrs(
    result: str, lat: np.ndarray, lon: np.ndarray, attrs: Mapping[str, Any], product: Mapping[str, str]
) -> dict[str, Any]:
    south, north = float(lat.min() - RES / 2), float(lat.max() + RES / 2)  # the outer cell edges
    west, east = float(lon.min() - RES / 2), float(lon.max() + RES / 2)
    now = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    return {
        "Conventions": "CF-1.8, ACDD-1.3",
        "title": "Seamless global daily soil moisture (SGD-SM 2.0 method), sgdsm-dask",
        "summary": "Daily surface soil moisture (m3 m-3) on a 0.25 degree grid: satellite retrievals where observed, "
        "and where not, values reconstructed by an LSTM-CNN with partial convolutions that also sees the day's "
        "precipitation and carries a memory from day to day (Zhang et al., ESSD 2022). flag tells the two apart.",
        "keywords": KEYWORDS,
        "keywords_vocabulary": "GCMD:GCMD Science Keywords",
        "standard_name_vocabulary": cf.STANDARD_NAME_VOCABULARY,
        "processing_level": "L4: Level-3 retrievals with their gaps filled by a model",
        "cdm_data_type": "Grid",
        "comment": "flag: 0 observed (the retrieval, kept as observed), 1 reconstructed by the model, "
        "2 not reconstructed (not land, or outside the land mask: sm is NaN). One file per day; a day missing "
        "from the archive has no file.",
        "history": f"{now} sgdsm export (sgdsm-dask {__version__}) from {os.path.basename(result.rstrip('/'))}",
        "references": "Zhang, Q. et al. (2022), Earth Syst. Sci. Data, 14, 1845-1863, "
        "https://doi.org/10.5194/essd-14-1845-2022",
        "provenance": attrs.get("provenance", ""),
        **product,
        "date_created": now,
        "date_modified": now,
        "date_metadata_modified": now,
        # the extreme cell centres, as ERDDAP writes them and checkers compare; the edges are lat_bnds, lon_bnds
        # and geospatial_bounds
        "geospatial_lat_min": float(lat.min()),
        "geospatial_lat_max": float(lat.max()),
        "geospatial_lon_min": float(lon.min()),
        "geospatial_lon_max": float(lon.max()),
        "geospatial_lat_units": "degrees_north",
        "geospatial_lon_units": "degrees_east",
        "geospatial_lat_resolution": f"{RES} degree",
        "geospatial_lon_resolution": f"{RES} degree",
        # WKT in EPSG:4326's own axis order, latitude first, as ACDD's example
        "geospatial_bounds": f"POLYGON (({south} {west}, {north} {west}, {north} {east}, {south} {east}, "
        f"{south} {west}))",
        "geospatial_bounds_crs": "EPSG:4326",
        "geospatial_bounds_vertical_crs": "depth below the local land surface in m, positive down (no EPSG code)",
        "geospatial_vertical_min": DEPTH,  # the data's vertical coordinate, a scalar
        "geospatial_vertical_max": DEPTH,
        "geospatial_vertical_units": "m",
        "geospatial_vertical_positive": "down",
        "time_coverage_duration": "P1D",
        "time_coverage_resolution": "P1D",
    }


def _grid(days: xr.Dataset) -> xr.Dataset:
    """The coordinates of a time chunk's files: time, depth, lat, lon, their bounds (variables) and ``crs``."""
    times = days["time"].values
    layer = {
        "standard_name": "depth",
        "long_name": "depth the values stand for: the middle of the top 0-0.05 m of the soil",
        "units": "m",
        "positive": "down",
        "axis": "Z",
    }
    grid = xr.Dataset(
        coords={
            "time": ("time", times, {**cf.time(), "bounds": "time_bnds"}),
            "depth": ((), np.float64(DEPTH), layer),
            **cf.grid(days["lat"].values, days["lon"].values),
        }
    )
    # bounds are variables of their own in a file, not coordinates that each data variable would list
    grid = grid.reset_coords(["lat_bnds", "lon_bnds"])
    grid["time_bnds"] = (("time", cf.BOUNDS_DIM), np.stack([times, times + np.timedelta64(1, "D")], axis=-1))
    for name in ("lat_bnds", "lon_bnds", "time_bnds"):
        grid[name].encoding["coordinates"] = None  # xarray would list the scalar coordinates on them
    return grid


def dataset(
    result: str, days: xr.Dataset, attrs: Mapping[str, Any], product: Mapping[str, str] | None = None
) -> xr.Dataset:
    """The CF / ACDD dataset of ``days`` (a time chunk: built once, cut per day by :func:`one_day`).

    ``attrs`` are the result store's, ``product`` the export's own global
    attributes (:func:`product_attrs`; None: its defaults).
    """
    import rioxarray  # noqa: F401 - registers the .rio accessor

    lat, lon = days["lat"].values, days["lon"].values
    grid = _grid(days)
    ds = grid.assign(
        sm=days["sm"].variable.astype(np.float32, copy=False), flag=days["flag"].variable.astype(np.int8, copy=False)
    )
    ds["sm"].attrs = cf.sm(
        "surface soil moisture, gaps filled (SGD-SM 2.0 LSTM-CNN)", valid_range=np.array([0.0, 1.0], np.float32)
    )
    ds["flag"].attrs = cf.flag(
        long_name="origin of the soil moisture value",
        standard_name="status_flag",
        coverage_content_type="qualityInformation",
    )
    ds["sm"].attrs["ancillary_variables"] = "flag"
    gaps = gap_maps(days)  # sigma and gap provenance, where the result store has them
    if gaps:
        ds = ds.assign(gaps)
        ds["sm"].attrs["ancillary_variables"] = " ".join(["flag", *gaps])
    ds = ds.rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    for var in (ds.variables[name] for name in ds.data_vars):  # every map; an attribute: the encoding cannot drop it
        if {"lat", "lon"} <= set(var.dims):
            var.encoding.pop("grid_mapping", None)
            var.attrs["grid_mapping"] = cf.GRID_MAPPING
            var.attrs["coordinates"] = "depth"  # not crs too, as xarray would: it is the grid mapping
            var.attrs.setdefault("coverage_content_type", "modelResult")
    ds.attrs = _global_attrs(result, lat, lon, attrs, product if product is not None else product_attrs())
    return ds


def one_day(ds: xr.Dataset, i: int) -> xr.Dataset:
    """Day ``i`` of a :func:`dataset`, with its ``id`` and time coverage.

    ACDD's coverage runs from the first to the last time value, both the
    day's 00:00 here (what checkers compare); the day the values cover is
    ``time_bnds`` and ``time_coverage_duration`` (P1D). The ``id`` is the
    day and the result store's ``store_id``: the same for a file written
    again from the same store, another for another reconstruction.
    """
    day = ds.isel(time=slice(i, i + 1))
    day0 = pd.Timestamp(day["time"].values[0])
    store_id = json.loads(ds.attrs.get("provenance") or "{}").get("store_id")  # None: a store from before ids
    day.attrs = {
        **ds.attrs,
        "id": f"SGD-SM2_{day0:%Y%m%d}" + (f"_{store_id}" if store_id else ""),
        "time_coverage_start": f"{day0:%Y-%m-%d}T00:00:00Z",
        "time_coverage_end": f"{day0:%Y-%m-%d}T00:00:00Z",
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
            # a day without sigma or gap depths (the plain loop of benchmarks.full_record) takes the rest
            ds.dump_to_store(store, encoding={k: v for k, v in ENCODING.items() if k in ds.variables})
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
