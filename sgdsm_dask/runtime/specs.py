"""Cluster specs: the YAML files of ``cluster/`` as pydantic models, loaded and rendered.

A spec is a YAML file whose ``kind`` picks the cluster:

- ``local``: a ``LocalCluster`` of worker *processes* with one thread each
  (HDF5, behind netCDF4 and h5netcdf, is not thread-safe, and each process
  gets its own library state); the default;
- ``local-gpu``: one worker process per GPU of this machine, each declaring
  the resource ``GPU: 1`` (dask-cuda's ``LocalCUDACluster`` when installed);
- ``slurm`` and ``pbs``: batch jobs through dask-jobqueue, each job one
  worker (with one GPU when ``gpus: 1``) or several CPU workers;
- ``kubernetes``: a ``DaskCluster`` resource of the dask-kubernetes operator;
- ``gateway``: a cluster of a Dask Gateway server (a Pangeo hub's), through
  dask-gateway.

The local and batch kinds take a ``tls`` block (:class:`TLS`) for clusters
whose traffic leaves this machine, and bind the dashboard to localhost
unless the spec's ``dashboard_address`` says otherwise (reach it with
``ssh -L``). Kubernetes takes ``tls_secret`` instead; its dashboard is
inside the cluster, behind the scheduler's service (``kubectl
port-forward``). A gateway makes its own certificates for every cluster
and serves the dashboard through its proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import invalid, load_yaml
from ..errors import ConfigError


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

    def security(self) -> Any:
        """The ``distributed.Security`` of the spec's ``tls`` block; None without one."""
        return self.tls.security() if self.tls is not None else None


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


class GatewaySpec(_Spec):
    """``kind: gateway``: a cluster of a Dask Gateway server, as a Pangeo hub offers one.

    The gateway starts the scheduler and the workers (on its Kubernetes,
    its batch queue or its own machine) and proxies the client's traffic,
    with TLS certificates of its own for each cluster. ``address`` (and
    ``proxy_address``, ``auth``) default to Dask's configuration
    (``gateway.address``, ...), which a hub sets in its notebook servers.
    ``worker_cores``, ``worker_memory`` and ``options`` are the cluster
    options the gateway offers (``Gateway().cluster_options()`` lists
    them); a name it does not offer is an error. The password of ``basic``
    auth is read from the environment variable ``password_env``, never from
    the spec.
    """

    kind: Literal["gateway"] = "gateway"
    address: str | None = None
    proxy_address: str | None = None
    public_address: str | None = None
    auth: Literal["basic", "jupyterhub", "kerberos"] | None = None
    username: str | None = None
    password_env: str | None = None
    workers: int = Field(2, ge=1)
    worker_cores: int | None = Field(1, ge=1)
    worker_memory: float | str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    wait_for_workers_s: float = Field(600.0, ge=0)

    @model_validator(mode="after")
    def _gateway_tls(self) -> GatewaySpec:
        if self.tls is not None:
            raise ValueError("kind gateway takes no tls block: the gateway makes certificates for each cluster")
        if (self.username or self.password_env) and self.auth != "basic":
            raise ValueError("username and password_env are for auth: basic")
        return self

    def cluster_options(self) -> dict[str, Any]:
        """The options the new cluster is asked for: ``options``, then ``worker_cores`` and ``worker_memory``."""
        opts = dict(self.options)
        if self.worker_cores is not None:
            opts["worker_cores"] = self.worker_cores
        if self.worker_memory is not None:
            opts["worker_memory"] = self.worker_memory
        return opts

    def _auth(self) -> Any:
        import os

        if self.auth != "basic":
            return self.auth  # None: Dask's configuration; dask-gateway builds the other kinds
        from dask_gateway.auth import BasicAuth

        password = None
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise ConfigError(f"cluster kind 'gateway': the environment variable {self.password_env} is not set")
        return BasicAuth(self.username, password)

    def cluster(self) -> Any:
        """A new cluster on the gateway (no worker asked for yet); shut down when it is closed."""
        try:
            from aiohttp import ClientError
            from dask_gateway.client import GatewayClusterError, GatewayServerError
        except ImportError:
            raise ConfigError("cluster kind 'gateway' needs dask-gateway: pip install dask-gateway") from None
        where = self.address or "the gateway of Dask's configuration"
        try:
            return _gateway_cluster(
                address=self.address,
                proxy_address=self.proxy_address,
                public_address=self.public_address,
                auth=self._auth(),
                shutdown_on_close=True,
                **self.cluster_options(),
            )
        except (GatewayClusterError, GatewayServerError, ClientError, OSError, ValueError) as exc:
            # refused options (ValueError), refused credentials (ClientError), no server there (OSError)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cluster kind 'gateway': {where}: {first}") from None


def _gateway_cluster(**kwargs: Any) -> Any:
    """A ``dask_gateway.GatewayCluster`` whose gateway client, once closed with it, is not closed again.

    ``Gateway.__del__`` closes the client a second time, and with
    distributed 2026 that raises (its stopped loop runner refuses access to
    its loop): an "Exception ignored" traceback whenever the closed cluster
    is garbage-collected, in a notebook or a test.
    """
    from dask_gateway import GatewayCluster

    class _ClosedOnce(GatewayCluster):
        def close(self, shutdown: bool | None = None) -> Any:
            out = super().close(shutdown)
            if not self.asynchronous and self.status == "closed":
                self.gateway.__dict__.pop("_loop_runner", None)  # what Gateway.__del__ checks before closing
            return out

    return _ClosedOnce(**kwargs)


Spec = LocalSpec | LocalGPUSpec | JobQueueSpec | KubernetesSpec | GatewaySpec

_KINDS: dict[str, type[BaseModel]] = {
    "local": LocalSpec,
    "local-gpu": LocalGPUSpec,
    "slurm": JobQueueSpec,
    "pbs": JobQueueSpec,
    "kubernetes": KubernetesSpec,
    "gateway": GatewaySpec,
}


def load_spec(path: str | Path) -> Spec:
    data = load_yaml(path)
    kind = data.get("kind", "local")
    if kind not in _KINDS:
        raise ConfigError(f"{path}: cluster kind {kind!r} is not one of {', '.join(_KINDS)}")
    try:
        return _KINDS[kind](**data)
    except ValueError as exc:
        raise invalid(path, exc) from None


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
