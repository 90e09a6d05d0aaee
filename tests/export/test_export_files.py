"""The daily files of a reconstruction: their CF contents, COGs, reruns and folders (the 10-day cube of two blocks)."""

import json
from pathlib import Path

import numpy as np
import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.export import export
from sgdsm_dask.io import zarr_store
from sgdsm_dask.io.files import file_entry
from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct
from sgdsm_dask.testing import one_error_line
from sgdsm_dask.training import checkpoint
from tests.reconstruction.conftest import read

_read = read


def test_export_one_cf_file_per_reconstructed_day(ten_days_reference, ten_days, client, tmp_path):
    import rioxarray  # noqa: F401
    import xarray as xr

    out = tmp_path / "daily"
    args = ["export", "--store", ten_days_reference, "--out", str(out), "--scheduler", client.scheduler.address]
    assert main(args) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files[:2] == ["SGD-SM2_20150401.nc", "SGD-SM2_20150402.nc"] and files[-2:] == ["SHA256SUMS", "manifest.json"]
    files = files[:-2]
    assert len(files) == 9 and "SGD-SM2_20150405.nc" not in files  # the missing day has no file
    assert not any(f.endswith(".part") for f in files)
    listed = json.loads((out / "manifest.json").read_text())
    assert sorted(listed["files"]) == files
    assert listed["files"]["SGD-SM2_20150403.nc"]["sha256"] == file_entry(out / "SGD-SM2_20150403.nc")["sha256"]
    assert listed["provenance"]["reconstruction"]["checkpoint_sha256"] == checkpoint.SHIPPED["default"]
    assert listed["provenance"]["staged"]["sources"]["2015-04-05"][0] is None  # the missing day, recorded
    sm, flag = _read(ten_days_reference)
    with xr.open_dataset(out / "SGD-SM2_20150403.nc") as ds:
        assert ds.rio.crs.to_epsg() == 4326 and ds["sm"].attrs["grid_mapping"] == "crs"
        assert ds.attrs["Conventions"] == "CF-1.8, ACDD-1.3"
        assert ds["flag"].attrs["flag_meanings"] == "observed reconstructed not_reconstructed reconstructed_provisional"
        assert list(ds["flag"].attrs["flag_values"]) == [0, 1, 2, 3]
        assert ds["sm"].encoding["zlib"] and str(ds["time"].values[0])[:10] == "2015-04-03"
        assert ds.attrs["time_coverage_start"] == "2015-04-03T00:00:00Z"
        np.testing.assert_array_equal(ds["sm"].values[0], sm[2])
        np.testing.assert_array_equal(ds["flag"].values[0], flag[2])
    # A rerun keeps finished files and writes nothing twice.
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("SGD-SM2_*")}
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("SGD-SM2_*")} == before
    assert main(["verify", str(out)]) == 0


def test_export_cloud_optimized_geotiff_for_gis(ten_days_reference, tmp_path):
    import rasterio

    out = tmp_path / "daily"
    assert main(["export", "--store", ten_days_reference, "--out", str(out), "--cog", "--workers", "1"]) == 0
    tifs = sorted(p.name for p in out.glob("*.tif"))
    assert len(tifs) == 9 and not list(out.glob(".*part"))
    sm, _ = _read(ten_days_reference)
    lat = zarr_store.read_array(ten_days_reference, "lat")
    lon = zarr_store.read_array(ten_days_reference, "lon")
    with rasterio.open(out / "SGD-SM2_20150403.tif") as src:
        assert src.driver == "GTiff" and src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.crs.to_epsg() == 4326 and src.dtypes == ("float32",)
        assert np.isnan(src.nodata)
        band = src.read(1)
        # north up: the first row is the northernmost latitude, at the pixel centre
        assert src.transform.e < 0
        x, y = src.xy(0, 0)
        assert (y, x) == pytest.approx((lat.max(), lon.min()))
        np.testing.assert_array_equal(band, sm[2][np.argsort(lat)[::-1]])


def test_reconstruct_with_export_writes_the_same_files_as_export_after(ten_days, ten_days_reference, client, tmp_path):
    import xarray as xr

    out, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    summary = reconstruct(ReconstructRequest(ten_days, out, time_chunk=4), client, export_to=str(daily))
    assert summary["daily_files"] == 9 and len(list(daily.glob("*.nc"))) == 9
    ref_sm, ref_flag = _read(ten_days_reference)
    for t, f in ((0, "SGD-SM2_20150401.nc"), (9, "SGD-SM2_20150410.nc")):
        with xr.open_dataset(daily / f) as ds:
            np.testing.assert_allclose(ds["sm"].values[0], ref_sm[t], rtol=0, atol=2e-6)
            np.testing.assert_array_equal(ds["flag"].values[0], ref_flag[t])
    # run again: nothing left to reconstruct, every file kept
    again = reconstruct(ReconstructRequest(ten_days, out, time_chunk=4), client, export_to=str(daily))
    assert again["tasks_run"] == 0 and again["daily_files"] == 9


def test_export_leaves_out_unfinished_chunks_and_refuses_another_reconstructions_folder(ten_days, tmp_path, capsys):
    import shutil

    import zarr

    rec = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(ten_days, rec, time_chunk=4))  # chunks of days 1-4, 5-8, 9-10
    partial = str(tmp_path / "partial.zarr")
    shutil.copytree(rec, partial)
    zarr.open_group(partial, mode="r+")["model/done"][1, 0, 0] = 0  # days 5-8 of one block not finished
    daily = tmp_path / "daily"
    summary = export(partial, str(daily))
    assert summary["days_unfinished"] == 4 and summary["files"] == 6  # days 1-4, 9-10 (no half-filled day)
    assert not (daily / "SGD-SM2_20150406.nc").exists()

    # the same folder for a reconstruction with another tiling: refused, nothing changed
    other = str(tmp_path / "other.zarr")
    reconstruct(ReconstructRequest(ten_days, other, time_chunk=4, overlap=0))
    before = sorted(p.name for p in daily.iterdir())
    capsys.readouterr()
    assert main(["export", "--store", other, "--out", str(daily), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{daily}: holds the daily files of another reconstruction (overlap 8 -> 0)" in err
    assert sorted(p.name for p in daily.iterdir()) == before
    assert main(["reconstruct", "--store", ten_days, "--out", other, "--export", str(daily), "--workers", "1"]) == 2
    assert "holds the daily files of another reconstruction" in capsys.readouterr().err


def test_an_export_folder_is_left_as_it_was_by_a_refused_run_and_refused_to_a_rebuilt_store(ten_days, tmp_path, capsys):
    rec, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    assert main(["reconstruct", "--store", ten_days, "--out", rec, "--export", str(daily), "--workers", "1"]) == 0
    listing = sorted(p.name for p in daily.iterdir())
    assert "manifest.json" in listing
    # a run the store refuses (it now holds another request's reconstruction) must not touch the folder's manifest
    zarr_store.update_attrs(rec, {"reconstruct_fingerprint": "another request"})
    capsys.readouterr()
    code = main(["reconstruct", "--store", ten_days, "--out", rec, "--export", str(daily), "--workers", "1"])
    assert code == 2 and "holds a reconstruction of another request" in capsys.readouterr().err
    assert sorted(p.name for p in daily.iterdir()) == listing
    assert main(["verify", str(daily)]) == 0
    # the same store rebuilt (--overwrite) is another reconstruction: its files would not be these
    code = main(
        ["reconstruct", "--store", ten_days, "--out", rec, "--overwrite", "--export", str(daily), "--workers", "1"]
    )
    assert code == 2 and "holds the daily files of another reconstruction (store_id" in capsys.readouterr().err
    assert sorted(p.name for p in daily.iterdir()) == listing


def test_an_export_rerun_reads_only_the_files_changed_since_its_manifest(ten_days, tmp_path, monkeypatch):
    import os

    import sgdsm_dask.export.folder as folder_module

    rec, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    reconstruct(ReconstructRequest(ten_days, rec))
    first = export(rec, str(daily))
    hashed = []
    monkeypatch.setattr(folder_module, "file_entry", lambda f: hashed.append(f.name) or file_entry(f))
    assert export(rec, str(daily))["files"] == first["files"] and hashed == []  # nothing read again
    touched = sorted(daily.glob("SGD-SM2_*.nc"))[3]
    later = touched.stat().st_mtime_ns + 2_000_000_000
    os.utime(touched, ns=(later, later))  # modified after the manifest: read and hashed again
    export(rec, str(daily))
    assert hashed == [touched.name]
    assert main(["verify", str(daily)]) == 0


def test_the_daily_files_never_go_into_a_store(ten_days, tmp_path, capsys):
    rec = tmp_path / "rec.zarr"
    staged_before = sorted(p.relative_to(ten_days) for p in Path(ten_days).rglob("*"))
    for export_to, words in (
        (rec, f"--export {rec} is the store of --out {rec}"),
        (rec / "daily", f"--export {rec / 'daily'} lies inside the store of --out {rec}"),
        (Path(ten_days) / "daily", f"lies inside the store of --store {ten_days}"),
    ):
        args = ["reconstruct", "--store", ten_days, "--out", str(rec), "--export", str(export_to), "--workers", "1"]
        assert main(args) == 2
        assert words in one_error_line(capsys.readouterr().err)
        assert not rec.exists()  # refused before anything was written
    assert sorted(p.relative_to(ten_days) for p in Path(ten_days).rglob("*")) == staged_before
