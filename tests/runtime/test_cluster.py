"""Every spec in ``cluster/``: local ones start and run a task, batch ones render job scripts, Kubernetes its resource."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sgdsm_dask.cli import main
from sgdsm_dask.runtime import LocalGPUSpec, connect, load_spec, nanny_gpu_cluster, render
from sgdsm_dask.testing import one_error_line

SPECS = Path(__file__).resolve().parents[2] / "cluster"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # the batch specs keep temporary TLS certificates under ~/.sgdsm/tls: not in the user's home
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_every_spec_is_covered_by_a_test_below():
    kinds = {p.name: load_spec(p).kind for p in sorted(SPECS.glob("*.yaml"))}
    assert kinds == {
        "gateway.yaml": "gateway",  # tests/integration/test_gateway.py
        "kubernetes-gpu.yaml": "kubernetes",
        "local-gpu.yaml": "local-gpu",
        "local-tls.yaml": "local",
        "local.yaml": "local",
        "pbs-gpu.yaml": "pbs",
        "slurm-cpu.yaml": "slurm",
        "slurm-gpu.yaml": "slurm",
    }


def _where_am_i():
    import os

    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")


def _dashboard_hosts(dask_scheduler) -> set[str]:
    """Where the dashboard's sockets listen (its link is built from the scheduler's address, not from these)."""
    return {sock.getsockname()[0] for sock in dask_scheduler.http_server._sockets.values()}


def _maps_of_a_model_sized_array() -> tuple[int, str | None]:
    """How many mappings of its own a 26 MB array gets (glibc's ``mallinfo2().hblks``), and the nanny's setting."""
    import ctypes

    import numpy as np

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in ("arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblks
    batch = np.ones((256, 16, 40, 40), np.float32)  # one batch of the default model's feature maps
    maps = libc.mallinfo2().hblks - before
    del batch  # held until counted
    return maps, os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_workers_keep_model_sized_arrays_in_their_heap_despite_the_nannys_trim_setting():
    # a process with the nanny's setting and no tuning gives each such array a mapping of its own
    probe = "import tests.runtime.test_cluster as t; print(t._maps_of_a_model_sized_array()[0])"
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    root = Path(__file__).resolve().parents[2]
    untuned = subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True)
    assert untuned.stdout.split() == ["1"], untuned.stderr
    with connect(cluster=SPECS / "local.yaml", n_workers=1) as client:
        ((maps, nanny_setting),) = client.run(_maps_of_a_model_sized_array).values()
    assert nanny_setting == "65536"  # distributed still sets it ...
    assert maps == 0  # ... and sgdsm's worker plugin keeps the array in the heap (sgdsm_dask/runtime/malloc.py)


@pytest.mark.parametrize("name, scheme", [("local.yaml", "tcp://"), ("local-tls.yaml", "tls://")])
def test_local_specs_start_worker_processes_and_run_a_task(name, scheme):
    with connect(cluster=SPECS / name, n_workers=1) as client:
        assert client.scheduler.address.startswith(scheme)
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        assert client.run_on_scheduler(_dashboard_hosts) == {"127.0.0.1"}  # it listens on localhost only
        pid, _ = client.submit(_where_am_i, pure=False).result()
        assert pid != os.getpid()  # a worker process, not a thread of this one


def test_local_gpu_spec_pins_one_gpu_per_worker_process():
    spec = load_spec(SPECS / "local-gpu.yaml")
    assert isinstance(spec, LocalGPUSpec)
    from distributed import Client

    # the cluster the spec starts on a machine with GPUs 0 and 1 without dask-cuda (CUDA is not needed to start it)
    with nanny_gpu_cluster(spec, ["0", "1"]) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        info = client.scheduler_info()["workers"]
        assert [w["resources"] for w in info.values()] == [{"GPU": 1}, {"GPU": 1}]
        seen = client.run(_where_am_i)
        assert sorted(dev for _, dev in seen.values()) == ["0", "1"]


def _lines(script: str, prefix: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith(prefix)]


def test_slurm_gpu_job_script_asks_for_one_gpu_and_declares_it():
    script = render(SPECS / "slurm-gpu.yaml")
    directives = _lines(script, "#SBATCH")
    assert "#SBATCH --gres=gpu:1" in directives and "#SBATCH --cpus-per-task=8" in directives
    assert "#SBATCH -p gpu" in directives and "#SBATCH -t 04:00:00" in directives
    worker = next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)
    assert "--resources GPU=1" in worker and "--nthreads 8" in worker
    assert "tls://" in worker and "--tls-ca-file" in worker  # TLS: the traffic leaves the login node
    assert "module load cuda" in script


def test_slurm_cpu_job_script_asks_for_no_gpu():
    script = render(SPECS / "slurm-cpu.yaml")
    assert not [line for line in _lines(script, "#SBATCH") if "gpu" in line.lower()]
    assert "GPU=1" not in script and "--nthreads 1" in script and "--nworkers 32" in script


def test_pbs_gpu_job_script_asks_for_one_gpu_and_declares_it():
    script = render(SPECS / "pbs-gpu.yaml")
    assert "#PBS -l select=1:ncpus=8:mem=64GB:ngpus=1" in _lines(script, "#PBS")
    assert "--resources GPU=1" in script and "--protocol tls://" in script


def test_pbs_memory_is_asked_in_pbs_units(tmp_path):
    # PBS reads "GB" as 2**30 bytes: 16GB for Dask (16e9 bytes) is 15GB for PBS, 16GiB is 16GB
    text = (SPECS / "pbs-gpu.yaml").read_text()
    for memory, asked in (("16GB", "mem=15GB"), ("16GiB", "mem=16GB")):
        spec = tmp_path / f"pbs-{memory}.yaml"
        spec.write_text(text.replace("memory: 64GiB", f"memory: {memory}"))
        assert [line for line in _lines(render(spec), "#PBS") if asked in line]


def test_kubernetes_spec_renders_a_daskcluster_the_operator_schema_accepts(tmp_path, capsys):
    import dask_kubernetes.operator as op
    import jsonschema  # in the test extra: a broken install fails here instead of skipping

    crd_file = Path(op.__file__).parent / "deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]

    assert main(["cluster", "script", str(SPECS / "kubernetes-gpu.yaml")]) == 0
    manifest = yaml.safe_load(capsys.readouterr().out)
    assert manifest["apiVersion"] == f"{crd['spec']['group']}/v1" and manifest["kind"] == crd["spec"]["names"]["kind"]
    jsonschema.validate(manifest, schema)
    worker = manifest["spec"]["worker"]["spec"]
    container = worker["containers"][0]
    assert manifest["spec"]["worker"]["replicas"] == 4
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "GPU=1" in container["args"] and container["args"][container["args"].index("GPU=1") - 1] == "--resources"
    assert worker["volumes"] == [{"name": "dask-tls", "secret": {"secretName": "sgdsm-dask-tls"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "true" and env["EXTRA_PIP_PACKAGES"] == "sgdsm-dask"
    # the check can fail: a wrong type is rejected by the same schema
    manifest["spec"]["worker"]["replicas"] = "four"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, schema)


@pytest.mark.parametrize(
    "text, message",
    [
        ("kind: yarn\n", "cluster kind 'yarn' is not one of"),
        ("kind: local\ntls:\n  cert: a.pem\n", "give either ca_file, cert and key, or temporary"),
        ("kind: slurm\ngpus: 2\n", "gpus"),
        ("kind: kubernetes\ntls:\n  temporary: true\n", "tls_secret"),
    ],
)
def test_a_bad_spec_is_one_error_naming_the_file(tmp_path, capsys, text, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["cluster", "script", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sgdsm: error: {spec}") and message in err and "Traceback" not in err
    assert message in one_error_line(err)  # and only that line


def test_cluster_up_prints_addresses_serves_clients_and_stops_on_ctrl_c(tmp_path):
    import signal

    from distributed import Client

    proc = subprocess.Popen(
        [sys.executable, "-m", "sgdsm_dask.cli", "cluster", "up", str(SPECS / "local.yaml"), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("scheduler: tcp://127.0.0.1:"), lines
        assert lines[1].startswith("dashboard: http://127.0.0.1:"), lines
        with Client(lines[0].split()[1], timeout="20s") as client:
            assert client.submit(sum, [1, 2, 3]).result() == 6
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopping the cluster" in out
