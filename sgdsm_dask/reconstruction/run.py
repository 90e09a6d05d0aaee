"""``sgdsm reconstruct``: plan the chains of a request, run them, tell the export when a time chunk is finished."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..io import zarr_store
from ..model.anomaly import AnomalyConfig
from ..paths import require_shared
from ..runner import run_chains
from ..training.checkpoint import Checkpoint, load
from .layout import Layout
from .provenance import Provenance, stored
from .request import ReconstructRequest, plan_layout
from .store import ResultStore
from .task import ChunkKey, run_chunk
from .worker import gpu_resources


def provenance_of(req: ReconstructRequest, ck: Checkpoint, lay: Layout) -> Provenance:
    """What the result store of ``req`` comes from (its ``store_id`` is set when the store is claimed)."""
    return Provenance(
        checkpoint=req.checkpoint_path(),
        checkpoint_sha256=ck.sha256,
        model_config=ck.config.model_dump(),
        normalisation=ck.normalisation.model_dump(),
        staged=req.staged,
        staged_fingerprint=zarr_store.read_attrs(req.staged).get("stage_fingerprint", ""),
        time_chunk=lay.time_chunk,
        space_chunk=lay.space_chunk,
        overlap=lay.overlap,
        days=lay.days,
        sgdsm_version=__version__,
        uncertainty=req.uncertainty,
        prior_days=lay.prior_days or None,
    )


def prior_days_of(req: ReconstructRequest, days: int, append: bool) -> int:
    """How many leading days the 'anomaly' network's prior is taken over: the request's, an appended store's, or all.

    An append keeps the prior the store was made with, so that the days it
    adds are filled around the same per-pixel levels as the days before; one
    run over the grown cube with ``prior_days`` set to it gives the same values.
    """
    n = req.prior_days
    if n is None and append and zarr_store.exists(req.out):
        n = stored(zarr_store.read_attrs(req.out)).get("prior_days")
    n = days if n is None else int(n)
    if not 1 <= n <= days:
        raise ConfigError(f"--prior-days {n}: the staged cube has {days} days (give 1 to {days})")
    return n


def run(
    req: ReconstructRequest, store: ResultStore, sha256: str, done: Any, client: Any, sink: Any, progress: Any
) -> int:
    """Run every chunk not ``done`` yet, a chain per block from its first unfinished chunk; the tasks run.

    ``sink`` (or None) is told each time chunk once no block has it left to
    do: at once for those finished before, then as the chains progress.
    """
    lay = store.layout
    chains = []
    for bi, bj in lay.blocks:
        todo = [k for k in range(lay.n_chunks) if not done[k, bi, bj]]
        if todo:
            chains.append([(req, lay, sha256, ChunkKey(k, bi, bj)) for k in range(todo[0], lay.n_chunks)])
    left = [sum(chain[0][3].chunk <= k for chain in chains) for k in range(lay.n_chunks)]

    def finished(k: int) -> None:
        if sink is not None:
            sink.chunk_finished(*lay.chunk_days(k))

    for k in range(lay.n_chunks):
        if not left[k]:
            finished(k)
    run_id = store.provenance.fingerprint()
    resources = gpu_resources(client) if client is not None else None
    tasks = run_chains(
        client, run_chunk, chains, key=lambda item: item[3].task_name(run_id), resources=resources, priority=1
    )  # priority: the chains are the critical path; files are written in the gaps
    n = 0
    for _, _, _, key in tasks:
        n += 1
        if progress:
            progress(1)
        left[key.chunk] -= 1
        if not left[key.chunk]:
            finished(key.chunk)
    return n


def reconstruct(
    req: ReconstructRequest,
    client: Any | None = None,
    *,
    overwrite: bool = False,
    append: bool = False,
    progress: Callable[[int], None] | None = None,
    export_to: str | None = None,
    cog: bool = False,
    total: Callable[[int], None] | None = None,
    metadata: Any | None = None,
    replace_export: bool = False,
) -> dict[str, Any]:
    """Build, resume or (``append``) extend the reconstruction store; returns a summary.

    With ``export_to``, the per-day files are written too (as ``sgdsm
    export`` would), each time chunk's as soon as every block has finished
    it, overlapping the reconstruction of later chunks on a cluster. The
    folder is checked before the result store is checked or written, and
    claimed only once the store is accepted: a run refused either way
    leaves the folder as it was. ``total`` is told the number of tasks
    (those resumed included) once the layout is known, for a bar's ETA;
    ``progress`` then counts each of them. ``metadata`` (a
    :class:`~sgdsm_dask.config.ProductMetadata`) names the daily files'
    creator and licence. With ``replace_export``, an export of another
    reconstruction that ``export_to`` holds is replaced
    (:meth:`~sgdsm_dask.export.DailyFiles.check`; a store rebuilt with
    ``overwrite`` is another reconstruction).
    """
    require_shared(req.out, client)
    sink = None
    if export_to is not None:
        from ..export import DailyFiles, folder

        # absolute on the client; an object store is one line
        sink = DailyFiles(export_to, cog=cog, client=client, metadata=metadata, replace=replace_export)
        folder.apart(sink.out, {"--out": req.out, "--store": req.staged})
    ck = load(req.checkpoint_path())
    lay = plan_layout(req, ck.config.hidden, getattr(ck.config, "memory_map", False))
    if isinstance(ck.config, AnomalyConfig):
        prior_days = prior_days_of(req, lay.days, append)
        lay = replace(lay, context_days=ck.config.window, prior_sigma=ck.config.prior_sigma, prior_days=prior_days)
    elif req.prior_days is not None:
        raise ConfigError(f"--prior-days: {req.checkpoint_path()} is a {ck.config.name!r} network, which has no prior")
    # --out is written only if it is absent, empty or a reconstruction store (outputs.claim); checked first
    store = ResultStore.claim(req.out, lay, provenance_of(req, ck, lay), overwrite=overwrite, append=append)
    if sink is not None:  # before anything is written: the folder may hold another reconstruction's files
        from ..export.manifest import export_provenance

        sink.check(export_provenance(req.out, store.provenance.as_dict()))
    added = store.prepare(req.staged, append)
    if sink is not None:
        sink.open(req.out)  # only now: a run refused above leaves the folder and its manifest as they were
    done = store.done()
    # sigma is fitted on the cube's own hidden pixels before the first chunk needs it (not with --no-uncertainty)
    if req.uncertainty and not done.all():
        from .calibration import ensure_sigma

        ensure_sigma(req, lay, ck.sha256, client, gpu_resources(client) if client is not None else None)
    resumed = int(done.sum())
    if total:
        total(lay.n_chunks * len(lay.blocks))
    if progress and resumed:
        progress(resumed)
    tasks_run = run(req, store, ck.sha256, done, client, sink, progress)
    files = sink.close()["files"] if sink is not None else None
    return {
        "store": req.out,
        "days": lay.days,
        "blocks": len(lay.blocks),
        "time_chunks": lay.n_chunks,
        "tasks_run": tasks_run,
        "tasks_resumed": resumed,
        "days_appended": added,
        "days_with_precip": int(zarr_store.read_array(req.staged, "precip_available").sum()),
        "checkpoint_sha256": ck.sha256,
        **({"daily_files": files, "out": sink.out} if sink is not None else {}),
    }
