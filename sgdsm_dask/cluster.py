"""Getting a Dask client: an existing scheduler, a spec file in ``cluster/``, or a local cluster.

The local default uses worker *processes* with one thread each: HDF5 (behind
netCDF4 and h5netcdf) is not thread-safe, and each process gets its own
library state. The dashboard binds to localhost unless a spec says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .config import load_yaml
from .errors import ConfigError


class LocalSpec(BaseModel):
    """``kind: local`` in a cluster spec."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["local"] = "local"
    n_workers: int | None = Field(None, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "auto"
    dashboard_address: str = "127.0.0.1:0"


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def load_spec(path: str | Path) -> LocalSpec:
    data = load_yaml(path)
    kind = data.get("kind", "local")
    if kind != "local":
        raise ConfigError(f"{path}: cluster kind {kind!r} is not supported by this version; use 'local' or --scheduler")
    try:
        return LocalSpec(**data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


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
        yield client
