"""End-to-end runs of the ``sgdsm`` command, as a user types it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.io.zarr_store import exists, read_array, read_chunks_safely
from sgdsm_dask.testing import one_error_line, write_bad_lprm
from tests.integration.conftest import CHUNKS
from tests.integration.runs import open_store, run, sigkill_when


@pytest.mark.slow
def test_synth_then_stage_30_global_days_and_sigkill_resume(global_archive, global_staged, tmp_path):
    lprm, imerg = str(global_archive / "lprm"), str(global_archive / "imerg")
    common = ["--lprm", lprm, "--imerg", imerg, *CHUNKS]
    full = global_staged
    ds = open_store(full)
    assert ds.sm.shape == (30, 720, 1440) and bool(ds.available.all())
    cov = np.isfinite(ds.sm.values[:, ds.land.values]).mean(axis=1)
    assert (cov > 0.15).all() and (cov < 0.8).all()  # gappy, like the real products

    # Stop a second stage with SIGKILL half-way (the command and its workers), then run it again.
    killed = tmp_path / "killed.zarr"

    def staged_days() -> int:
        return int((read_chunks_safely(str(killed), "day_status", 2, 30, 0) != 0).sum()) if exists(str(killed)) else 0

    done = sigkill_when(["stage", *common, "--out", str(killed)], staged_days, 8)
    assert 8 <= done < 30
    summary = json.loads(run("stage", *common, "--out", str(killed)).stdout.strip().splitlines()[-1])
    # every block committed before the kill is kept; only the others are read again
    assert summary["blocks_resumed"] >= done // 2 and summary["blocks_done"] == 15 - summary["blocks_resumed"]
    xr.testing.assert_identical(open_store(killed), open_store(full))


@pytest.mark.slow
def test_bad_input_is_one_line_and_nonzero(global_archive, tmp_path):
    files = sorted((global_archive / "lprm").rglob("*.nc4"))
    bad_dir = tmp_path / "lprm"
    for f in files[:3]:
        (bad_dir / f.name).parent.mkdir(parents=True, exist_ok=True)
        (bad_dir / f.name).write_bytes(f.read_bytes())
    write_bad_lprm("half_degree", files[1], bad_dir)
    store = tmp_path / "bad.zarr"
    proc = run("stage", "--lprm", str(bad_dir), "--out", str(store), "--time-chunk", "1", "--workers", "1", check=False)
    assert proc.returncode == 2
    error = one_error_line(proc.stderr)  # exactly one, and no traceback
    assert "wrong grid" in error and files[1].name in error
    skip = run(
        "stage",
        "--lprm",
        str(bad_dir),
        "--out",
        str(store),
        "--time-chunk",
        "1",
        "--workers",
        "1",
        "--on-error",
        "skip",
    )
    assert '"skipped": 1' in skip.stdout and "wrong grid" in skip.stderr


def test_cli_errors_without_traceback(tmp_path):
    proc = run("stage", "--lprm", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.zarr"), check=False)
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("synth", str(tmp_path), "--start", "1999-01-01", "--days", "2", "--workers", "1", check=False)
    assert proc.returncode == 2 and "no sensor" in proc.stderr


def test_download_dry_run_forms_the_earthaccess_queries():
    out = run(
        "download", "/tmp/unused", "--start", "2011-10-01", "--end", "2012-07-10", "--region=-10,35,30,60", "--dry-run"
    ).stdout
    assert "'short_name': 'LPRM_AMSRE_D_SOILM3', 'version': '002', 'temporal': ('2011-10-01', '2011-10-04')" in out
    assert "'short_name': 'LPRM_WSAT_D_SOILM3', 'version': '001', 'temporal': ('2011-10-05', '2012-07-02')" in out
    assert "'short_name': 'LPRM_AMSR2_D_SOILM3', 'version': '001', 'temporal': ('2012-07-03', '2012-07-10')" in out
    assert "'short_name': 'GPM_3IMERGDF', 'version': '07'" in out and "'bounding_box': (-10.0, 35.0, 30.0, 60.0)" in out


def test_demo_writes_cube_reconstruction_daily_files_and_pictures(tmp_path):
    proc = run("demo", str(tmp_path / "demo"), "--days", "6", "--workers", "2")
    demo = tmp_path / "demo"
    for name in ("quicklook.png", "reconstruction.png"):
        png = demo / name
        assert str(png) in proc.stdout
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    assert "dask dashboard: http://127.0.0.1:" in proc.stderr
    ds = xr.open_zarr(demo / "staged.zarr", consolidated=False)
    assert ds.sm.shape[0] == 6 and bool(ds.available.all())
    rec = xr.open_zarr(demo / "reconstructed.zarr", consolidated=False)
    land = ds.land.values
    assert np.isfinite(rec.sm.values[:, land]).all()  # every land pixel filled
    assert len(list((demo / "daily").glob("SGD-SM2_*.nc"))) == 6


@pytest.mark.slow
def test_reconstruct_and_export_killed_then_rerun_match_an_uninterrupted_run(global_staged, global_full, tmp_path):
    full, full_daily = global_full
    killed = tmp_path / "killed.zarr"

    def chunks_done() -> int:
        return int(read_array(str(killed), "model/done").sum())

    common = ["--store", str(global_staged), *CHUNKS]
    done = sigkill_when(["reconstruct", *common, "--out", str(killed)], chunks_done, 20)
    total = read_array(str(full), "model/done").size  # 15 time chunks x 8 blocks
    assert 20 <= done < total
    finished = read_array(str(killed), "model/done").astype(bool)
    again = run("reconstruct", *common, "--out", str(killed))
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    # no finished chunk is computed twice: exactly the unfinished ones run
    assert summary["tasks_resumed"] == finished.sum() and summary["tasks_run"] == total - finished.sum()
    for name in ("sm", "flag", "model/state_h", "model/state_c", "model/state_memory"):
        np.testing.assert_array_equal(read_array(str(killed), name), read_array(str(full), name), err_msg=name)

    daily = tmp_path / "killed_daily"
    sigkill_when(
        ["export", "--store", str(killed), "--out", str(daily), "--workers", "2"],
        lambda: len(list(daily.glob("SGD-SM2_*.nc"))),
        5,
    )
    kept = {}
    for f in daily.glob("SGD-SM2_*.nc"):  # whatever has its final name is a whole file
        with xr.open_dataset(f) as ds:
            ds.load()
        kept[f.name] = (f.stat().st_ino, f.stat().st_mtime_ns)
    assert 5 <= len(kept) < 30 and not (daily / "manifest.json").exists()  # no manifest: not finished
    run("export", "--store", str(killed), "--out", str(daily), "--workers", "2")
    assert {n: (daily / n).stat().st_ino for n in kept} == {n: v[0] for n, v in kept.items()}  # not rewritten
    assert {n: (daily / n).stat().st_mtime_ns for n in kept} == {n: v[1] for n, v in kept.items()}
    names = sorted(p.name for p in daily.glob("SGD-SM2_*"))
    assert names == sorted(p.name for p in full_daily.glob("SGD-SM2_*")) and len(names) == 30
    for name in names:
        with xr.open_dataset(daily / name) as a, xr.open_dataset(full_daily / name) as b:
            xr.testing.assert_equal(a[["sm", "flag"]], b[["sm", "flag"]])
    assert "all 30 files match manifest.json" in run("verify", str(daily)).stdout
