"""Starting a cluster from a spec, connecting a client to it, and keeping one up (``sgdsm cluster up``).

:func:`connect` is how every command gets its ``distributed.Client``: a
running scheduler, a spec's cluster, or a local cluster of worker
processes; either way the client's cluster gets sgdsm's worker plugins.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .logs import quiet_shutdown
from .plugins import register_plugins
from .specs import GatewaySpec, JobQueueSpec, KubernetesSpec, LocalGPUSpec, LocalSpec, Spec, load_spec

#: Remote kinds: their workers may be slow to come (queued jobs, pods, a gateway's start-up).
_REMOTE = (JobQueueSpec, KubernetesSpec, GatewaySpec)

#: How often a batch cluster re-asks for its ``jobs`` (a job that ended is replaced).
KEEP_JOBS_EVERY_S = 5.0


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def gpu_cluster(spec: LocalGPUSpec) -> Any:
    """A local cluster with one worker per GPU, each pinned to it and declaring the resource ``GPU: 1``.

    dask-cuda's ``LocalCUDACluster`` when dask-cuda is installed, else
    :func:`nanny_gpu_cluster` over the GPUs this process may use: those of
    ``CUDA_VISIBLE_DEVICES`` (a batch system may have chosen them), else all
    that torch sees.
    """
    import torch

    n = torch.cuda.device_count()
    if n == 0:
        raise ConfigError("cluster kind 'local-gpu' needs a GPU that torch can see (torch.cuda.device_count() is 0)")
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return nanny_gpu_cluster(spec, visible.split(",") if visible else [str(i) for i in range(n)])
    return LocalCUDACluster(
        threads_per_worker=spec.threads_per_worker,
        dashboard_address=spec.dashboard_address,
        security=spec.security(),
        memory_limit=spec.memory_limit,
        resources={"GPU": 1},
    )


def nanny_gpu_cluster(spec: LocalGPUSpec, devices: list[str]) -> Any:
    """One ``Nanny`` per CUDA device number in ``devices``, each with it as its only ``CUDA_VISIBLE_DEVICES``."""
    from distributed import Nanny, Scheduler, SpecCluster

    security = spec.security()  # None, or one that requires TLS: Scheduler and Nanny then listen on tls://
    options = {
        "nthreads": spec.threads_per_worker,
        "memory_limit": spec.memory_limit,
        "resources": {"GPU": 1},
        "security": security,
    }
    workers = {
        i: {"cls": Nanny, "options": {**options, "env": {"CUDA_VISIBLE_DEVICES": dev}}} for i, dev in enumerate(devices)
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": spec.dashboard_address, "security": security}}
    return SpecCluster(workers=workers, scheduler=scheduler, security=security)


def start(spec: Spec, n_workers: int | None = None) -> Any:
    """Start the cluster a spec describes (for batch and Kubernetes kinds: submit its jobs or pods)."""
    from distributed import LocalCluster

    if isinstance(spec, LocalGPUSpec):
        return gpu_cluster(spec)
    if isinstance(spec, LocalSpec):
        return LocalCluster(
            n_workers=n_workers or spec.n_workers or default_workers(),
            threads_per_worker=spec.threads_per_worker,
            processes=True,
            memory_limit=spec.memory_limit,
            dashboard_address=spec.dashboard_address,
            security=spec.security(),  # one that requires TLS makes the cluster's addresses tls://
        )
    cluster = spec.cluster()
    if isinstance(spec, JobQueueSpec):
        try:
            check_job(cluster, spec)
        except ConfigError:
            cluster.close()
            raise
        cluster.scale(jobs=spec.jobs)
        keep_jobs(cluster, spec.jobs)
    elif isinstance(spec, GatewaySpec):
        cluster.scale(spec.workers)
    return cluster


def check_job(cluster: Any, spec: JobQueueSpec) -> None:
    """Ask SLURM whether it would take the worker job (``sbatch --test-only``), so a refusal is one error.

    Left to itself, dask-jobqueue submits in the background and only logs
    the refusal (a wrong partition or account, more memory than a node
    has), and the command would wait ``wait_for_workers_s`` for nothing.
    PBS has no such dry run: its refusals are logged by dask-jobqueue.
    """
    import subprocess
    import tempfile

    if spec.kind != "slurm":
        return
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as script:
        script.write(cluster.job_script())
        script.flush()
        try:
            proc = subprocess.run(["sbatch", "--test-only", script.name], capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise ConfigError(
                "cluster kind 'slurm': sbatch not found (run on a login node of the SLURM cluster)"
            ) from None
    if proc.returncode != 0:
        said = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        raise ConfigError(f"SLURM refuses the worker job: {'; '.join(said) or f'sbatch exit {proc.returncode}'}")


def keep_jobs(cluster: Any, jobs: int, every_s: float = KEEP_JOBS_EVERY_S) -> None:
    """Keep ``jobs`` batch jobs running: one that ends (``scancel``, walltime, a node lost) is submitted again.

    dask-jobqueue forgets a job whose workers left only after
    ``distributed.deploy.lost-worker-timeout`` (15 s), and submits a new
    one only when asked to scale; asking every ``every_s`` seconds for the
    same number is what replaces it. The tasks the lost workers held are
    run again elsewhere by Dask (``distributed.scheduler.allowed-failures``).
    """
    from distributed.core import Status
    from tornado.ioloop import PeriodicCallback

    def again() -> None:
        if cluster.status == Status.running:
            cluster.scale(jobs=jobs)

    def install() -> None:  # on the cluster's loop; the cluster stops its periodic callbacks when it closes
        pc = PeriodicCallback(again, every_s * 1000)
        cluster.periodic_callbacks["sgdsm-keep-jobs"] = pc
        pc.start()

    cluster.loop.add_callback(install)


def dashboard_link(cluster_or_client: Any) -> str:
    try:
        return str(cluster_or_client.dashboard_link)
    except Exception:  # noqa: BLE001 - no dashboard (bokeh missing) or not reachable
        return "not available"


@contextmanager
def connect(
    scheduler: str | None = None,
    cluster: str | Path | None = None,
    n_workers: int | None = None,
) -> Iterator[Any]:
    """Yield a ``distributed.Client``; a cluster started here is closed on exit.

    A ``tls://`` scheduler address uses the certificates of Dask's
    configuration (``DASK_DISTRIBUTED__COMM__TLS__CA_FILE`` and friends).
    """
    from distributed import Client

    if scheduler and cluster:
        raise ConfigError("give either --scheduler or --cluster, not both")
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        with client:
            register_plugins(client)
            yield client
        return
    spec = load_spec(cluster) if cluster else LocalSpec()
    with start(spec, n_workers) as lc, _client_of(lc, spec) as client:
        try:
            if isinstance(spec, _REMOTE):
                _wait_for_workers(client, spec)
            register_plugins(client)
            yield client
        finally:
            quiet_shutdown(client)


def _client_of(cluster: Any, spec: Spec) -> Any:
    """A client of a cluster started here; it takes the cluster's security (the gateway's own certificates)."""
    from distributed import Client

    return cluster.get_client() if isinstance(spec, GatewaySpec) else Client(cluster)


def _wait_for_workers(client: Any, spec: JobQueueSpec | KubernetesSpec | GatewaySpec) -> None:
    try:
        client.wait_for_workers(1, timeout=spec.wait_for_workers_s)
    except TimeoutError:
        where = {
            "slurm": "`squeue -u $USER`",
            "pbs": "`qstat -u $USER`",
            "kubernetes": "`kubectl get pods`",
            "gateway": "`dask_gateway.Gateway().list_clusters()`",
        }[spec.kind]
        raise ConfigError(
            f"no worker joined within {spec.wait_for_workers_s:.0f} s (wait_for_workers_s in the spec); "
            f"see {where} for the workers"
        ) from None


def serve(spec_path: str | Path, n_workers: int | None = None, announce: Any = print) -> None:
    """``sgdsm cluster up``: start a spec's cluster, print its addresses, keep it until Ctrl-C or SIGTERM."""
    spec = load_spec(spec_path)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with start(spec, n_workers) as cluster:
            announce(f"scheduler: {cluster.scheduler_address}")
            announce(f"dashboard: {dashboard_link(cluster)}")
            if spec.tls is not None or getattr(spec, "tls_secret", None):
                announce("TLS: clients need the CA and a certificate (docs/clusters.md)")
            if isinstance(spec, GatewaySpec):  # reached through the gateway's proxy, with its certificates
                announce(f"gateway cluster: {cluster.name}")
                announce(
                    f"connect with: dask_gateway.Gateway({spec.address!r}).connect({cluster.name!r}).get_client()"
                    "   (Ctrl-C stops the cluster)"
                )
            else:
                announce(f"connect with: --scheduler {cluster.scheduler_address}   (Ctrl-C stops the cluster)")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            announce("stopping the cluster")
    finally:
        signal.signal(signal.SIGTERM, previous)
