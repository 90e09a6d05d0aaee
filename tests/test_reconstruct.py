import json

import numpy as np
import pytest
import zarr

from sgdsm_dask.cli import main
from sgdsm_dask.errors import InputError
from sgdsm_dask.export import export
from sgdsm_dask.io import zarr_store
from sgdsm_dask.manifest import file_entry
from sgdsm_dask.model import checkpoint
from sgdsm_dask.model.fill import FLAG_FILLED, FLAG_NOT_FILLED, FLAG_OBSERVED
from sgdsm_dask.reconstruct import ReconstructRequest, reconstruct


@pytest.fixture(scope="module")
def staged(archive, client, tmp_path_factory):
    """The 10-day archive (2015-04-05 missing) staged in 40-cell spatial chunks: two blocks."""
    out = tmp_path_factory.mktemp("rec") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(out)]
    args += ["--region", "0,40,20,50", "--time-chunk", "4", "--space-chunk", "40"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    return str(out)


def _read(store):
    return zarr_store.read_array(store, "sm"), zarr_store.read_array(store, "flag")


@pytest.fixture(scope="module")
def reference(staged, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "rec.zarr")
    summary = reconstruct(ReconstructRequest(staged, out, time_chunk=30))  # one chunk: all 10 days
    assert summary["blocks"] == 2 and summary["tasks_run"] == 2
    return out


def test_observed_pixels_kept_land_filled_flags_match(staged, reference):
    sm, flag = _read(reference)
    src = zarr_store.read_array(staged, "sm")
    land = zarr_store.read_array(staged, "land").astype(bool)
    status = zarr_store.read_array(staged, "day_status")
    obs = np.isfinite(src)
    assert np.array_equal(sm[obs], src[obs])  # bit for bit
    staged_days = status == 1
    gaps = ~obs & land[None] & staged_days[:, None, None]
    assert np.isfinite(sm[gaps]).all() and np.all((sm[gaps] >= 0) & (sm[gaps] <= 1))
    assert np.array_equal(flag == FLAG_OBSERVED, obs)
    assert np.array_equal(flag == FLAG_FILLED, gaps)
    assert np.all(flag[~staged_days] == FLAG_NOT_FILLED) and np.isnan(sm[~staged_days]).all()  # the missing day


@pytest.mark.parametrize("time_chunk", [1, 7])
def test_result_does_not_depend_on_time_chunks_or_workers(staged, reference, client, tmp_path, time_chunk):
    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(staged, out, time_chunk=time_chunk), client)  # 2 worker processes
    sm, flag = _read(out)
    ref_sm, ref_flag = _read(reference)
    assert np.array_equal(flag, ref_flag)
    np.testing.assert_allclose(sm, ref_sm, rtol=0, atol=2e-6)


def test_overlap_blends_patches_across_blocks_and_removes_the_seam(staged, reference, tmp_path):
    from sgdsm_dask.model.fill import patch_edges
    from sgdsm_dask.validation.metrics import seam_score

    # By default patches overlap by 8 cells (stride 32): the patch grid does not follow the two
    # 40-cell blocks of the reference, so each block read a halo and ran the patches it shares with
    # its neighbour. One 80-cell block must give the same values.
    one = str(tmp_path / "one_block.zarr")
    reconstruct(ReconstructRequest(staged, one, time_chunk=30, space_chunk=80))
    sm, flag = _read(reference)
    one_sm, one_flag = _read(one)
    assert np.array_equal(flag, one_flag)
    np.testing.assert_allclose(sm, one_sm, rtol=0, atol=2e-6)
    # Edge to edge (overlap 0), the border between the two 40-cell patches shows; blended, it does not.
    edge = str(tmp_path / "edge_to_edge.zarr")
    reconstruct(ReconstructRequest(staged, edge, time_chunk=30, overlap=0))
    edge_sm, edge_flag = _read(edge)
    assert np.array_equal(flag, edge_flag)
    filled = flag == FLAG_FILLED
    edges = [patch_edges(n, 40) for n in sm.shape[1:]]
    blended, hard = seam_score(sm, filled, *edges), seam_score(edge_sm, filled, *edges)
    assert blended < 1.5 < hard  # about 1: the border is as smooth as anywhere else


def test_one_worker_process_gives_the_same_values(staged, reference, tmp_path):
    from distributed import Client, LocalCluster

    out = str(tmp_path / "rec.zarr")
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as lc,
        Client(lc) as c,
    ):
        reconstruct(ReconstructRequest(staged, out, time_chunk=7), c)
    np.testing.assert_array_equal(_read(out)[1], _read(reference)[1])
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_resume_redoes_only_unfinished_chunks(staged, tmp_path):
    out = str(tmp_path / "rec.zarr")
    req = ReconstructRequest(staged, out, time_chunk=3)
    first = reconstruct(req)
    assert first["tasks_run"] == 8  # 4 time chunks x 2 blocks
    whole = _read(out)
    # As if the run had stopped after the first two chunks of block (0, 1): later markers never written.
    g = zarr.open_group(out, mode="r+")
    g["done"][2:, 0, 1] = 0
    g["sm"][6:, :, 40:] = np.nan
    again = reconstruct(req)
    assert (again["tasks_run"], again["tasks_resumed"]) == (2, 6)
    np.testing.assert_array_equal(_read(out)[0], whole[0])
    with pytest.raises(InputError, match="another request"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=4))


def test_cli_reconstruct(staged, reference, client, tmp_path, capsys):
    out = str(tmp_path / "rec.zarr")
    args = ["reconstruct", "--store", staged, "--out", out, "--time-chunk", "5"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_export_one_cf_file_per_reconstructed_day(reference, staged, client, tmp_path):
    import rioxarray  # noqa: F401
    import xarray as xr

    out = tmp_path / "daily"
    args = ["export", "--store", reference, "--out", str(out), "--scheduler", client.scheduler.address]
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
    sm, flag = _read(reference)
    with xr.open_dataset(out / "SGD-SM2_20150403.nc") as ds:
        assert ds.rio.crs.to_epsg() == 4326 and ds["sm"].attrs["grid_mapping"] == "crs"
        assert ds.attrs["Conventions"] == "CF-1.8, ACDD-1.3"
        assert ds["flag"].attrs["flag_meanings"] == "observed reconstructed not_reconstructed"
        assert list(ds["flag"].attrs["flag_values"]) == [0, 1, 2]
        assert ds["sm"].encoding["zlib"] and str(ds["time"].values[0])[:10] == "2015-04-03"
        assert ds.attrs["time_coverage_start"] == "2015-04-03T00:00:00Z"
        np.testing.assert_array_equal(ds["sm"].values[0], sm[2])
        np.testing.assert_array_equal(ds["flag"].values[0], flag[2])
    # A rerun keeps finished files and writes nothing twice.
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("SGD-SM2_*")}
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("SGD-SM2_*")} == before
    assert main(["verify", str(out)]) == 0


def test_append_new_days_equals_one_run(archive, staged, reference, client, tmp_path):
    first = tmp_path / "first6.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(first)]
    args += ["--region", "0,40,20,50", "--time-chunk", "4", "--space-chunk", "40", "--end", "2015-04-06"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(str(first), out, time_chunk=4))  # 6 days: the second chunk is short
    with pytest.raises(InputError, match="another request"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=4))
    summary = reconstruct(ReconstructRequest(staged, out, time_chunk=4), client, append=True)
    assert summary["days_appended"] == 4 and summary["tasks_run"] == 4  # chunks 2 and 3 of both blocks
    sm, flag = _read(out)
    ref_sm, ref_flag = _read(reference)
    assert np.array_equal(flag, ref_flag)
    np.testing.assert_allclose(sm, ref_sm, rtol=0, atol=2e-6)
    with pytest.raises(InputError, match="time_chunk was 4"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=5), append=True)


def test_cube_without_precipitation_runs_with_a_warning(tmp_path, client):
    from tests.conftest import real

    cube = real("lprm/lprm_amsr2_x_201504_west.nc")
    store = str(tmp_path / "cube.zarr")
    args = ["stage", "--cube", str(cube), "--out", store, "--region=-60,-10,-40,0", "--end", "2015-04-05"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    out = str(tmp_path / "rec.zarr")
    proc_args = ["reconstruct", "--store", store, "--out", out, "--scheduler", client.scheduler.address]
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(proc_args) == 0
    assert "has no precipitation" in err.getvalue()
    sm = zarr_store.read_array(out, "sm")
    land = zarr_store.read_array(store, "land").astype(bool)
    assert np.isfinite(sm[:, land]).all()


def test_sgdsm_run_stages_reconstructs_and_exports_from_one_file(archive, client, tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"""
stage:
  lprm: {archive / "lprm"}
  imerg: {archive / "imerg"}
  out: staged.zarr
  region: "0,40,20,50"
  time_chunk: 5
  space_chunk: 40
reconstruct:
  out: result.zarr
  time_chunk: 5
export:
  out: daily
"""
    )
    assert main(["run", str(cfg), "--scheduler", client.scheduler.address]) == 0
    printed = capsys.readouterr().out
    assert f"daily files: {tmp_path / 'daily'}" in printed  # outputs land beside the run file
    assert len(list((tmp_path / "daily").glob("SGD-SM2_*.nc"))) == 9
    # the stage section's sensor timeline is honoured: WindSat "flew" in April 2015, the archive has AMSR2 only
    windsat = tmp_path / "windsat.yaml"
    text = cfg.read_text().replace("staged.zarr", "windsat.zarr").replace("result.zarr", "windsat_result.zarr")
    text = text.replace(
        "  time_chunk: 5\n  space_chunk: 40\n",
        "  time_chunk: 5\n  space_chunk: 40\n  timeline:\n    periods:\n      - {sensor: WindSat, start: 2015-01-01}\n",
        1,
    )
    windsat.write_text(text.replace("out: daily", "out: windsat_daily"))
    # no AMSR2 day is usable under that timeline: one line, no store (it used to stage ten missing days)
    capsys.readouterr()
    assert main(["run", str(windsat), "--scheduler", client.scheduler.address]) == 2
    assert "9 AMSR2 files (2015-04-01..2015-04-10), not in the timeline" in capsys.readouterr().err
    assert not (tmp_path / "windsat.zarr").exists()
    cfg.write_text(cfg.read_text() + "unknown: 1\n")
    assert main(["run", str(cfg)]) == 2
    assert "unknown" in capsys.readouterr().err


def test_tasks_go_to_gpu_workers_when_the_cluster_declares_them(staged, reference, tmp_path):
    # A worker declaring GPU: 1 (as local-gpu / dask-cuda workers do) beside one that does not:
    # every reconstruct task must run on the first. (No GPU here: the resource is only declared,
    # so the model runs on the CPU and must give the same values.)
    import subprocess
    import sys

    from distributed import Client, LocalCluster, get_task_stream

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0", resources={"GPU": 1}
        ) as lc,
        Client(lc) as c,
    ):
        plain = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address, "--nthreads", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            c.wait_for_workers(2, timeout=60)
            gpu_worker = next(a for a, w in c.scheduler_info()["workers"].items() if w["resources"].get("GPU"))
            out = str(tmp_path / "rec.zarr")
            with get_task_stream(client=c) as ts:
                summary = reconstruct(ReconstructRequest(staged, out, time_chunk=2), c)
            ran_on = {t["worker"] for t in ts.data if t["key"].startswith("reconstruct-")}
        finally:
            plain.terminate()
            plain.wait(30)
    assert summary["tasks_run"] == 10 and ran_on == {gpu_worker}
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_local_gpu_cluster_needs_a_gpu(tmp_path):
    import torch

    from sgdsm_dask.cluster import connect
    from sgdsm_dask.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the local-gpu cluster would start")
    spec = tmp_path / "gpu.yaml"
    spec.write_text("kind: local-gpu\n")
    with pytest.raises(ConfigError, match="needs a GPU"), connect(cluster=spec):
        pass


def test_export_cloud_optimized_geotiff_for_gis(reference, tmp_path):
    import rasterio

    out = tmp_path / "daily"
    assert main(["export", "--store", reference, "--out", str(out), "--cog", "--workers", "1"]) == 0
    tifs = sorted(p.name for p in out.glob("*.tif"))
    assert len(tifs) == 9 and not list(out.glob(".*part"))
    sm, _ = _read(reference)
    lat = zarr_store.read_array(reference, "lat")
    lon = zarr_store.read_array(reference, "lon")
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


def test_reconstruct_with_export_writes_the_same_files_as_export_after(staged, reference, client, tmp_path):
    import xarray as xr

    out, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    summary = reconstruct(ReconstructRequest(staged, out, time_chunk=4), client, export_to=str(daily))
    assert summary["daily_files"] == 9 and len(list(daily.glob("*.nc"))) == 9
    ref_sm, ref_flag = _read(reference)
    for t, f in ((0, "SGD-SM2_20150401.nc"), (9, "SGD-SM2_20150410.nc")):
        with xr.open_dataset(daily / f) as ds:
            np.testing.assert_allclose(ds["sm"].values[0], ref_sm[t], rtol=0, atol=2e-6)
            np.testing.assert_array_equal(ds["flag"].values[0], ref_flag[t])
    # run again: nothing left to reconstruct, every file kept
    again = reconstruct(ReconstructRequest(staged, out, time_chunk=4), client, export_to=str(daily))
    assert again["tasks_run"] == 0 and again["daily_files"] == 9


def test_export_leaves_out_unfinished_chunks_and_refuses_another_reconstructions_folder(staged, tmp_path, capsys):
    import shutil

    import zarr

    rec = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(staged, rec, time_chunk=4))  # chunks of days 1-4, 5-8, 9-10
    partial = str(tmp_path / "partial.zarr")
    shutil.copytree(rec, partial)
    zarr.open_group(partial, mode="r+")["done"][1, 0, 0] = 0  # days 5-8 of one block not finished
    daily = tmp_path / "daily"
    summary = export(partial, str(daily))
    assert summary["days_unfinished"] == 4 and summary["files"] == 6  # days 1-4, 9-10 (no half-filled day)
    assert not (daily / "SGD-SM2_20150406.nc").exists()

    # the same folder for a reconstruction with another tiling: refused, nothing changed
    other = str(tmp_path / "other.zarr")
    reconstruct(ReconstructRequest(staged, other, time_chunk=4, overlap=0))
    before = sorted(p.name for p in daily.iterdir())
    capsys.readouterr()
    assert main(["export", "--store", other, "--out", str(daily), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{daily}: holds the daily files of another reconstruction (overlap 8 -> 0)" in err
    assert sorted(p.name for p in daily.iterdir()) == before
    assert main(["reconstruct", "--store", staged, "--out", other, "--export", str(daily), "--workers", "1"]) == 2
    assert "holds the daily files of another reconstruction" in capsys.readouterr().err


def test_an_export_folder_is_left_as_it_was_by_a_refused_run_and_refused_to_a_rebuilt_store(staged, tmp_path, capsys):
    rec, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    assert main(["reconstruct", "--store", staged, "--out", rec, "--export", str(daily), "--workers", "1"]) == 0
    listing = sorted(p.name for p in daily.iterdir())
    assert "manifest.json" in listing
    # a run the store refuses (it now holds another request's reconstruction) must not touch the folder's manifest
    zarr_store.update_attrs(rec, {"reconstruct_fingerprint": "another request"})
    capsys.readouterr()
    code = main(["reconstruct", "--store", staged, "--out", rec, "--export", str(daily), "--workers", "1"])
    assert code == 2 and "holds a reconstruction of another request" in capsys.readouterr().err
    assert sorted(p.name for p in daily.iterdir()) == listing
    assert main(["verify", str(daily)]) == 0
    # the same store rebuilt (--overwrite) is another reconstruction: its files would not be these
    code = main(
        ["reconstruct", "--store", staged, "--out", rec, "--overwrite", "--export", str(daily), "--workers", "1"]
    )
    assert code == 2 and "holds the daily files of another reconstruction (store_id" in capsys.readouterr().err
    assert sorted(p.name for p in daily.iterdir()) == listing


def test_an_export_rerun_reads_only_the_files_changed_since_its_manifest(staged, tmp_path, monkeypatch):
    import os

    import sgdsm_dask.export as export_module

    rec, daily = str(tmp_path / "rec.zarr"), tmp_path / "daily"
    reconstruct(ReconstructRequest(staged, rec))
    first = export(rec, str(daily))
    hashed = []
    monkeypatch.setattr(export_module, "file_entry", lambda f: hashed.append(f.name) or file_entry(f))
    assert export(rec, str(daily))["files"] == first["files"] and hashed == []  # nothing read again
    touched = sorted(daily.glob("SGD-SM2_*.nc"))[3]
    later = touched.stat().st_mtime_ns + 2_000_000_000
    os.utime(touched, ns=(later, later))  # modified after the manifest: read and hashed again
    export(rec, str(daily))
    assert hashed == [touched.name]
    assert main(["verify", str(daily)]) == 0
