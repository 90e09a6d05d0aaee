"""The station pixels' series are read one time chunk at a time, from the chunks that hold a station only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sgdsm_dask.export import open_result
from sgdsm_dask.validation.insitu import pixel_series


def test_pixel_series_reads_only_the_chunks_that_hold_a_station(tmp_path):
    rng = np.random.default_rng(1)
    days, ny, nx = 11, 12, 16
    sm = rng.random((days, ny, nx)).astype(np.float32)
    flag = rng.integers(0, 3, sm.shape).astype(np.int8)
    path = tmp_path / "product.zarr"
    xr.Dataset(
        {"sm": (("time", "lat", "lon"), sm), "flag": (("time", "lat", "lon"), flag)},
        coords={
            "time": pd.date_range("2017-01-01", periods=days),
            "lat": np.arange(ny) * 0.25,
            "lon": np.arange(nx) * 0.25,
        },
    ).chunk({"time": 4, "lat": 4, "lon": 4}).to_zarr(path, zarr_format=3, consolidated=False)
    pixels = [(1, 2), (9, 14), (2, 3)]  # spatial chunks (0, 0) and (2, 3) only
    # every other chunk of the store is damaged: reading any of them raises
    damaged = 0
    for name in ("sm", "flag"):
        for chunk in (path / name / "c").glob("*/*/*"):
            ci, cj = int(chunk.parent.name), int(chunk.name)
            if (ci, cj) not in {(0, 0), (2, 3)}:
                chunk.write_bytes(b"not a chunk")
                damaged += 1
    assert damaged == 2 * 3 * (12 - 2)
    got_sm, got_flag = pixel_series(open_result(str(path)), pixels)
    rows, cols = np.array(pixels).T
    np.testing.assert_array_equal(got_sm, sm[:, rows, cols].astype(np.float64))
    np.testing.assert_array_equal(got_flag, flag[:, rows, cols])
    assert got_sm.shape == (days, 3)
