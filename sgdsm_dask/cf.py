"""The CF attributes of the variables sgdsm writes, in one place.

The staged cube, the result store and the daily files describe soil
moisture, precipitation, the ``flag``, time and the grid the same way; each
store says in its own ``long_name`` what its values are. :func:`grid`
gives every store and file the same coordinates: ``lat``/``lon`` with their
axes and cell bounds (``lat_bnds``, ``lon_bnds``) and the grid mapping
``crs`` (WGS 84, EPSG:4326) that the data variables name in
``grid_mapping`` (:data:`GRID_MAPPING`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .flags import FLAG_MEANINGS, Flag
from .grid import RES

#: How every store and file encodes time: whole days, int32.
TIME_ENCODING = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int32"}

#: The standard-name table the names here are taken from (the one compliance-checker 6.1 ships: it
#: downloads any other version the attribute names).
STANDARD_NAME_VOCABULARY = "CF Standard Name Table v93"
#: The name of the grid-mapping variable (its attributes: :func:`crs`), and of a bounds variable's second dimension.
GRID_MAPPING = "crs"
BOUNDS_DIM = "nv"


#: The standard name of soil moisture (volumetric); ``flag`` is its ``status_flag``.
SM_STANDARD_NAME = "volume_fraction_of_condensed_water_in_soil"


def sm(long_name: str, **extra: Any) -> dict[str, Any]:
    """Volumetric soil moisture (m3 m-3)."""
    return {
        "units": "m3 m-3",
        "standard_name": SM_STANDARD_NAME,
        "long_name": long_name,
        **extra,
    }


def precip(long_name: str) -> dict[str, Any]:
    """Daily precipitation (mm/day)."""
    return {"units": "mm day-1", "standard_name": "lwe_thickness_of_precipitation_amount", "long_name": long_name}


def flag(**extra: Any) -> dict[str, Any]:
    """The origin of each value (:class:`~sgdsm_dask.flags.Flag`)."""
    return {**extra, "flag_values": np.array(list(Flag), dtype=np.int8), "flag_meanings": FLAG_MEANINGS}


def time() -> dict[str, Any]:
    """The time axis: one value per day, at 00:00 UTC of the day it labels."""
    return {"standard_name": "time", "long_name": "day (00:00 UTC of the day the values are for)", "axis": "T"}


def crs() -> dict[str, Any]:
    """The grid mapping of the 0.25 deg grid: WGS 84 latitude-longitude (EPSG:4326), as CF and GDAL read it."""
    import pyproj

    wgs84 = pyproj.CRS.from_epsg(4326)
    return {
        "long_name": "coordinate reference system of lat and lon (WGS 84, EPSG:4326)",
        **wgs84.to_cf(),
        "spatial_ref": wgs84.to_wkt(),  # the name GDAL (QGIS, rioxarray) reads
        "epsg_code": "EPSG:4326",
    }


def cell_bounds(centres: np.ndarray, res: float = RES) -> np.ndarray:
    """``(n, 2)`` edges of the cells of an axis of ``centres``, ordered along the axis (north first: north edge first).

    Each cell's second edge is the next cell's first, as CF asks of
    contiguous cells.
    """
    centres = np.asarray(centres, dtype=np.float64)
    step = 1.0 if centres.size < 2 or centres[-1] >= centres[0] else -1.0
    half = step * res / 2
    return np.stack([centres - half, centres + half], axis=-1)


def grid(lat: np.ndarray, lon: np.ndarray) -> dict[str, tuple]:
    """The coordinates of every store and file on the grid: ``lat``, ``lon``, their bounds and ``crs``.

    As ``(dims, values, attrs)`` for :class:`xarray.Dataset`'s ``coords``.
    """
    return {
        "lat": (
            "lat",
            np.asarray(lat, dtype=np.float64),
            {
                "units": "degrees_north",
                "standard_name": "latitude",
                "long_name": "latitude of the cell centre",
                "axis": "Y",
                "bounds": "lat_bnds",
            },
        ),
        "lon": (
            "lon",
            np.asarray(lon, dtype=np.float64),
            {
                "units": "degrees_east",
                "standard_name": "longitude",
                "long_name": "longitude of the cell centre",
                "axis": "X",
                "bounds": "lon_bnds",
            },
        ),
        # CF lets bounds repeat their coordinate's units; the ACDD checker finds the grid's edges through them
        "lat_bnds": (("lat", BOUNDS_DIM), cell_bounds(lat), {"units": "degrees_north"}),
        "lon_bnds": (("lon", BOUNDS_DIM), cell_bounds(lon), {"units": "degrees_east"}),
        GRID_MAPPING: ((), np.int32(0), crs()),
    }
