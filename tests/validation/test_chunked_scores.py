"""Chunked scoring of a product store against a reference store equals the in-memory metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sgdsm_dask.errors import InputError
from sgdsm_dask.io import zarr_store
from sgdsm_dask.validation import metrics
from sgdsm_dask.validation.chunked import SUBSETS, score_stores

TOL = {"rel": 1e-9, "abs": 1e-12}


def _expected(est, ref, flag):
    """The in-memory numbers of metrics.all_scores per subset."""
    return {name: metrics.all_scores(est, ref, np.isin(flag, flags)) for name, flags in SUBSETS.items()}


def _assert_same(got, want):
    for name, w in want.items():
        g = got[name]
        assert g["N"] == w["N"] > 0, name
        for k in ("R", "RMSE", "MAE", "ubRMSE", "bias"):
            assert g[k] == pytest.approx(w[k], **TOL), (name, k)


def _cubes(tmp_path, seed=0):
    """A product (23 days, 17 x 19 cells, chunks 5 x 7 x 9) and a larger reference with other chunks."""
    rng = np.random.default_rng(seed)
    days, ny, nx = 23, 17, 19
    time = pd.date_range("2016-01-01", periods=days + 6, freq="D")
    lat, lon = 40.125 + 0.25 * np.arange(ny + 3), 0.125 + 0.25 * np.arange(nx + 4)
    ref = (0.25 + 0.08 * rng.standard_normal((days + 6, ny + 3, nx + 4))).astype(np.float32)
    ref[rng.random(ref.shape) < 0.1] = np.nan
    # the product: days 3 .. 25 and rows 2 .. 18, cols 1 .. 19 of the reference, plus noise and a bias
    win = (slice(3, 3 + days), slice(2, 2 + ny), slice(1, 1 + nx))
    est = (ref[win] + 0.01 + 0.03 * rng.standard_normal((days, ny, nx))).astype(np.float32)
    est[rng.random(est.shape) < 0.1] = np.nan
    flag = rng.integers(0, 3, est.shape).astype(np.int8)  # 0 observed, 1 reconstructed, 2 neither
    est[:, 4, 5] = 0.3  # a constant pixel: R NaN there
    product = tmp_path / "product.zarr"
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), est), "flag": (("time", "lat", "lon"), flag)},
        coords={"time": time[3 : 3 + days], "lat": lat[2 : 2 + ny], "lon": lon[1 : 1 + nx]},
    )
    ds.chunk({"time": 5, "lat": 7, "lon": 9}).to_zarr(product, zarr_format=3, consolidated=False)
    reference = tmp_path / "truth.zarr"
    # the reference runs east to west: the product's columns are found by value, not by position
    truth = xr.Dataset({"sm": (("time", "lat", "lon"), ref)}, coords={"time": time, "lat": lat, "lon": lon})
    truth.isel(lon=slice(None, None, -1)).chunk({"time": 4, "lat": 10, "lon": 10}).to_zarr(
        reference, zarr_format=3, consolidated=False
    )
    return str(product), str(reference), est, ref[win], flag


def test_chunked_scores_equal_the_in_memory_metrics_on_a_process_cluster(tmp_path, client):
    product, reference, est, ref, flag = _cubes(tmp_path)
    out = tmp_path / "scores.zarr"
    summary = score_stores(
        product, reference, str(out), client=client, min_days=3, days_per_task=10, chains_per_block=2
    )
    assert summary["days"] == est.shape[0]
    _assert_same(summary["scores"], _expected(est, ref, flag))

    maps = xr.open_zarr(out, consolidated=False)
    assert maps["rmse_all"].shape == est.shape[1:]
    for name, flags in SUBSETS.items():
        where = np.isin(flag, flags)
        rmse, r, n = maps[f"rmse_{name}"].values, maps[f"r_{name}"].values, maps[f"n_{name}"].values
        for i, j in [(0, 0), (4, 5), (8, 13), (16, 18)]:
            e, x, w = est[:, i, j], ref[:, i, j], where[:, i, j]
            assert n[i, j] == metrics.count(e, x, w)
            if n[i, j] < 3:
                assert np.isnan(rmse[i, j])
                continue
            assert rmse[i, j] == pytest.approx(metrics.rmse(e, x, w), rel=1e-6)
            want_r = metrics.pearson_r(e, x, w)
            assert (np.isnan(r[i, j]) and np.isnan(want_r)) or r[i, j] == pytest.approx(want_r, rel=1e-5, abs=1e-6)
        assert np.isnan(maps[f"r_{name}"].values[4, 5])  # the constant pixel
        # the daily series: each day's RMSE over the cells
        daily = maps[f"daily_rmse_{name}"].values
        for t in (0, 11, 22):
            assert daily[t] == pytest.approx(metrics.rmse(est[t], ref[t], where[t]), rel=1e-9)
        assert int(maps[f"daily_n_{name}"].values.sum()) == summary["scores"][name]["N"]
    assert maps.attrs["days"] == est.shape[0] and maps.attrs["sgdsm_store"] == "scores"


def test_chunked_scores_of_a_reconstruction_against_the_synthetic_truth(archive, rec4, client):
    truth = str(archive / "truth.zarr")
    summary = score_stores(str(rec4), truth, client=client, days_per_task=2)
    prod = xr.open_zarr(rec4, consolidated=False)
    tr = xr.open_zarr(truth, consolidated=False).sel(time=prod["time"], lat=prod["lat"], lon=prod["lon"])
    est, flag, ref = prod["sm"].values, prod["flag"].values, tr["sm"].values
    _assert_same(summary["scores"], _expected(est, ref, flag))
    assert summary["days"] == 4 and summary["map"] is None


def test_chunked_scores_refuse_a_reference_without_the_products_cells_and_an_existing_out(tmp_path):
    product, reference, *_ = _cubes(tmp_path)
    small = tmp_path / "small.zarr"
    xr.open_zarr(reference, consolidated=False).isel(lat=slice(5, None)).load().drop_encoding().to_zarr(
        small, zarr_format=3, consolidated=False
    )
    with pytest.raises(InputError, match=r"small\.zarr: its lat grid does not hold"):
        score_stores(product, str(small))
    keep = tmp_path / "keep.zarr"
    keep.mkdir()
    (keep / "mine.txt").write_text("user data")
    with pytest.raises(InputError, match="already exists"):
        score_stores(product, reference, str(keep))
    assert (keep / "mine.txt").read_text() == "user data"
    assert not zarr_store.exists(str(keep))
