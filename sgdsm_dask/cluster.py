"""Getting a Dask client: an existing scheduler, a spec file in ``cluster/``, or a local cluster.

The local default uses worker *processes* with one thread each: HDF5 (behind
netCDF4 and h5netcdf) is not thread-safe, and each process gets its own
library state. The dashboard binds to localhost unless a spec says otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .config import load_yaml
from .errors import ConfigError


class _Local(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "auto"
    dashboard_address: str = "127.0.0.1:0"


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


Spec = LocalSpec | LocalGPUSpec


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


_KINDS: dict[str, type[BaseModel]] = {"local": LocalSpec, "local-gpu": LocalGPUSpec}


def load_spec(path: str | Path) -> Spec:
    data = load_yaml(path)
    kind = data.get("kind", "local")
    if kind not in _KINDS:
        raise ConfigError(
            f"{path}: cluster kind {kind!r} is not supported by this version; "
            f"use one of {', '.join(_KINDS)} or --scheduler"
        )
    try:
        return _KINDS[kind](**data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def gpu_cluster(spec: LocalGPUSpec) -> Any:
    """A local cluster with one worker per GPU, each pinned to it and declaring the resource ``GPU: 1``."""
    import torch

    n = torch.cuda.device_count()
    if n == 0:
        raise ConfigError("cluster kind 'local-gpu' needs a GPU that torch can see (torch.cuda.device_count() is 0)")
    common = {"memory_limit": spec.memory_limit, "resources": {"GPU": 1}}
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        from distributed import Nanny, Scheduler, SpecCluster

        # the GPUs this process may use (a batch system may have chosen them), one per worker
        visible = (
            os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if os.environ.get("CUDA_VISIBLE_DEVICES") else None
        )
        devices = visible or [str(i) for i in range(n)]
        workers = {
            i: {
                "cls": Nanny,
                "options": {"nthreads": spec.threads_per_worker, "env": {"CUDA_VISIBLE_DEVICES": dev}, **common},
            }
            for i, dev in enumerate(devices)
        }
        scheduler = {"cls": Scheduler, "options": {"dashboard_address": spec.dashboard_address}}
        return SpecCluster(workers=workers, scheduler=scheduler)
    return LocalCUDACluster(
        threads_per_worker=spec.threads_per_worker, dashboard_address=spec.dashboard_address, **common
    )


@contextmanager
def connect(
    scheduler: str | None = None,
    cluster: str | Path | None = None,
    n_workers: int | None = None,
) -> Iterator[Any]:
    """Yield a ``distributed.Client``; a cluster started here is closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler and cluster:
        raise ConfigError("give either --scheduler or --cluster, not both")
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        with client:
            yield client
        return
    spec = load_spec(cluster) if cluster else LocalSpec()
    if isinstance(spec, LocalGPUSpec):
        with gpu_cluster(spec) as lc, Client(lc) as client:
            try:
                yield client
            finally:
                _quiet_shutdown(client)
        return
    workers = n_workers or spec.n_workers or default_workers()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=spec.threads_per_worker,
            processes=True,
            memory_limit=spec.memory_limit,
            dashboard_address=spec.dashboard_address,
        ) as lc,
        Client(lc) as client,
    ):
        try:
            yield client
        finally:
            _quiet_shutdown(client)


def _silence_distributed() -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


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
    except Exception:  # workers already gone: nothing left to silence
        pass
