"""The land mask L of the paper's eq. 2 and 12 on the 0.25 deg grid.

Land comes from the 1 km GLOBE mask that the PyPI package
``global-land-mask`` ships (no download at run time). A 0.25 deg cell is land
when at least half of its 30 x 30 one-km samples are land. As in the paper,
Antarctica (south of 60 S) and most of Greenland (its ice sheet, a polygon
that leaves Iceland and Ellesmere Island alone) are excluded: they are
frozen all year and have no soil-moisture retrievals.

Loading the 1 km mask costs about 1 GB for a few seconds, so the 0.25 deg
result is cached on disk (``$SGDSM_CACHE`` or ``~/.cache/sgdsm-dask``) and in
memory.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..grid import LAT, LON, NLAT, NLON, Region

_CACHE_NAME = "land_025_globe_v1.npy"

#: Most of Greenland, as (lon, lat) vertices; Iceland lies east and south of it.
GREENLAND = np.array(
    [
        (-55.0, 59.0), (-42.0, 59.0), (-30.0, 67.5), (-20.0, 69.5), (-17.0, 75.0),
        (-10.0, 81.5), (-30.0, 84.0), (-60.0, 83.0), (-66.0, 80.8), (-72.0, 78.5),
        (-74.0, 76.0), (-60.0, 68.0), (-55.0, 59.0),
    ]
)  # fmt: skip


def cache_dir() -> Path:
    return Path(os.environ.get("SGDSM_CACHE", Path.home() / ".cache" / "sgdsm-dask"))


def _land_fraction_from_globe() -> np.ndarray:
    from global_land_mask import globe

    ocean = globe._mask  # (21600, 43200) bool, True = ocean, north first, from -180 east
    if ocean.shape != (NLAT * 30, NLON * 30):
        raise RuntimeError(f"global-land-mask has an unexpected shape {ocean.shape}")
    ocean_count = ocean.reshape(NLAT, 30, NLON, 30).sum(axis=(1, 3), dtype=np.int16)
    return 1.0 - ocean_count.astype(np.float32) / 900.0


def _excluded() -> np.ndarray:
    from matplotlib.path import Path as Polygon

    lon2, lat2 = np.meshgrid(LON, LAT)
    greenland = Polygon(GREENLAND).contains_points(np.c_[lon2.ravel(), lat2.ravel()]).reshape(NLAT, NLON)
    return greenland | (lat2 < -60.0)


@lru_cache(maxsize=1)
def _global_land() -> np.ndarray:
    path = cache_dir() / _CACHE_NAME
    if path.exists():
        try:
            land = np.load(path)
            if land.shape == (NLAT, NLON) and land.dtype == bool:
                return land
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    land = (_land_fraction_from_globe() >= 0.5) & ~_excluded()
    tmp = None
    try:  # the cache only saves time: a disk that refuses it does not stop the run
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, land)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        warnings.warn(
            f"land mask not cached in {path} ({exc.strerror or exc}); it is computed again next time", stacklevel=2
        )
    return land


def land_mask(region: Region | None = None) -> np.ndarray:
    """Boolean (lat, lon) land mask of the paper on ``region``; True = land to reconstruct."""
    region = region or Region()
    return _global_land()[region.slices].copy()
