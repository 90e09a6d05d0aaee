"""The model in a worker process: loaded once per checkpoint and overlap, on the worker's device and threads."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..model.fill import Filler
from ..training.checkpoint import load

_FILLERS: dict[str, Filler] = {}


def worker_device() -> str:
    """The device this process runs the model on.

    A Dask worker declaring the resource ``GPU`` runs on ``cuda:0``: its
    cluster gives each GPU worker its own GPU through ``CUDA_VISIBLE_DEVICES``
    (cluster kind ``local-gpu``, dask-cuda; set it yourself for workers you
    start by hand). A worker declaring no GPU leaves the GPUs to those that
    do and runs on the CPU. Outside a worker, the GPU when there is one.
    """
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:
        return "cuda"
    return "cuda:0" if worker.state.total_resources.get("GPU") else "cpu"


def _match_worker_threads() -> None:
    """Give torch the threads this Dask worker has, not every core (worker processes would oversubscribe)."""
    import torch

    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except ValueError:  # not in a worker: leave torch's own default
        return
    torch.set_num_threads(max(1, nthreads))


def worker_filler(path: str, sha256: str, overlap: int) -> Filler:
    """The model of this worker process, loaded once per checkpoint and overlap (on :func:`worker_device`)."""
    key = f"{sha256}-{overlap}"
    if key not in _FILLERS:
        ck = load(path)
        if ck.sha256 != sha256:
            raise InputError(path, "checkpoint changed on disk while the run was going")
        _match_worker_threads()
        _FILLERS[key] = Filler.from_checkpoint(ck, device=worker_device(), overlap=overlap)
    return _FILLERS[key]


def gpu_resources(client: Any) -> dict[str, float] | None:
    """``{"GPU": 1}`` when the cluster declares GPU resources (one per GPU worker), so tasks go to GPU workers."""
    workers = client.scheduler_info().get("workers", {})
    if any(w.get("resources", {}).get("GPU") for w in workers.values()):
        return {"GPU": 1}
    return None
