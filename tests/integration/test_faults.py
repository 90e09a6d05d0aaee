"""Faults of a long run: a worker process killed, writes refused half-way, a damaged export found and repaired.

The SIGKILL of a whole run (stage, reconstruct, export) and its resume are in
test_cli.py; docs/reliability.md lists every fault and the test that proves it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.io.zarr_store import read_array
from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct
from sgdsm_dask.testing import one_error_line
from tests.integration.conftest import CHUNKS
from tests.integration.runs import open_store, run

RESULT_ARRAYS = ("sm", "flag", "model/state_h", "model/state_c", "model/state_memory")


def _wait_for_done(store, at_least: int, runner: threading.Thread) -> bool:
    """Wait until ``at_least`` chunks of ``store`` are marked done; False if the run ended first."""
    deadline = time.time() + 300
    while time.time() < deadline and runner.is_alive():
        try:
            if int(read_array(str(store), "model/done").sum()) >= at_least:
                return runner.is_alive()
        except Exception:  # noqa: BLE001 - the store is being created
            pass
        time.sleep(0.05)
    return False


def _kill_a_worker_during(req: ReconstructRequest, allowed_failures: int | None = None) -> tuple[dict, int, set]:
    """Run ``req`` on a 2-process local cluster, SIGKILL one worker once 20 chunks are done.

    Returns what ``reconstruct`` returned (or ``{"error": exc}``), the killed
    pid, and the worker pids after the run.
    """
    import dask
    from distributed import Client, LocalCluster

    config = {} if allowed_failures is None else {"distributed.scheduler.allowed-failures": allowed_failures}
    with (
        dask.config.set(config),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as lc,
        Client(lc) as client,
    ):
        victim = sorted(client.run(os.getpid).values())[0]
        result: dict = {}

        def go() -> None:
            try:
                result.update(reconstruct(req, client))
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                result["error"] = exc

        runner = threading.Thread(target=go)
        runner.start()
        assert _wait_for_done(req.out, 20, runner), "the run ended before a worker could be killed"
        os.kill(victim, signal.SIGKILL)  # the worker process, not its nanny: Dask sees a worker die
        runner.join(600)
        return result, victim, set(client.run(os.getpid).values())


def _same_result(a, b) -> None:
    for name in RESULT_ARRAYS:
        np.testing.assert_array_equal(read_array(str(a), name), read_array(str(b), name), err_msg=name)


@pytest.mark.slow
def test_a_worker_killed_during_reconstruct_changes_nothing(global_staged, global_full, tmp_path):
    full, _ = global_full
    out = tmp_path / "killed_worker.zarr"
    total = read_array(str(full), "model/done").size
    result, victim, pids_after = _kill_a_worker_during(ReconstructRequest(str(global_staged), str(out), time_chunk=2))
    assert "error" not in result, result.get("error")
    assert victim not in pids_after  # the nanny started a new worker process
    assert result["tasks_run"] == total
    assert read_array(str(out), "model/done").all()
    _same_result(out, full)


@pytest.mark.slow
def test_a_run_dask_gives_up_on_is_one_error_line_and_resumes(global_staged, global_full, tmp_path):
    from sgdsm_dask.errors import SgdsmError

    full, _ = global_full
    out = tmp_path / "given_up.zarr"
    req = ReconstructRequest(str(global_staged), str(out), time_chunk=2)
    result, _, _ = _kill_a_worker_during(req, allowed_failures=0)  # the first lost task is given up
    err = result.get("error")
    assert isinstance(err, SgdsmError), result
    assert "Dask gave up on task reconstruct-" in str(err) and "run the same command again" in str(err)
    assert "\n" not in str(err)
    finished = int(read_array(str(out), "model/done").sum())
    again = run("reconstruct", "--store", str(global_staged), *CHUNKS, "--out", str(out))  # the same command
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    total = read_array(str(full), "model/done").size
    assert summary["tasks_resumed"] == finished and summary["tasks_run"] == total - finished
    _same_result(out, full)


@pytest.mark.slow
def test_stage_write_refused_half_way_then_repaired(global_archive, global_staged, tmp_path):
    lprm, imerg = str(global_archive / "lprm"), str(global_archive / "imerg")
    args = ["stage", "--lprm", lprm, "--imerg", imerg, *CHUNKS, "--out", str(tmp_path / "staged.zarr")]
    failed = run(*args, check=False, max_file_kib=200)  # the staged chunks are 180-300 KiB
    assert failed.returncode == 2
    line = one_error_line(failed.stderr)
    assert "staged.zarr: cannot be written (File too large)" in line and "run the same command again" in line
    assert not list((tmp_path / "staged.zarr").rglob("*.partial"))  # no half-written chunk file is kept
    run(*args)
    xr.testing.assert_identical(open_store(tmp_path / "staged.zarr"), open_store(global_staged))


@pytest.mark.slow
def test_reconstruct_write_refused_half_way_then_repaired(global_staged, global_full, tmp_path):
    full, _ = global_full
    out = tmp_path / "result.zarr"
    args = ["reconstruct", "--store", str(global_staged), *CHUNKS, "--out", str(out)]
    failed = run(*args, check=False, max_file_kib=1000)  # sm, flag and LSTM state fit; the 1.8 MB memory map not
    assert failed.returncode == 2
    line = one_error_line(failed.stderr)
    assert f"{out}: cannot be written (File too large)" in line
    assert not read_array(str(out), "model/done").any()  # no chunk is marked finished without its state
    assert not list(out.rglob("*.partial"))
    run(*args)
    _same_result(out, full)


@pytest.mark.slow
def test_export_write_refused_half_way_then_repaired_and_verified(global_full, tmp_path):
    full, full_daily = global_full
    daily = tmp_path / "daily"
    args = ["export", "--store", str(full), "--out", str(daily), "--workers", "2"]
    failed = run(*args, check=False, max_file_kib=400)  # a global day is about 800 KiB
    assert failed.returncode == 2
    line = one_error_line(failed.stderr)
    assert "SGD-SM2_201504" in line and "cannot be written (NetCDF: HDF error" in line
    # no broken file under a final name, no temporary left, no manifest: only the export's mark of its folder
    assert [p.name for p in daily.iterdir()] == [".sgdsm-export.json"]

    run(*args)
    assert "all 30 files match manifest.json" in run("verify", str(daily)).stdout
    for name in sorted(p.name for p in full_daily.glob("SGD-SM2_*.nc")):
        with xr.open_dataset(daily / name) as a, xr.open_dataset(full_daily / name) as b:
            xr.testing.assert_equal(a[["sm", "flag"]], b[["sm", "flag"]])


@pytest.mark.slow
def test_verify_finds_damage_and_the_same_export_repairs_it(global_full, tmp_path):
    import shutil

    full, full_daily = global_full
    daily = tmp_path / "daily"
    shutil.copytree(full_daily, daily)
    assert run("verify", str(daily)).returncode == 0
    damaged, lost = daily / "SGD-SM2_20150403.nc", daily / "SGD-SM2_20150420.nc"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped on disk
    damaged.write_bytes(bytes(data))
    lost.unlink()
    shutil.copy(daily / "SGD-SM2_20150401.nc", daily / "SGD-SM2_20150501.nc")  # a file no export wrote

    found = run("verify", str(daily), check=False)
    assert found.returncode == 1
    assert f"{damaged}: SHA-256" in found.stderr and f"{lost}: missing" in found.stderr
    assert "SGD-SM2_20150501.nc: not in the manifest" in found.stderr
    assert "sgdsm: error:" in found.stderr and "3 problem(s)" in found.stderr

    (daily / "SGD-SM2_20150501.nc").unlink()
    kept = (daily / "SGD-SM2_20150410.nc").stat().st_mtime_ns
    run("export", "--store", str(full), "--out", str(daily), "--workers", "2")
    assert run("verify", str(daily)).returncode == 0
    assert (daily / "SGD-SM2_20150410.nc").stat().st_mtime_ns == kept  # sound files are not rewritten
    with xr.open_dataset(damaged) as a, xr.open_dataset(full_daily / damaged.name) as b:
        xr.testing.assert_equal(a[["sm", "flag"]], b[["sm", "flag"]])
