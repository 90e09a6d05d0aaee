import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.validation.insitu import overpass_mean, read_stations
from tests.conftest import real


def test_overpass_mean_takes_the_two_hourly_readings_around_the_descending_pass():
    # at 90 W the 01:30 local solar time overpass is 07:30 UTC: readings of 07:00 and 08:00 UTC
    idx = pd.date_range("2017-08-10", periods=72, freq="h")
    hourly = pd.Series(np.arange(72, dtype=float) / 100, index=idx)
    daily = overpass_mean(hourly, lon=-90.0)
    assert daily[pd.Timestamp("2017-08-10")] == pytest.approx((0.07 + 0.08) / 2)
    assert daily[pd.Timestamp("2017-08-11")] == pytest.approx((0.31 + 0.32) / 2)
    # one of the two missing: the other alone; both missing: no value for that day
    gappy = hourly.drop(idx[7]).drop(idx[31:33])
    daily = overpass_mean(gappy, lon=-90.0)
    assert daily[pd.Timestamp("2017-08-10")] == pytest.approx(0.08)
    assert pd.Timestamp("2017-08-11") not in daily.index
    # at 150 E the pass is at 01:30 - 10 h = 15:30 UTC of the day before
    east = overpass_mean(hourly, lon=150.0)
    assert east[pd.Timestamp("2017-08-11")] == pytest.approx((0.15 + 0.16) / 2)


def _product(stations, path, days=60, offset=0.02):
    """A reconstruction-like store over both stations: each station's pixel is its own series + offset."""
    time = pd.date_range("2017-08-10", periods=days, freq="D")
    lat = np.arange(35.125, 72.0, 0.25)
    lon = np.arange(-157.875, -96.0, 0.25)
    sm = np.full((days, lat.size, lon.size), np.nan, np.float32)
    flag = np.full(sm.shape, 2, np.int8)
    for st in stations:
        i, j = np.abs(lat - st.lat).argmin(), np.abs(lon - st.lon).argmin()
        sm[:, i, j] = st.daily.reindex(time).to_numpy() + offset
        flag[:, i, j] = np.arange(days) % 2  # even days observed, odd days reconstructed
    xr.Dataset(
        {"sm": (("time", "lat", "lon"), sm), "flag": (("time", "lat", "lon"), flag)},
        coords={"time": time, "lat": lat, "lon": lon},
    ).to_zarr(path, zarr_format=3, consolidated=False)
    return path


def test_real_ismn_archive_matched_against_a_product(tmp_path, capsys):
    archive = real("ismn/Data_seperate_files_header_20170810_20180809.zip")
    stations = read_stations(str(archive), str(tmp_path / "meta"), max_depth=0.25)
    assert {(s.network, s.station) for s in stations} == {("COSMOS", "ARM-1"), ("COSMOS", "Barrow-ARM")}
    arm = next(s for s in stations if s.station == "ARM-1")
    assert (arm.lat, arm.lon) == pytest.approx((36.6054, -97.4878)) and arm.depth == (0.0, 0.19)
    assert arm.daily.between(0.0, 0.6).all() and arm.daily.size == 300  # days with a good overpass reading
    assert not (archive.parent / "python_metadata").exists()  # the shared folder is only read

    product = _product(stations, str(tmp_path / "product.zarr"))
    out = tmp_path / "val"
    args = ["validate", "--product", product, "--ismn", str(archive), "--out", str(out), "--max-depth", "0.25"]
    assert main(args) == 0
    table = pd.read_csv(out / "ismn_validation.csv")
    assert set(table["station"]) == {"ARM-1", "Barrow-ARM"}
    for _, row in table.iterrows():
        # the product is the in-situ series plus 0.02: bias 0.02, no unbiased error, R = 1
        if row["N"] == 0:
            continue
        assert row["bias"] == pytest.approx(0.02, abs=1e-6) and row["ubRMSE"] == pytest.approx(0, abs=1e-6)
        assert row["R"] == pytest.approx(1.0, abs=1e-6)
    arm_rows = table[table["station"] == "ARM-1"].set_index("pixels")
    assert arm_rows.loc["observed", "N"] + arm_rows.loc["reconstructed", "N"] == arm_rows.loc["all", "N"] > 40
    assert (out / "scatter_COSMOS_ARM-1.png").stat().st_size > 10_000
    text = (out / "ismn_validation.md").read_text()
    assert "mean of 2 stations" in text and text in capsys.readouterr().out


def test_validate_names_a_station_outside_the_product_and_a_bad_archive(tmp_path, capsys):
    archive = real("ismn/Data_seperate_files_header_20170810_20180809.zip")
    stations = read_stations(str(archive), str(tmp_path / "meta"), max_depth=0.25)
    only_arm = _product([s for s in stations if s.station == "ARM-1"], str(tmp_path / "p.zarr"))
    ds = xr.open_zarr(only_arm, consolidated=False).isel(lat=slice(0, 20))  # the window keeps ARM-1 (36.6 N) only
    ds.to_zarr(tmp_path / "south.zarr", zarr_format=3, consolidated=False)
    args = ["validate", "--product", str(tmp_path / "south.zarr"), "--ismn", str(archive), "--out", str(tmp_path / "v")]
    assert main(args + ["--max-depth", "0.25"]) == 0
    assert "Barrow-ARM" in capsys.readouterr().err  # left out, with the reason
    bad = tmp_path / "not_ismn.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "bad_run"
    assert main(["validate", "--product", str(tmp_path / "south.zarr"), "--ismn", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not_ismn.zip" in err and "Traceback" not in err
    assert not out.exists()  # nothing written for a run that could not start


def test_report_carries_the_insitu_table_and_scatter_plots(tmp_path):
    from sgdsm_dask.validation import baselines
    from sgdsm_dask.validation.insitu import validate
    from sgdsm_dask.validation.report import write_report
    from sgdsm_dask.validation.simulated import run_evaluation

    archive = real("ismn/Data_seperate_files_header_20170810_20180809.zip")
    stations = read_stations(str(archive), str(tmp_path / "meta"), max_depth=0.25)
    product = _product(stations, str(tmp_path / "product.zarr"))
    out = tmp_path / "report"
    summary = validate(product, str(archive), str(out / "ismn"), max_depth=0.25)
    rng = np.random.default_rng(0)
    sm = np.where(rng.random((12, 8, 8)) < 0.4, np.nan, rng.uniform(0.1, 0.4, (12, 8, 8))).astype(np.float32)
    ev = run_evaluation(sm, None, np.ones((8, 8), bool), lambda a, p, lnd: baselines.linear_in_time(a), dct=False)
    text = write_report(out, ev, "staged.zarr", {"seed": 0}, insitu=summary).read_text()
    assert "## In-situ stations (ISMN)" in text and "mean of 2 stations" in text
    assert "](ismn/scatter_COSMOS_ARM-1.png)" in text and "](ismn/ismn_validation.csv)" in text
    assert "](series_hidden.png)" in text and (out / "series_hidden.png").exists()
