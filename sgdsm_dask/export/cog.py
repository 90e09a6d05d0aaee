"""A Cloud-Optimized GeoTIFF of a day's ``sm``, for GIS users (``--cog``; ``flag`` stays in the NetCDF).

float32, north up, EPSG:4326, NaN as nodata, DEFLATE, internal tiles and overviews.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def write_cog(ds: xr.Dataset, path: Path) -> None:
    """Write the day ``ds`` (from :func:`~.netcdf.one_day`, with its CRS) as a COG at ``path``."""
    sm = ds["sm"].isel(time=0).sortby("lat", ascending=False)  # north up
    sm = sm.rio.write_nodata(np.float32(np.nan), encoded=False)
    sm.rio.to_raster(path, driver="COG", compress="DEFLATE", predictor=3, blocksize=256)
