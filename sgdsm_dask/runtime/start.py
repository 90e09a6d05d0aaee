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
from .specs import JobQueueSpec, KubernetesSpec, LocalGPUSpec, LocalSpec, Spec, load_spec


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
        cluster.scale(jobs=spec.jobs)
    return cluster


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
    with start(spec, n_workers) as lc, Client(lc) as client:  # the client takes the cluster's security
        try:
            if isinstance(spec, JobQueueSpec | KubernetesSpec):
                _wait_for_workers(client, spec)
            register_plugins(client)
            yield client
        finally:
            quiet_shutdown(client)


def _wait_for_workers(client: Any, spec: JobQueueSpec | KubernetesSpec) -> None:
    try:
        client.wait_for_workers(1, timeout=spec.wait_for_workers_s)
    except TimeoutError:
        where = (
            "squeue -u $USER"
            if spec.kind == "slurm"
            else "qstat -u $USER"
            if spec.kind == "pbs"
            else "kubectl get pods"
        )
        raise ConfigError(
            f"no worker joined within {spec.wait_for_workers_s:.0f} s (wait_for_workers_s in the spec); "
            f"see `{where}` for the jobs"
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
            announce(f"connect with: --scheduler {cluster.scheduler_address}   (Ctrl-C stops the cluster)")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            announce("stopping the cluster")
    finally:
        signal.signal(signal.SIGTERM, previous)
