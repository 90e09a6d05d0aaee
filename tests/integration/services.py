"""Real services the cluster tests start and stop: a one-node SLURM and a Dask Gateway server.

- :func:`local_slurm`: ``cluster/local-slurm.sh start`` (slurmctld and
  slurmd from Debian's packages, as plain processes, under a temporary
  folder), and ``stop`` at the end; then checks that no daemon, job step
  or job process is left.
- :func:`local_gateway`: ``dask-gateway-server`` with the local backend on
  127.0.0.1 (workers are processes of this machine), a password, and the
  cluster options ``worker_cores`` and ``worker_memory``; stopped by pid at
  the end, with the same check.

Where a service cannot run here (its programs are not installed, or not
root for slurmd), the test is skipped with the reason; with
``SGDSM_REQUIRE_SLURM=1`` or ``SGDSM_REQUIRE_GATEWAY=1`` in the environment
(CI sets both) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "cluster" / "local-slurm.sh"


def unavailable(what: str, reason: str, require_env: str) -> None:
    """Skip the test, or fail it where ``require_env`` says the service must be there."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{what} is required here ({require_env}=1) but cannot run: {reason}")
    pytest.skip(f"{what} cannot run here: {reason}")


def processes_with(env_line: str) -> list[int]:
    """Pids of the processes (other than this one) whose environment holds ``env_line`` (``NAME=value``)."""
    needle = env_line.encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if environ.startswith(needle) or b"\0" + needle in environ:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _left_behind(pids: list[int], grace_s: float = 20.0) -> list[int]:
    deadline = time.time() + grace_s
    while time.time() < deadline:
        pids = [p for p in pids if _alive(p)]
        if not pids:
            return []
        time.sleep(0.2)
    return pids


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass(frozen=True)
class Slurm:
    """A running one-node SLURM: its ``slurm.conf``, partition and the environment its commands need."""

    folder: Path
    conf: Path
    partition: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def command(self, *args: str) -> str:
        """The output of a SLURM client command (``squeue``, ``scancel``, ``sinfo``); fails the test on an error."""
        proc = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job id, name, state) of every job in the queue."""
        out = self.command("squeue", "-h", "-o", "%i %j %T")
        return [tuple(line.split()) for line in out.splitlines() if line.strip()]


@contextmanager
def local_slurm(folder: Path) -> Iterator[Slurm]:
    """A one-node SLURM started by ``cluster/local-slurm.sh`` under ``folder``; every process stopped at the end."""
    missing = [c for c in ("slurmctld", "slurmd", "sbatch", "squeue", "scancel") if shutil.which(c) is None]
    if missing:
        unavailable(
            "SLURM",
            f"{', '.join(missing)} not installed (apt-get install slurmctld slurmd slurm-client)",
            "SGDSM_REQUIRE_SLURM",
        )
    if os.geteuid() != 0:
        unavailable("SLURM", "slurmd starts jobs as their user and must run as root", "SGDSM_REQUIRE_SLURM")
    partition = "sgdsm"
    env = {**os.environ, "SLURM_PARTITION": partition, "SLURM_CPUS": "2"}
    started = subprocess.run(["bash", str(RECIPE), "start", str(folder)], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail(f"{RECIPE.name} start failed:\n{started.stderr[-3000:]}")
    daemons = [int((folder / f"{d}.pid").read_text()) for d in ("slurmctld", "slurmd")]
    conf = folder / "slurm.conf"
    try:
        yield Slurm(folder, conf, partition)
    finally:
        stopped = subprocess.run(["bash", str(RECIPE), "stop", str(folder)], env=env, capture_output=True, text=True)
        marked = processes_with(f"SGDSM_LOCAL_SLURM={folder.resolve()}")
        in_jobs = [p for p in processes_with(f"SLURM_CONF={conf}") if _is_job_process(p)]
        left = _left_behind(daemons + marked + in_jobs)
        _kill(left)  # so that a failing test still leaves nothing running
        assert stopped.returncode == 0, stopped.stderr
        assert not left, f"processes left running after {RECIPE.name} stop: {left}"


def _is_job_process(pid: int) -> bool:
    try:
        return b"\0SLURM_JOB_ID=" in b"\0" + Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Gateway:
    """A running Dask Gateway server: its address, proxy address and the password of ``SimpleAuthenticator``."""

    address: str
    proxy_address: str
    password: str
    folder: Path


GATEWAY_CONFIG = """\
# written by tests/integration/services.py: a Dask Gateway whose clusters are processes of this machine
from dask_gateway_server.options import Float, Integer, Options

c.DaskGateway.address = {address!r}
c.Proxy.address = {proxy!r}
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = {password!r}
c.LocalBackend.clusters_directory = {clusters!r}
# distributed 2026 ships no dask-scheduler / dask-worker commands: `dask scheduler` and `dask worker`
c.ClusterConfig.scheduler_cmd = [{dask!r}, "scheduler"]
c.ClusterConfig.worker_cmd = [{dask!r}, "worker"]
c.ClusterConfig.environment = {environment!r}
c.ClusterConfig.idle_timeout = 600
c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=2, label="Worker cores"),
    Float("worker_memory", default=1.0, min=0.5, max=4.0, label="Worker memory (GiB)"),
    handler=lambda options: {{"worker_cores": options.worker_cores, "worker_memory": int(options.worker_memory * 2**30)}},
)
"""


@contextmanager
def local_gateway(folder: Path, environment: dict[str, str] | None = None) -> Iterator[Gateway]:
    """``dask-gateway-server`` on 127.0.0.1 with the local backend; it and its clusters' processes stopped at the end."""
    try:
        import dask_gateway  # noqa: F401
        import dask_gateway_server  # noqa: F401
    except ImportError as exc:
        unavailable(
            "Dask Gateway",
            f"{exc.name} not installed (pip install dask-gateway 'dask-gateway-server[local]')",
            "SGDSM_REQUIRE_GATEWAY",
        )
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        unavailable("Dask Gateway", f"{dask} (the `dask` command of this Python) is missing", "SGDSM_REQUIRE_GATEWAY")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clusters").mkdir()
    marker = f"SGDSM_LOCAL_GATEWAY={folder.resolve()}"
    env_of_clusters = {**(environment or {}), marker.split("=", 1)[0]: marker.split("=", 1)[1]}
    address, proxy = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    password = "sgdsm-test"
    config = folder / "dask_gateway_config.py"
    config.write_text(
        GATEWAY_CONFIG.format(
            address=address,
            proxy=proxy,
            password=password,
            clusters=str(folder / "clusters"),
            dask=str(dask),
            environment=env_of_clusters,
        )
    )
    server_cmd = [sys.executable, "-m", "dask_gateway_server", "--config", str(config)]
    log = open(folder / "gateway.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(server_cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://{address}/api/health", server, folder / "gateway.log")
        yield Gateway(f"http://{address}", f"gateway://{proxy}", password, folder)
    finally:
        server.send_signal(signal.SIGTERM)  # the gateway stops its clusters on shutdown
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        left = _left_behind(processes_with(marker))
        _kill(left)
        assert server.returncode is not None
        assert not left, f"gateway cluster processes left running after the gateway stopped: {left}"


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dask-gateway-server exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"dask-gateway-server not healthy at {url} after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


# --- the runs the cluster tests compare: the same commands on a real cluster and on a local one ---

#: The archive's first six days over its 20 x 10 deg box: two 40 x 40 blocks, three 2-day chunks each.
STAGE = [
    "--region=0,40,20,50",
    "--start",
    "2015-04-01",
    "--end",
    "2015-04-06",
    "--time-chunk",
    "2",
    "--space-chunk",
    "40",
]
RECONSTRUCT = ["--time-chunk", "2"]
RESULT_ARRAYS = ("sm", "flag", "model/state_h", "model/state_c", "model/state_memory")


def stage_args(archive: Path, out: Path) -> list[str]:
    return ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), *STAGE, "--out", str(out)]


def reconstruct_args(staged: Path, out: Path, export: Path | None = None) -> list[str]:
    args = ["reconstruct", "--store", str(staged), "--out", str(out), *RECONSTRUCT]
    return args + (["--export", str(export)] if export else [])


def local_stage(archive: Path, folder: Path) -> Path:
    """``folder/staged.zarr``, staged by a local cluster of 2 worker processes."""
    from tests.integration.runs import run

    run(*stage_args(archive, folder / "staged.zarr"), "--workers", "2")
    return folder / "staged.zarr"


def local_reconstruct(staged: Path, folder: Path) -> Path:
    """``folder`` with ``result.zarr`` and ``daily/``: ``staged`` reconstructed and exported by a local cluster."""
    from tests.integration.runs import run

    run(*reconstruct_args(staged, folder / "result.zarr", folder / "daily"), "--workers", "2")
    return folder


def assert_same_staged(a: Path, b: Path) -> None:
    import xarray as xr

    from tests.integration.runs import open_store

    xr.testing.assert_identical(open_store(a), open_store(b))


def assert_same_result(a: Path, b: Path) -> None:
    """The result stores hold the same bits: the filled maps, the flags and the LSTM state at every chunk edge."""
    import numpy as np

    from sgdsm_dask.io.zarr_store import read_array

    for name in RESULT_ARRAYS:
        np.testing.assert_array_equal(read_array(str(a), name), read_array(str(b), name), err_msg=name)
    assert read_array(str(a), "model/done").all()


def assert_same_daily(a: Path, b: Path) -> None:
    import xarray as xr

    names = sorted(p.name for p in b.glob("SGD-SM2_*.nc"))
    assert names and names == sorted(p.name for p in a.glob("SGD-SM2_*.nc"))
    for name in names:
        with xr.open_dataset(a / name) as x, xr.open_dataset(b / name) as y:
            xr.testing.assert_identical(x[["sm", "flag"]].drop_attrs(), y[["sm", "flag"]].drop_attrs())
