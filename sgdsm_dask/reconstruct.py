"""``sgdsm reconstruct``: the LSTM-CNN over a staged cube, as chains of Dask tasks along time.

The cube is cut into spatial blocks (the staged cube's spatial chunks,
whole patches) and time chunks. The patches form one grid over the whole
cube (:func:`~sgdsm_dask.model.fill.patch_origins`: stride ``40 - overlap``,
the last patch ending at the cube's edge), blended where they overlap; a block
reads a halo around its cells so that it runs every patch touching them,
and keeps the state of those patches (a patch on a block border is run by
both blocks, with the same inputs and so the same values). Space is independent, time is not: each
block is a chain of tasks, one per time chunk, each taking the LSTM state
the previous task returns and handing its own on. Chains run in parallel on
all workers; each worker process loads the model once.

Every task writes its days of ``sm`` and ``flag``, then the state at the end
of its chunk (``state_h``, ``state_c`` and, for configurations with a
memory map, ``state_memory``), then its ``done`` marker, last. A run
started again skips finished chunks and starts each chain from the state
stored at its last finished chunk, so the result is the same as one
uninterrupted run. Days that are not staged (missing in the archive,
skipped as bad input) are not fed to the model: the state goes from the
previous staged day to the next, as in the paper's record of 7115 days.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from . import __version__
from .errors import ConfigError, InputError, SgdsmError
from .export import check_folder, clear_folder, export, export_days, finish, folder, known_in, open_result
from .grid import DEFAULT_OVERLAP, PATCH, check_overlap
from .io import outputs, zarr_store
from .manifest import export_provenance
from .model.checkpoint import load, shipped_path
from .model.fill import FLAG_MEANINGS, FLAG_NOT_FILLED, Filler, PatchState, patch_origins
from .paths import absolute, local_or_url, require_shared
from .staging.stage import PENDING, STAGED


@dataclass(frozen=True)
class ReconstructRequest:
    """What to reconstruct, with which model, cut how."""

    staged: str
    out: str
    checkpoint: str | None = None  # None: the shipped default
    time_chunk: int = 8
    space_chunk: int | None = None  # None: the staged cube's spatial chunk
    overlap: int = DEFAULT_OVERLAP  # cells by which neighbouring patches overlap (blended); 0: edge to edge

    def __post_init__(self) -> None:
        # the workers open these paths: each must mean there what it means where the command was typed
        for name in ("staged", "out", "checkpoint"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, absolute(getattr(self, name)))

    def checkpoint_path(self) -> str:
        return self.checkpoint or str(shipped_path("default"))


@dataclass(frozen=True)
class Layout:
    """Sizes the client and the tasks agree on."""

    nt: int
    ny: int
    nx: int
    tc: int
    sc: int
    hidden: int
    memory: bool
    overlap: int

    @property
    def n_chunks(self) -> int:
        return -(-self.nt // self.tc)

    @property
    def n_blocks(self) -> tuple[int, int]:
        return -(-self.ny // self.sc), -(-self.nx // self.sc)

    @property
    def blocks(self) -> list[tuple[int, int]]:
        nby, nbx = self.n_blocks
        return [(bi, bj) for bi in range(nby) for bj in range(nbx)]

    def cells(self, bi: int, bj: int) -> tuple[slice, slice]:
        return slice(bi * self.sc, min(self.ny, (bi + 1) * self.sc)), slice(
            bj * self.sc, min(self.nx, (bj + 1) * self.sc)
        )

    def origins(self, n: int) -> np.ndarray:
        """First cells of the cube's patches along an axis of ``n`` cells."""
        return patch_origins(n, PATCH, self.overlap)

    def _span(self, b: int, n: int) -> tuple[int, int]:
        """The cube's patches [k0, k1) touching block ``b``'s cells along an axis of ``n`` cells."""
        r0, r1 = b * self.sc, min(n, (b + 1) * self.sc)
        touch = np.flatnonzero((self.origins(n) < r1) & (self.origins(n) + PATCH > r0))
        return int(touch[0]), int(touch[-1]) + 1

    def window(self, bi: int, bj: int) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """Cells the block reads (its own and the halo its patches cover) and its patches' origins in them."""
        out = []
        for b, n in ((bi, self.ny), (bj, self.nx)):
            k0, k1 = self._span(b, n)
            o = self.origins(n)[k0:k1]
            out.append((slice(int(o[0]), min(n, int(o[-1]) + PATCH)), o - o[0]))
        (rows, oy), (cols, ox) = out
        return rows, cols, oy, ox

    @property
    def patches_per_block(self) -> tuple[int, int]:
        """The most patch positions any block has, per axis (the state arrays' block size)."""
        nby, nbx = self.n_blocks
        ky = max(k1 - k0 for k0, k1 in (self._span(b, self.ny) for b in range(nby)))
        kx = max(k1 - k0 for k0, k1 in (self._span(b, self.nx) for b in range(nbx)))
        return ky, kx

    def days(self, k: int) -> tuple[int, int]:
        """First and past-last day of time chunk ``k``."""
        return k * self.tc, min(self.nt, (k + 1) * self.tc)

    def block_patches(self, bi: int, bj: int) -> tuple[int, int]:
        (y0, y1), (x0, x1) = self._span(bi, self.ny), self._span(bj, self.nx)
        return y1 - y0, x1 - x0


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


def check_staged(staged: str) -> Any:
    """The staged cube's group, once it is known to be a whole staged cube; one line otherwise.

    A cube whose staging stopped half-way would be filled with its
    unstaged days left empty, and a rerun after the staging finished
    would find nothing to do: those days would stay unfilled for good.
    """
    if not zarr_store.exists(staged):
        raise InputError(staged, "not a staged cube (no Zarr format 3 store here): run sgdsm stage first")
    g = zarr_store.open_group(staged, mode="r")
    kind = outputs.kind_of(dict(g.attrs))
    if kind != "staged" or not all(name in g for name in ("sm", "precip", "land", "day_status")):
        what = f"a {outputs.NAMES[kind]}" if kind else "a Zarr store sgdsm did not stage"
        raise InputError(staged, f"is {what}, not a staged cube: give --store the output of sgdsm stage")
    status = zarr_store.read_chunks_safely(staged, "day_status", g["day_status"].chunks[0], g["day_status"].shape[0], 0)
    pending = int(np.count_nonzero(status == PENDING))
    if pending:
        raise InputError(
            staged,
            f"staging is not finished ({pending} of {status.size} days still pending): "
            "run the same sgdsm stage command again to finish it, then reconstruct",
        )
    return g


def _layout(req: ReconstructRequest, hidden: int, memory: bool) -> Layout:
    g = check_staged(req.staged)
    nt, ny, nx = g["sm"].shape
    if min(ny, nx) < PATCH:
        raise InputError(
            req.staged,
            f"its region is {ny} x {nx} cells, smaller than the model's {PATCH} x {PATCH}-cell patch "
            f"({PATCH * 0.25:g} degrees): stage a region at least that large around your area "
            "(the model needs the context) and cut the result afterwards",
        )
    if req.space_chunk is not None and req.space_chunk < 1:
        raise ConfigError(f"--space-chunk {req.space_chunk}: a spatial block must be at least {PATCH} cells")
    # by default the staged cube's spatial chunk, whole patches (a region smaller than a chunk has one chunk)
    sc = req.space_chunk or -(-max(g["sm"].chunks[1:]) // PATCH) * PATCH
    if sc % PATCH:
        raise InputError(req.staged, f"spatial chunk {sc} is not a multiple of the {PATCH}-cell patch")
    if req.time_chunk < 1:
        raise ConfigError(f"--time-chunk {req.time_chunk}: a time chunk must be at least one day")
    check_overlap(req.overlap)  # before anything is written
    return Layout(nt, ny, nx, req.time_chunk, sc, hidden, memory, req.overlap)


def _template(req: ReconstructRequest, lay: Layout, provenance: dict[str, Any]) -> xr.Dataset:
    staged = xr.open_zarr(local_or_url(req.staged), consolidated=False)
    nby, nbx = lay.n_blocks
    ky, kx = lay.patches_per_block
    tc, sc, nb = lay.tc, lay.sc, lay.n_chunks
    state_dims = ("boundary", "block_y", "block_x", "patch_y", "patch_x")
    data = {
        "sm": (
            ("time", "lat", "lon"),
            zarr_store.lazy((lay.nt, lay.ny, lay.nx), (tc, sc, sc), np.float32, np.nan),
            {
                "units": "m3 m-3",
                "standard_name": "volume_fraction_of_condensed_water_in_soil",
                "long_name": "surface soil moisture, gaps filled by the SGD-SM 2.0 LSTM-CNN",
            },
        ),
        "flag": (
            ("time", "lat", "lon"),
            zarr_store.lazy((lay.nt, lay.ny, lay.nx), (tc, sc, sc), np.int8, FLAG_NOT_FILLED),
            {"flag_values": np.arange(3, dtype=np.int8), "flag_meanings": FLAG_MEANINGS},
        ),
        "land": staged["land"].load(),
        "state_h": (
            (*state_dims, "hidden"),
            zarr_store.lazy((nb, nby, nbx, ky, kx, lay.hidden), (1, 1, 1, ky, kx, lay.hidden), np.float32, 0.0),
            {"long_name": "LSTM h of each patch of each block at the end of each time chunk"},
        ),
        "state_c": (
            (*state_dims, "hidden"),
            zarr_store.lazy((nb, nby, nbx, ky, kx, lay.hidden), (1, 1, 1, ky, kx, lay.hidden), np.float32, 0.0),
            {"long_name": "LSTM C of each patch of each block at the end of each time chunk"},
        ),
        "done": (
            ("boundary", "block_y", "block_x"),
            zarr_store.lazy((nb, nby, nbx), (1, 1, 1), np.int8, 0),
            {"long_name": "1 when the time chunk of the block is written (written last)"},
        ),
    }
    if lay.memory:
        data["state_memory"] = (
            (*state_dims, "memory", "py", "px"),
            zarr_store.lazy(
                (nb, nby, nbx, ky, kx, 2, PATCH, PATCH), (1, 1, 1, ky, kx, 2, PATCH, PATCH), np.float32, 0.0
            ),
            {"long_name": "decayed mean of past observations (normalised) and its weight, per pixel"},
        )
    ds = xr.Dataset(
        data,
        coords={"time": staged["time"], "lat": staged["lat"], "lon": staged["lon"]},
        attrs={
            "title": "sgdsm-dask reconstruction (SGD-SM 2.0 LSTM-CNN)",
            "Conventions": "CF-1.8",
            "sgdsm_version": __version__,
            "provenance": json.dumps(provenance, sort_keys=True),
            "reconstruct_fingerprint": _fingerprint(provenance),
        },
    )
    for name in ("sm", "flag"):
        ds[name].encoding["chunks"] = (tc, sc, sc)
    for name in ("state_h", "state_c"):
        ds[name].encoding["chunks"] = (1, 1, 1, ky, kx, lay.hidden)
        ds[name].encoding["compressors"] = None  # model state does not compress; not trying saves time
    ds["done"].encoding["chunks"] = (1, 1, 1)
    if lay.memory:
        ds["state_memory"].encoding["chunks"] = (1, 1, 1, ky, kx, 2, PATCH, PATCH)
        ds["state_memory"].encoding["compressors"] = None
    return ds


def _fingerprint(provenance: dict[str, Any]) -> str:
    keys = ("checkpoint_sha256", "staged_fingerprint", "time_chunk", "space_chunk", "overlap", "days")
    return hashlib.sha256(json.dumps({k: provenance[k] for k in keys}, sort_keys=True).encode()).hexdigest()[:16]


def _state_sel(lay: Layout, k: int, bi: int, bj: int) -> tuple[slice, ...]:
    ky, kx = lay.block_patches(bi, bj)
    return slice(k, k + 1), slice(bi, bi + 1), slice(bj, bj + 1), slice(0, ky), slice(0, kx)


def _read_state(dst: Any, lay: Layout, k: int, bi: int, bj: int) -> PatchState:
    sel = _state_sel(lay, k, bi, bj)
    h = np.asarray(dst["state_h"][sel])[0, 0, 0]
    c = np.asarray(dst["state_c"][sel])[0, 0, 0]
    y = np.asarray(dst["state_memory"][sel])[0, 0, 0] if lay.memory else None
    return PatchState(h, c, y)


def reconstruct_chunk(
    req: ReconstructRequest,
    lay: Layout,
    sha256: str,
    k: int,
    block: tuple[int, int],
    state: PatchState | None,
) -> PatchState:
    """One task: time chunk ``k`` of spatial block ``block``; returns the state after it.

    Everything else the task needs it reads from the stores, so Dask can
    run it again on another worker if the one that held its input died
    (data scattered to one worker would be lost with it).
    """
    bi, bj = block
    src = zarr_store.open_group(req.staged, mode="r")  # each store opened once per task
    dst = zarr_store.open_group(req.out)
    if state is None and k > 0:
        state = _read_state(dst, lay, k - 1, bi, bj)
    filler = worker_filler(req.checkpoint_path(), sha256, lay.overlap)
    rows, cols = lay.cells(bi, bj)
    wr, wc, oy, ox = lay.window(bi, bj)
    land = np.asarray(src["land"][wr, wc]).astype(bool)
    t0, t1 = lay.days(k)
    status = np.asarray(src["day_status"][t0:t1])
    sm = np.asarray(src["sm"][t0:t1, wr, wc])
    precip = np.asarray(src["precip"][t0:t1, wr, wc])
    own = (
        slice(None),
        slice(rows.start - wr.start, rows.stop - wr.start),
        slice(cols.start - wc.start, cols.stop - wc.start),
    )
    out_sm = np.full(sm[own].shape, np.nan, np.float32)
    out_flag = np.full(sm[own].shape, FLAG_NOT_FILLED, np.int8)
    days = np.flatnonzero(status == STAGED)
    if days.size:
        filled, flag, state = filler.run(sm[days], precip[days], land, state, origins=(oy, ox))
        out_sm[days], out_flag[days] = filled[own], flag[own]
    elif state is None:
        state = PatchState.zeros(oy.size, ox.size, filler.hidden)
    sel = _state_sel(lay, k, bi, bj)
    with zarr_store.writing(req.out):
        dst["sm"][t0:t1, rows, cols] = out_sm
        dst["flag"][t0:t1, rows, cols] = out_flag
        dst["state_h"][sel] = state.h[None, None, None]
        dst["state_c"][sel] = state.c[None, None, None]
        if lay.memory:
            mem = state.y if state.y is not None else np.zeros(state.h.shape[:2] + (2, PATCH, PATCH), np.float32)
            dst["state_memory"][sel] = mem[None, None, None]
        dst["done"][k : k + 1, bi : bi + 1, bj : bj + 1] = np.ones((1, 1, 1), np.int8)  # last: the commit
    return state


def _raise_for(fut: Any) -> None:
    """The error of a task that did not finish: its own, or one line for a task the cluster gave up on."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    try:
        fut.result()
    except (CancelledError, KilledWorker) as exc:
        why = "lost with its worker" if isinstance(exc, CancelledError) else "its workers died while running it"
        raise SgdsmError(
            f"Dask gave up on task {fut.key} ({why}; distributed.scheduler.allowed-failures sets how often it "
            "retries); finished chunks are kept: run the same command again to resume"
        ) from None


def _append(req: ReconstructRequest, lay: Layout, provenance: dict[str, Any]) -> int:
    """Grow the result store to the staged cube's days; return how many days were added.

    The days already reconstructed must be the first days of the staged
    cube, with the same checkpoint and chunks. The last time chunk, if it
    was short, is marked unfinished so that it is redone over its full
    length from the state stored before it: the values are those of one run.
    """
    old = json.loads(zarr_store.read_attrs(req.out).get("provenance", "{}"))
    for key in ("checkpoint_sha256", "time_chunk", "space_chunk", "overlap"):
        if old.get(key) != provenance[key]:  # a store from before overlap was recorded has 4-D states: no append
            raise InputError(req.out, f"cannot append: {key} was {old.get(key)!r}, now {provenance[key]!r}")
    g = zarr_store.open_group(req.out)
    s = zarr_store.open_group(req.staged, mode="r")
    if g["time"].attrs.get("units") != s["time"].attrs.get("units"):
        raise InputError(req.staged, "time is encoded differently from the reconstruction's; cannot append")
    t_old, t_new = g["time"][:], s["time"][:]
    n0 = t_old.size
    if t_new.size < n0 or not np.array_equal(t_new[:n0], t_old):
        raise InputError(req.staged, f"its first {n0} days are not the days already in {req.out}; cannot append")
    if not (np.array_equal(g["lat"][:], s["lat"][:]) and np.array_equal(g["lon"][:], s["lon"][:])):
        raise InputError(req.staged, f"its grid differs from {req.out}'s; cannot append")
    if t_new.size == n0:  # nothing new, or an append stopped after growing the store: its provenance is due
        _record(req.out, provenance)
        return 0
    nb_old = -(-n0 // lay.tc)
    with zarr_store.writing(req.out):
        # The short last chunk is unmarked first, so that a write failing below cannot leave a chunk
        # that must be redone marked as done.
        if n0 % lay.tc:
            g["done"][nb_old - 1] = 0
        g["time"].resize((lay.nt,))
        g["time"][n0:] = t_new[n0:]
        for name in ("sm", "flag"):
            g[name].resize((lay.nt, lay.ny, lay.nx))
        names = ["state_h", "state_c", "done"] + (["state_memory"] if lay.memory else [])
        for name in names:
            arr = g[name]
            arr.resize((lay.n_chunks,) + arr.shape[1:])
        g["done"][nb_old:] = 0
    _record(req.out, provenance)  # last: until then a plain run refuses the store and --append resumes it
    return lay.nt - n0


def _record(out: str, provenance: dict[str, Any]) -> None:
    zarr_store.update_attrs(
        out, {"provenance": json.dumps(provenance, sort_keys=True), "reconstruct_fingerprint": _fingerprint(provenance)}
    )


def reconstruct(
    req: ReconstructRequest,
    client: Any | None = None,
    *,
    overwrite: bool = False,
    append: bool = False,
    progress: Callable[[int], None] | None = None,
    export_to: str | None = None,
    cog: bool = False,
) -> dict[str, Any]:
    """Build, resume or (``append``) extend the reconstruction store; returns a summary.

    With ``export_to``, the per-day files are written too (as ``sgdsm
    export`` would). On a cluster each time chunk's files are written as
    soon as every block has finished it, overlapping the reconstruction of
    later chunks; without a client, after the whole run.
    """
    require_shared(req.out, client)
    if export_to is not None:
        export_to = folder(export_to)  # absolute on the client; an object store is one line, before any work
    ck = load(req.checkpoint_path())
    lay = _layout(req, ck.config.hidden, ck.config.memory_map)
    staged_attrs = zarr_store.read_attrs(req.staged)
    provenance = {
        "checkpoint": req.checkpoint_path(),
        "checkpoint_sha256": ck.sha256,
        "model_config": ck.config.model_dump(),
        "normalisation": ck.normalisation.model_dump(),
        "staged": req.staged,
        "staged_fingerprint": staged_attrs.get("stage_fingerprint", ""),
        "time_chunk": lay.tc,
        "space_chunk": lay.sc,
        "overlap": lay.overlap,
        "days": lay.nt,
        "sgdsm_version": __version__,
    }
    # --out is written only if it is absent, empty or a reconstruction store (outputs.claim); checked first
    claim = outputs.claim(req.out, "result", _fingerprint(provenance), overwrite=overwrite and not append)
    # A store resumed or appended to keeps its id; a new or overwritten one draws one (export folders tell by it).
    kept_store = claim != "create"
    old = json.loads(zarr_store.read_attrs(req.out).get("provenance", "{}")) if kept_store else {}
    provenance["store_id"] = old.get("store_id") if kept_store else uuid.uuid4().hex
    # the export folder is checked before anything is written: it may hold another reconstruction's files
    folder_prov = export_provenance(req.out, provenance) if export_to is not None else None
    known = check_folder(export_to, folder_prov) if export_to is not None else {}
    if claim == "other" and not append:
        raise InputError(
            req.out,
            "store holds a reconstruction of another request (checkpoint, staged cube or chunks); "
            "choose another --out, pass --overwrite, or --append for new days",
        )
    added = 0
    if claim == "create":
        zarr_store.write_template(req.out, _template(req, lay, provenance), "result")
    elif append:
        added = _append(req, lay, provenance)
    if export_to is not None:
        clear_folder(
            export_to, folder_prov
        )  # only now: a run refused above leaves the folder and its manifest as they were
    done = zarr_store.read_array(req.out, "done")
    blocks = lay.blocks
    run_id = _fingerprint(provenance)
    chains = []
    for bi, bj in blocks:
        todo = [k for k in range(lay.n_chunks) if not done[k, bi, bj]]
        if todo:
            chains.append(((bi, bj), todo[0]))
    finished = int(done.sum())
    if progress and finished:
        progress(finished)
    run, files = 0, None
    if client is None:
        for block, k0 in chains:
            state = None
            for k in range(k0, lay.n_chunks):
                state = reconstruct_chunk(req, lay, ck.sha256, k, block, state)
                run += 1
                if progress:
                    progress(1)
        if export_to is not None:
            files = export(req.out, export_to, cog=cog, known=known)["files"]  # after the whole run: one process
    else:
        from distributed import as_completed

        resources = gpu_resources(client)
        pending, chunk_of = as_completed(), {}
        for block, k0 in chains:
            prev = None
            for k in range(k0, lay.n_chunks):
                prev = client.submit(
                    reconstruct_chunk,
                    req,
                    lay,
                    ck.sha256,
                    k,
                    block,
                    prev,
                    key=f"reconstruct-{run_id}-{block[0]}-{block[1]}-{k}",
                    pure=False,
                    resources=resources,
                    priority=1,  # the chains are the critical path; files are written in the gaps
                )
                pending.add(prev)
                chunk_of[prev.key] = k
        prev = None
        # Time chunk k's files are written once no block has it left to do.
        left = [sum(k0 <= k for _, k0 in chains) for k in range(lay.n_chunks)]
        exports, written = as_completed(), []
        times = open_result(req.out)["time"].values if export_to is not None else None

        def export_chunk(k: int) -> None:
            if export_to is not None:
                t0, t1 = lay.days(k)
                mine = known_in(known, times[t0:t1])
                exports.add(client.submit(export_days, req.out, export_to, t0, t1, cog, mine, pure=False))

        def collect(block: bool) -> None:
            """The finished exports' files; an export that failed (a full disk) stops the run now, not at the end."""
            for f in exports if block else exports.next_batch(block=False) if exports.has_ready() else ():
                if f.status != "finished":
                    _raise_for(f)
                written.extend(f.result())

        for k in range(lay.n_chunks):
            if not left[k]:
                export_chunk(k)
        # The client holds each future only until it completes, and never fetches a state: a chunk's
        # state (megabytes per block) stays on its worker only while the next task of its chain needs it.
        for fut in pending:
            if fut.status != "finished":
                _raise_for(fut)
            k = chunk_of.pop(fut.key)
            run += 1
            if progress:
                progress(1)
            left[k] -= 1
            if not left[k]:
                export_chunk(k)
            collect(block=False)
        fut = None
        if export_to is not None:
            collect(block=True)
            files = finish(req.out, export_to, written)["files"]
    return {
        "store": req.out,
        "days": lay.nt,
        "blocks": len(blocks),
        "time_chunks": lay.n_chunks,
        "tasks_run": run,
        "tasks_resumed": finished,
        "days_appended": added,
        "days_with_precip": int(zarr_store.read_array(req.staged, "precip_available").sum()),
        "checkpoint_sha256": ck.sha256,
        **({"daily_files": files, "out": export_to} if export_to is not None else {}),
    }
