"""The ``slurm`` kind on a real one-node SLURM: ``sbatch`` jobs run the workers, and the results equal a local run.

The SLURM is started by ``cluster/local-slurm.sh`` (slurmctld and slurmd of
Debian's ``slurmctld``/``slurmd`` packages, as plain processes) and stopped
by pid at the end (:func:`tests.integration.services.local_slurm`). The
spec is a copy of ``cluster/slurm-cpu.yaml`` shrunk to this machine: two
one-core jobs on the test's partition, temporary TLS certificates handed to
the jobs through a folder, as on a real site.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sgdsm_dask.io.zarr_store import read_array
from tests.integration.runs import SGDSM
from tests.integration.services import (
    ROOT,
    assert_same_daily,
    assert_same_result,
    assert_same_staged,
    local_reconstruct,
    local_slurm,
    local_stage,
    reconstruct_args,
    stage_args,
)

WORKER_JOB = "sgdsm-worker"  # the job name dask-jobqueue's jobs get (JobQueueSpec)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with local_slurm(tmp_path_factory.mktemp("slurm")) as s:
        yield s


def slurm_spec(slurm, folder: Path, jobs: int = 2, tls: bool = True) -> Path:
    """``cluster/slurm-cpu.yaml`` shrunk to this node: ``jobs`` jobs of one single-thread worker on its partition."""
    spec = yaml.safe_load((ROOT / "cluster" / "slurm-cpu.yaml").read_text())
    spec.update(
        jobs=jobs,
        cores=1,
        memory="1GiB",
        walltime="00:30:00",
        queue=slurm.partition,
        prologue=[],  # this Python, not the site's environment
        python=sys.executable,
        local_directory=str(folder / "scratch"),
        dashboard_address="127.0.0.1:0",
        wait_for_workers_s=120,
    )
    if tls:
        spec["tls"]["shared_directory"] = str(folder / "tls")
    else:
        del spec["tls"]
    path = folder / "slurm-test.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sgdsm_on(slurm, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``sgdsm ARGS`` in ``cwd`` with ``SLURM_CONF`` set, as a user on a login node runs it; fails the test on an error.

    The jobs write their ``slurm-JOBID.out`` where they were submitted: ``cwd``, not the checkout.
    """
    proc = subprocess.run(
        [*SGDSM, *args], env={**slurm.env, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"sgdsm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def worker_jobs(slurm) -> list[str]:
    """Ids of the sgdsm worker jobs SLURM has seen so far, finished ones too."""
    out = slurm.command("scontrol", "show", "job", "-o")
    ids = []
    for line in out.splitlines():
        fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if fields.get("JobName") == WORKER_JOB:
            ids.append(fields["JobId"])
    return ids


def wait_until(condition, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def chunks_done(store: Path) -> int:
    try:
        return int(read_array(str(store), "model/done").sum())
    except Exception:  # noqa: BLE001 - the store is being created
        return 0


@pytest.fixture(scope="module")
def local_staged(archive, tmp_path_factory) -> Path:
    return local_stage(archive, tmp_path_factory.mktemp("local"))


@pytest.fixture(scope="module")
def reference(local_staged, tmp_path_factory) -> Path:
    """A local run's ``result.zarr`` and ``daily/``, with ``staged.zarr`` beside them."""
    folder = local_reconstruct(local_staged, tmp_path_factory.mktemp("local"))
    (folder / "staged.zarr").symlink_to(local_staged)
    return folder


def test_the_recipe_starts_a_node_that_runs_a_batch_job(slurm, tmp_path):
    import socket

    assert slurm.command("sinfo", "-h", "-o", "%P %T %c").split() == [f"{slurm.partition}*", "idle", "2"]
    out = tmp_path / "job.out"
    slurm.command(
        "sbatch",
        "-p",
        slurm.partition,
        "-D",
        str(tmp_path),
        "-o",
        str(out),
        "--wrap",
        "hostname -s; echo $SLURM_JOB_ID",
    )
    wait_until(lambda: not slurm.jobs(), "the job to end", 60)  # sbatch --wait polls every 10 s
    host, job_id = out.read_text().split()
    assert host == socket.gethostname().split(".")[0] and job_id.isdigit()


def test_cluster_up_submits_jobs_serves_commands_and_cancels_its_jobs_on_sigterm(
    slurm, archive, local_staged, tmp_path
):
    # without TLS: a --scheduler client of a TLS cluster would need the certificates of the jobs
    spec = slurm_spec(slurm, tmp_path, jobs=2, tls=False)
    before = set(worker_jobs(slurm))
    up = subprocess.Popen(
        [*SGDSM, "cluster", "up", str(spec)],
        env=slurm.env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = up.stdout.readline()
        assert line.startswith("scheduler: tcp://"), line + up.stderr.read()[-2000:]
        address = line.split()[1]
        wait_until(
            lambda: [s for _, n, s in slurm.jobs() if n == WORKER_JOB] == ["RUNNING", "RUNNING"],
            "two running worker jobs",
        )
        sgdsm_on(slurm, *stage_args(archive, tmp_path / "staged.zarr"), "--scheduler", address, cwd=tmp_path)
        from distributed import Client

        with Client(address, timeout="30s") as c:
            in_jobs = c.run(lambda: __import__("os").environ.get("SLURM_JOB_ID"))
        jobs = set(worker_jobs(slurm)) - before
        assert sorted(in_jobs.values()) == sorted(jobs) and len(jobs) == 2  # one worker in each job
        assert_same_staged(tmp_path / "staged.zarr", local_staged)
    finally:
        up.send_signal(signal.SIGTERM)
        rc = up.wait(timeout=120)
    assert rc == 0, up.stderr.read()[-2000:]
    wait_until(lambda: not [j for j in slurm.jobs() if j[1] == WORKER_JOB], "the worker jobs to end", 60)


@pytest.mark.slow
def test_stage_reconstruct_and_export_in_sbatch_jobs_equal_a_local_run(slurm, archive, reference, tmp_path):
    spec = slurm_spec(slurm, tmp_path, jobs=2)  # TLS: the temporary certificates reach the jobs through a folder
    before = set(worker_jobs(slurm))
    staged, result, daily = tmp_path / "staged.zarr", tmp_path / "result.zarr", tmp_path / "daily"
    sgdsm_on(slurm, *stage_args(archive, staged), "--cluster", str(spec), cwd=tmp_path)
    proc = sgdsm_on(slurm, *reconstruct_args(staged, result, daily), "--cluster", str(spec), cwd=tmp_path)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["tasks_resumed"] == 0 and summary["tasks_run"] == 6
    assert len(set(worker_jobs(slurm)) - before) == 4  # two jobs per command
    assert not slurm.jobs()  # each command cancelled its jobs at the end
    assert not list((tmp_path / "tls").iterdir())  # and removed the certificates it handed them
    assert_same_staged(staged, reference / "staged.zarr")
    assert_same_result(result, reference / "result.zarr")
    assert_same_daily(daily, reference / "daily")


@pytest.mark.slow
def test_the_worker_job_scancelled_mid_run_is_replaced_and_the_result_is_the_same(slurm, reference, tmp_path):
    spec = slurm_spec(slurm, tmp_path, jobs=1)  # one job: the run can only end on the job that replaces it
    out = tmp_path / "result.zarr"
    before = set(worker_jobs(slurm))
    env = {**slurm.env, "DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "2s"}  # forget the lost job sooner than 15 s
    cmd = [*SGDSM, *reconstruct_args(reference / "staged.zarr", out), "--cluster", str(spec)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: chunks_done(out) >= 1 or proc.poll() is not None, "the first chunk", 300)
        assert proc.poll() is None and chunks_done(out) < 6, "the run ended before its job could be cancelled"
        (first,) = set(worker_jobs(slurm)) - before
        slurm.command("scancel", first)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["tasks_run"] == 6
    assert len(set(worker_jobs(slurm)) - before) == 2  # the cancelled job and the one submitted in its place
    assert_same_result(out, reference / "result.zarr")


@pytest.mark.slow
def test_a_run_whose_allocation_ends_resumes_with_the_same_command(slurm, reference, tmp_path):
    # The whole command in one batch job with a local cluster inside, as many sites run it; the job ends
    # mid-run the way a walltime ends it (SIGTERM to the job, SIGKILL after KillWait), here by scancel.
    out = tmp_path / "result.zarr"
    command = " ".join([*SGDSM, *reconstruct_args(reference / "staged.zarr", out), "--workers", "1"])
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\n#SBATCH -J sgdsm-run\n#SBATCH -c 1\n#SBATCH --mem=2G\nexec {command}\n")
    job = slurm.command(
        "sbatch",
        "--parsable",
        "-p",
        slurm.partition,
        "-D",
        str(tmp_path),
        "-o",
        str(tmp_path / "first.out"),
        str(script),
    ).strip()
    wait_until(lambda: chunks_done(out) >= 1 or not slurm.jobs(), "the first chunk", 300)
    done = chunks_done(out)
    assert slurm.jobs() and done < 6, "the job ended before it could be stopped"
    slurm.command("scancel", job)
    wait_until(lambda: not slurm.jobs(), "the job to end", 60)
    assert not read_array(str(out), "model/done").all()

    slurm.command("sbatch", "-p", slurm.partition, "-D", str(tmp_path), "-o", str(tmp_path / "again.out"), str(script))
    wait_until(lambda: not slurm.jobs(), "the second job to end", 600)
    summary = json.loads((tmp_path / "again.out").read_text().strip().splitlines()[-1])
    assert summary["tasks_resumed"] >= done and summary["tasks_resumed"] + summary["tasks_run"] == 6
    assert_same_result(out, reference / "result.zarr")


def test_a_queue_that_does_not_exist_is_one_error_line(slurm, tmp_path):
    from sgdsm_dask.testing import one_error_line

    spec = yaml.safe_load(slurm_spec(slurm, tmp_path).read_text())
    spec["queue"] = "no-such-partition"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [*SGDSM, "cluster", "up", str(bad)], env=slurm.env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert "no-such-partition" in line or "invalid partition" in line.lower()
