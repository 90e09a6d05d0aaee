"""Getting a Dask client: an existing scheduler, a spec file in ``cluster/``, or a local cluster.

A spec is a YAML file whose ``kind`` picks the cluster:

- ``local``: a ``LocalCluster`` of worker *processes* with one thread each
  (HDF5, behind netCDF4 and h5netcdf, is not thread-safe, and each process
  gets its own library state); the default;
- ``local-gpu``: one worker process per GPU of this machine, each declaring
  the resource ``GPU: 1`` (dask-cuda's ``LocalCUDACluster`` when installed);
- ``slurm`` and ``pbs``: batch jobs through dask-jobqueue, each job one
  worker (with one GPU when ``gpus: 1``) or several CPU workers;
- ``kubernetes``: a ``DaskCluster`` resource of the dask-kubernetes operator.

The local and batch kinds take a ``tls`` block (:class:`TLS`) for clusters
whose traffic leaves this machine, and bind the dashboard to localhost
unless the spec's ``dashboard_address`` says otherwise (reach it with
``ssh -L``). Kubernetes takes ``tls_secret`` instead; its dashboard is
inside the cluster, behind the scheduler's service (``kubectl
port-forward``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from distributed.diagnostics.plugin import WorkerPlugin
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import malloc
from .config import invalid, load_yaml
from .errors import ConfigError
from .io import zarr_store


class TLS(BaseModel):
    """Encrypted, authenticated traffic between client, scheduler and workers (``distributed.Security``).

    Either certificate files that every machine can read (``ca_file``,
    ``cert``, ``key``; one certificate for all parts, signed by the CA), or
    ``temporary: true``: a fresh CA and certificate made for this run, handed
    to local workers in memory and to batch jobs through ``shared_directory``
    (a folder both the login node and the compute nodes see, readable only by
    you).
    """

    model_config = ConfigDict(extra="forbid")
    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None
    temporary: bool = False
    shared_directory: str = "~/.sgdsm/tls"

    @model_validator(mode="after")
    def _one_way(self) -> TLS:
        files = [self.ca_file, self.cert, self.key]
        if self.temporary == any(files) or (any(files) and not all(files)):
            raise ValueError("tls: give either ca_file, cert and key, or temporary: true")
        return self

    def security(self) -> Any:
        from distributed import Security

        if self.temporary:
            return Security.temporary()
        for f in (self.ca_file, self.cert, self.key):
            if not Path(f).expanduser().is_file():
                raise ConfigError(f"tls: {f}: no such file")
        paths = {
            k: str(Path(v).expanduser()) for k, v in (("ca", self.ca_file), ("cert", self.cert), ("key", self.key))
        }
        return Security(
            tls_ca_file=paths["ca"],
            tls_client_cert=paths["cert"],
            tls_client_key=paths["key"],
            tls_scheduler_cert=paths["cert"],
            tls_scheduler_key=paths["key"],
            tls_worker_cert=paths["cert"],
            tls_worker_key=paths["key"],
            require_encryption=True,
        )


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tls: TLS | None = None


class _HereOrBatch(_Spec):
    """Kinds whose scheduler sgdsm starts itself, here or on a login node: its dashboard's address is theirs."""

    dashboard_address: str = "127.0.0.1:0"


class _Local(_HereOrBatch):
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "auto"


class LocalSpec(_Local):
    """``kind: local`` in a cluster spec."""

    kind: Literal["local"] = "local"
    n_workers: int | None = Field(None, ge=1)


class LocalGPUSpec(_Local):
    """``kind: local-gpu``: one worker process per GPU of this machine, each declaring ``GPU: 1``.

    Each worker sees its own GPU only (``CUDA_VISIBLE_DEVICES``), so it runs
    on ``cuda:0``: dask-cuda's ``LocalCUDACluster`` when dask-cuda is
    installed, else one ``Nanny`` per GPU with that variable set.
    """

    kind: Literal["local-gpu"] = "local-gpu"


class JobQueueSpec(_HereOrBatch):
    """``kind: slurm`` or ``kind: pbs``: workers in batch jobs, submitted by dask-jobqueue.

    The scheduler runs where the command runs (a login node); ``jobs`` batch
    jobs are submitted, each with ``cores`` cores and ``memory``. With
    ``gpus: 1`` a job asks for one GPU (SLURM ``--gres=gpu:1``, PBS
    ``ngpus=1``) and runs one worker declaring ``GPU: 1`` with all the job's
    cores as threads; without, a job runs ``cores`` single-thread worker
    processes. ``prologue`` lines run before the worker (``module load``,
    activating the environment).
    """

    kind: Literal["slurm", "pbs"]
    jobs: int = Field(1, ge=1)
    cores: int = Field(4, ge=1)
    memory: str = "16GiB"
    gpus: int = Field(0, ge=0, le=1)
    walltime: str = "02:00:00"
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    local_directory: str | None = None
    prologue: list[str] = Field(default_factory=list)
    python: str | None = None
    wait_for_workers_s: float = Field(600.0, ge=0)

    def cluster(self) -> Any:
        """The dask-jobqueue cluster (no job submitted yet)."""
        try:
            from dask_jobqueue import PBSCluster, SLURMCluster
        except ImportError:
            raise ConfigError(f"cluster kind {self.kind!r} needs dask-jobqueue: pip install dask-jobqueue") from None
        kw: dict[str, Any] = {
            "cores": self.cores,
            "memory": self.memory,
            "processes": 1 if self.gpus else self.cores,
            "walltime": self.walltime,
            "queue": self.queue,
            "account": self.account,
            "interface": self.interface,
            "local_directory": self.local_directory,
            "job_script_prologue": self.prologue,
            "scheduler_options": {"dashboard_address": self.dashboard_address},
            "job_name": "sgdsm-worker",
        }
        if self.python:
            kw["python"] = self.python
        if self.gpus:
            kw["worker_extra_args"] = ["--resources", "GPU=1"]
        if self.tls is not None:
            shared = Path(self.tls.shared_directory).expanduser()
            shared.mkdir(parents=True, exist_ok=True, mode=0o700)
            kw.update(security=self.tls.security(), shared_temp_directory=str(shared))  # a TLS Security: tls://
        if self.kind == "slurm":
            if self.gpus:
                kw["job_extra_directives"] = ["--gres=gpu:1"]
            return SLURMCluster(**kw)
        from dask.utils import parse_bytes
        from dask_jobqueue.pbs import pbs_format_bytes_ceil

        mem = pbs_format_bytes_ceil(parse_bytes(self.memory))  # PBS's GB is 2**30 bytes, as jobqueue writes it
        kw["resource_spec"] = f"select=1:ncpus={self.cores}:mem={mem}" + (":ngpus=1" if self.gpus else "")
        return PBSCluster(**kw)


class KubernetesSpec(_Spec):
    """``kind: kubernetes``: a ``DaskCluster`` resource for the dask-kubernetes operator.

    The image must hold sgdsm-dask: the default Dask image installs it at
    start-up from ``EXTRA_PIP_PACKAGES``; build your own image for anything
    beyond a trial. With ``gpus: 1`` every worker asks for one
    ``nvidia.com/gpu`` and declares ``GPU: 1``. With ``tls_secret``, a
    Kubernetes secret holding ``ca.crt``, ``tls.crt`` and ``tls.key`` is
    mounted into every pod and Dask requires TLS on every connection.
    """

    kind: Literal["kubernetes"] = "kubernetes"
    name: str = "sgdsm"
    namespace: str | None = None
    image: str = "ghcr.io/dask/dask:latest"
    workers: int = Field(2, ge=1)
    cpu: str = "2"
    memory: str = "8Gi"
    gpus: int = Field(0, ge=0, le=1)
    extra_pip_packages: str = "sgdsm-dask"
    env: dict[str, str] = Field(default_factory=dict)
    tls_secret: str | None = None
    wait_for_workers_s: float = Field(600.0, ge=0)

    @model_validator(mode="after")
    def _no_tls_block(self) -> KubernetesSpec:
        if self.tls is not None:
            raise ValueError("kind kubernetes takes tls_secret (a Kubernetes secret), not a tls block")
        return self

    def manifest(self) -> dict[str, Any]:
        """The ``DaskCluster`` resource, as ``kubectl apply -f`` and the operator take it."""
        try:
            from dask_kubernetes.operator import make_cluster_spec
        except ImportError:
            raise ConfigError("cluster kind 'kubernetes' needs dask-kubernetes: pip install dask-kubernetes") from None
        env = {"EXTRA_PIP_PACKAGES": self.extra_pip_packages, **self.env}
        if self.tls_secret:
            env.update(_TLS_ENV)
        limits = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            limits["nvidia.com/gpu"] = "1"
        spec = make_cluster_spec(
            name=self.name,
            image=self.image,
            n_workers=self.workers,
            resources={"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits},
            env=env,
        )
        worker = spec["spec"]["worker"]["spec"]["containers"][0]
        scheduler = spec["spec"]["scheduler"]["spec"]["containers"][0]
        worker["args"] += ["--nthreads", str(_cpus(self.cpu))]
        if self.gpus:
            worker["args"] += ["--resources", "GPU=1"]
        else:  # a GPU would only be wasted on the scheduler and the CPU workers
            scheduler["resources"] = {
                "requests": {"cpu": "1", "memory": "2Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            }
        if self.tls_secret:
            worker["args"] += ["--protocol", "tls"]
            scheduler["args"] += ["--protocol", "tls"]
            for pod in (spec["spec"]["worker"]["spec"], spec["spec"]["scheduler"]["spec"]):
                pod["volumes"] = [{"name": "dask-tls", "secret": {"secretName": self.tls_secret}}]
                pod["containers"][0]["volumeMounts"] = [{"name": "dask-tls", "mountPath": _TLS_DIR, "readOnly": True}]
        if self.namespace:
            spec["metadata"]["namespace"] = self.namespace
        return spec

    def cluster(self) -> Any:
        from dask_kubernetes.operator import KubeCluster

        return KubeCluster(custom_cluster_spec=self.manifest(), namespace=self.namespace)


_TLS_DIR = "/etc/dask/tls"
_TLS_ENV = {
    "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "true",
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": f"{_TLS_DIR}/ca.crt",
    **{
        f"DASK_DISTRIBUTED__COMM__TLS__{part}__{what}": f"{_TLS_DIR}/tls.{ext}"
        for part in ("SCHEDULER", "WORKER", "CLIENT")
        for what, ext in (("CERT", "crt"), ("KEY", "key"))
    },
}


def _cpus(cpu: str) -> int:
    """Whole cores of a Kubernetes CPU quantity ("2", "1500m"), at least 1."""
    return max(1, int(float(cpu[:-1]) / 1000) if cpu.endswith("m") else int(float(cpu)))


Spec = LocalSpec | LocalGPUSpec | JobQueueSpec | KubernetesSpec

_KINDS: dict[str, type[BaseModel]] = {
    "local": LocalSpec,
    "local-gpu": LocalGPUSpec,
    "slurm": JobQueueSpec,
    "pbs": JobQueueSpec,
    "kubernetes": KubernetesSpec,
}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def load_spec(path: str | Path) -> Spec:
    data = load_yaml(path)
    kind = data.get("kind", "local")
    if kind not in _KINDS:
        raise ConfigError(f"{path}: cluster kind {kind!r} is not one of {', '.join(_KINDS)}")
    try:
        return _KINDS[kind](**data)
    except ValueError as exc:
        raise invalid(path, exc) from None


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
        security=_security(spec),
        memory_limit=spec.memory_limit,
        resources={"GPU": 1},
    )


def nanny_gpu_cluster(spec: LocalGPUSpec, devices: list[str]) -> Any:
    """One ``Nanny`` per CUDA device number in ``devices``, each with it as its only ``CUDA_VISIBLE_DEVICES``."""
    from distributed import Nanny, Scheduler, SpecCluster

    security = _security(spec)  # None, or one that requires TLS: Scheduler and Nanny then listen on tls://
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


def _security(spec: _Spec) -> Any:
    return spec.tls.security() if spec.tls is not None else None


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
            security=_security(spec),  # one that requires TLS makes the cluster's addresses tls://
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
            _quiet_shutdown(client)


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


def render(spec_path: str | Path) -> str:
    """``sgdsm cluster script``: the batch job script or Kubernetes manifest a spec submits, without submitting."""
    spec = load_spec(spec_path)
    if isinstance(spec, KubernetesSpec):
        import yaml

        return yaml.safe_dump(spec.manifest(), sort_keys=False)
    if isinstance(spec, JobQueueSpec):
        cluster = spec.cluster()  # starts a scheduler here, submits nothing
        try:
            return cluster.job_script()
        finally:
            cluster.close()
    raise ConfigError(f"{spec_path}: a {spec.kind} cluster has no job script; start it with `sgdsm cluster up`")


def _silence_distributed() -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


class _UserErrorFilter(logging.Filter):
    """Drops a worker's "Compute Failed" record when the task raised an :class:`~sgdsm_dask.errors.SgdsmError`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Compute Failed"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith(_USER_ERRORS) for a in args)


def _user_error_names() -> tuple[str, ...]:
    from . import errors

    found = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SgdsmError)]
    return tuple(f"{c.__name__}(" for c in found)


_USER_ERRORS = _user_error_names()


class QuietUserErrors(WorkerPlugin):
    """A worker plugin: a task that fails on the user's input or disk logs no traceback on its worker.

    The client turns the same error into one ``sgdsm: error:`` line naming
    the file; the worker's "Compute Failed" record with its traceback would
    only bury that line. Other task failures (bugs) are logged as usual.
    """

    name = "sgdsm-quiet-user-errors"

    def setup(self, worker: Any) -> None:
        logger = logging.getLogger("distributed.worker")
        if not any(isinstance(f, _UserErrorFilter) for f in logger.filters):
            logger.addFilter(_UserErrorFilter())
        zarr_store.quiet_zarr_leftovers()


class TunedMalloc(WorkerPlugin):
    """A worker plugin: the worker process's allocator keeps megabyte arrays in its heap (:mod:`sgdsm_dask.malloc`).

    A nanny's ``MALLOC_TRIM_THRESHOLD_`` otherwise sends every array above
    128 KiB to a mapping of its own, faulted in anew each time: decoded
    days while staging, tensors while reconstructing.
    """

    name = "sgdsm-tuned-malloc"

    def setup(self, worker: Any) -> None:
        malloc.tune()


def register_plugins(client: Any) -> None:
    """What every cluster ``sgdsm`` runs on gets: quiet user errors and the tuned allocator."""
    client.register_plugin(QuietUserErrors())
    client.register_plugin(TunedMalloc())


def _quiet_shutdown(client: Any) -> None:
    """Silence the workers' and scheduler's logs before a cluster we started is closed.

    While a local cluster shuts down, a worker's heartbeat can race the
    scheduler's exit and log a connection traceback. The run is over by then
    (its result or its one-line error is already decided), so the noise would
    only hide that line.
    """
    try:
        client.run(_silence_distributed, wait=True)
        client.run_on_scheduler(_silence_distributed)
    except Exception:  # noqa: BLE001 - workers already gone: nothing left to silence
        pass
