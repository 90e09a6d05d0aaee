"""A cluster started the way users start one by hand: ``dask scheduler`` and two ``dask worker`` processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.io import zarr_store
from tests.integration.runs import SGDSM

DASK = [sys.executable, "-m", "dask"]


@pytest.fixture
def hand_started_cluster(tmp_path):
    """``dask scheduler`` on loopback and two ``dask worker`` processes declaring a resource, as three processes."""
    info = tmp_path / "scheduler.json"
    logs = [open(tmp_path / f"{name}.log", "w") for name in ("scheduler", "worker0", "worker1")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"]
            + ["--scheduler-file", str(info)],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert info.exists(), (tmp_path / "scheduler.log").read_text()
        for k in range(2):
            procs.append(
                subprocess.Popen(
                    [*DASK, "worker", "--scheduler-file", str(info), "--nthreads", "1", "--nworkers", "1"]
                    + ["--host", "127.0.0.1", "--no-dashboard", "--resources", "GPU=1", "--name", f"hand-{k}"],
                    stdout=logs[k + 1],
                    stderr=subprocess.STDOUT,
                )
            )
        address = json.loads(info.read_text())["address"]
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=120)
            workers = c.scheduler_info()["workers"].values()
            assert sorted(w["name"] for w in workers) == ["hand-0", "hand-1"]
            assert all(w["resources"] == {"GPU": 1} for w in workers)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()


@pytest.mark.slow
def test_stage_and_reconstruct_on_a_hand_started_cluster_match_a_local_run(archive, hand_started_cluster, tmp_path):
    address = hand_started_cluster
    stage = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--region=0,40,20,50"]
    stage += ["--time-chunk", "3", "--space-chunk", "40"]
    remote, local = tmp_path / "remote", tmp_path / "local"
    for where, cluster in ((remote, ["--scheduler", address]), (local, ["--workers", "1"])):
        proc = subprocess.run(
            [*SGDSM, *stage, "--out", str(where / "staged.zarr"), *cluster], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    # reconstruct: as separate processes for the hand-started cluster, in this process for the local one
    proc = subprocess.run(
        [*SGDSM, "reconstruct", "--store", str(remote / "staged.zarr"), "--out", str(remote / "result.zarr")]
        + ["--time-chunk", "4", "--scheduler", address],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["tasks_run"] > 0 and summary["tasks_resumed"] == 0
    args = ["reconstruct", "--store", str(local / "staged.zarr"), "--out", str(local / "result.zarr")]
    assert main(args + ["--time-chunk", "4", "--workers", "1"]) == 0
    for name in ("sm", "precip"):
        np.testing.assert_array_equal(
            zarr_store.read_array(str(remote / "staged.zarr"), name),
            zarr_store.read_array(str(local / "staged.zarr"), name),
        )
    a = zarr_store.read_array(str(remote / "result.zarr"), "sm")
    b = zarr_store.read_array(str(local / "result.zarr"), "sm")
    np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)
    assert np.isfinite(a).sum() > 0
    np.testing.assert_array_equal(
        zarr_store.read_array(str(remote / "result.zarr"), "flag"),
        zarr_store.read_array(str(local / "result.zarr"), "flag"),
    )
    # the work ran on the hand-started workers, and both took part
    from distributed import Client

    with Client(address, timeout="30s") as c:
        executed = c.run(lambda dask_worker: dask_worker.state.executed_count)  # a lambda travels by value
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
