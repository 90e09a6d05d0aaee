"""The Dask runtime: where every command gets its cluster and what each worker is given.

- :mod:`.specs`: the cluster specs of ``cluster/`` (``local``, ``local-gpu``,
  ``slurm``, ``pbs``, ``kubernetes``, ``gateway``) as pydantic models, loaded from YAML
  (:func:`load_spec`) and rendered as job scripts or resources (:func:`render`);
- :mod:`.start`: :func:`connect` (a client on a running scheduler, a spec's
  cluster or a local one), :func:`start`, :func:`serve` (``sgdsm cluster up``),
  :func:`keep_jobs` (a batch job that ends is replaced), :func:`dashboard_link`;
- :mod:`.plugins`: the worker plugins every cluster gets (:func:`register_plugins`);
- :mod:`.logs`: the log filters; :mod:`.malloc`: the allocator thresholds of a
  process that runs the model.
"""

from . import malloc
from .plugins import QuietUserErrors, TunedMalloc, register_plugins
from .specs import TLS, GatewaySpec, JobQueueSpec, KubernetesSpec, LocalGPUSpec, LocalSpec, Spec, load_spec, render
from .start import (
    connect,
    dashboard_link,
    default_workers,
    gpu_cluster,
    keep_jobs,
    nanny_gpu_cluster,
    serve,
    start,
)

__all__ = [
    "TLS",
    "GatewaySpec",
    "JobQueueSpec",
    "KubernetesSpec",
    "LocalGPUSpec",
    "LocalSpec",
    "QuietUserErrors",
    "Spec",
    "TunedMalloc",
    "connect",
    "dashboard_link",
    "default_workers",
    "gpu_cluster",
    "keep_jobs",
    "load_spec",
    "malloc",
    "nanny_gpu_cluster",
    "register_plugins",
    "render",
    "serve",
    "start",
]
