"""``sgdsm evaluate --chunked``: the scores of ``sgdsm evaluate`` on Dask, in memory bounded by a time slab.

:func:`~.simulated.evaluate_store` reads the cube whole. The paper's record
(7115 x 720 x 1440) is about 29 GB per float32 variable, so here each
method's fill and every score are computed one slab of days at a time
(the model's time chunk, all the cube's cells), with what crosses a slab
border carried from one slab's task to the next:

1. **Hide** (tasks per slab, two chains carrying the per-pixel sums): the
   scored pixels are hidden with the same derangement of days as in memory
   (:func:`.simulated.hide`; each slab reads the days it takes the gaps
   of), and the hidden cube ``sm_in`` is written to a work store, with the
   sums each pixel's climatology and scale come from.
2. **Choose** the baselines' parameters on a second set of pixels hidden
   from ``sm_in`` (:mod:`.tuning`): for the neighbour anomaly, hidden,
   summed and scored slab by slab like the first set, so the choice is the
   in-memory one on a cube of any length; for DCT-PLS, on a sample of at
   most ``tune_days`` days read whole (on a cube no longer, the same).
3. **Look ahead** (a chain backwards in time): for each slab, every pixel's
   first observation after it, for linear interpolation; and DCT-PLS on a
   moving window (:func:`.lazy.dct_pls`, blocks of days and cells with a
   margin of each), written to the work store.
4. **Fill and score** (a chain forwards in time): the LSTM-CNN's chains
   (:func:`~sgdsm_dask.reconstruction.graph.fill_arrays`, as ``sgdsm
   reconstruct`` runs them) feed one task per slab that makes the other
   baselines of its days with the functions the in-memory evaluation uses
   (the climatology of the whole record, the neighbours' anomaly of each
   day, linear interpolation from the carried last observation and the
   next one of step 3) and adds each method's errors on the slab's scored
   pixels to running sums: per set of pixels, class of climatology and
   latitude band, the seam score's jumps, each pixel's squared errors, and
   the reliability of the model's sigma (fitted as in memory, on windows
   of ``sm_in``).

The sums give the table of ``sgdsm evaluate``. On a cube of at most
``tune_days`` days whose DCT-PLS fits in one block it equals the
in-memory table (``tests/validation/test_chunked_eval.py``); on a longer
one DCT-PLS's parameters are chosen on the sample and it runs on the
moving window. ``benchmarks/evaluate_memory.py`` measures the peak
memory of 365 global days against 30.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import baselines, simulated
from .simulated import CLASS_EDGES, NEIGHBOUR, Score

#: Days of the sample the baselines' parameters are chosen on (the whole cube when it is no longer).
TUNE_DAYS = 64
#: DCT-PLS's moving window (:func:`.lazy.dct_pls`): days, rows and columns of a block, and the margin of each
#: read around it. A cube of at most 64 days and 512 x 512 cells is one block: the in-memory fill.
DCT_BLOCK, DCT_HALO = (64, 512, 512), (16, 64, 64)
#: The work store's name in ``--work`` (the hidden cubes, the look-ahead, DCT-PLS's fill), removed at the end.
WORK_STORE = "sgdsm-evaluate-work.zarr"
#: The model's name in the tables.
MODEL = "LSTM-CNN"
#: The per-set sums: pixels, then per method the sum of the errors and of their squares.
SETS = ("hidden observed pixels", "hidden pixels vs truth", "all gaps vs truth")


@dataclass
class Cube:
    """What every task needs to know of the cube: where it is read, its grid, and the choices made on it."""

    store: str
    rows: slice
    cols: slice
    days: int
    land: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    slab: int
    truth: str | None
    work: str
    others: np.ndarray  # the day whose gaps hide each day's pixels (simulated.other_days)
    others2: np.ndarray  # the same for the second hidden set the baselines' parameters are chosen on
    spin_up: int = 0

    @property
    def slabs(self) -> list[tuple[int, int]]:
        return [(t0, min(self.days, t0 + self.slab)) for t0 in range(0, self.days, self.slab)]

    def read(self, name: str, t0: int, t1: int, store: str | None = None) -> np.ndarray:
        """Days ``t0`` to ``t1`` of ``name`` over the cube's cells, from the staged store (or ``store``)."""
        from ..io import zarr_store

        return zarr_store.read_array(store or self.store, name, (slice(t0, t1), self.rows, self.cols))

    def read_box(self, name: str, t: slice, rows: slice, cols: slice) -> np.ndarray:
        """Days ``t`` of ``name`` on the cube's cells ``rows`` x ``cols`` (in the cube's own indices)."""
        from ..io import zarr_store

        r0, c0 = self.rows.start or 0, self.cols.start or 0
        sel = (t, slice(r0 + rows.start, r0 + rows.stop), slice(c0 + cols.start, c0 + cols.stop))
        return zarr_store.read_array(self.store, name, sel)


# --- step 1: hide, and the per-pixel sums --------------------------------------------------------------------


def _hide_slab(
    cube: Cube, second: bool, t0: int, t1: int, sums: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, ...]:
    """Hide the slab's pixels, write the cube and the hidden pixels to the work store; add to the sums.

    The same pixels as :func:`.simulated.hide` of the whole cube: observed
    land pixels that are gaps on day ``others[t]``. ``second``: the second
    set of :func:`.tuning.second_set`, hidden from ``sm_in`` with the days
    of seed + 1, into ``sm_in2`` and ``hidden2``.
    """
    from ..io import zarr_store

    def read(u0: int, u1: int) -> np.ndarray:
        return zarr_store.read_array(cube.work, "sm_in", (slice(u0, u1),)) if second else cube.read("sm", u0, u1)

    others = cube.others2 if second else cube.others
    sm = read(t0, t1)
    # the other days' masks, each time chunk of the source read once (not once per day it holds)
    step = int(
        zarr_store.open_group(cube.work if second else cube.store, mode="r")["sm_in" if second else "sm"].chunks[0]
    )
    wanted = others[t0:t1].astype(np.int64)
    gap_elsewhere = np.empty(sm.shape, bool)
    for c0 in np.unique(wanted // step * step):
        block = ~np.isfinite(read(int(c0), int(min(cube.days, c0 + step))))
        at = np.flatnonzero(wanted // step * step == c0)
        gap_elsewhere[at] = block[wanted[at] - c0]
    hidden = np.isfinite(sm) & gap_elsewhere & cube.land[None]
    sm_in = np.where(hidden, np.nan, sm).astype(np.float32)
    names = ("sm_in2", "hidden2") if second else ("sm_in", "hidden")
    zarr_store.write_region(cube.work, dict(zip(names, (sm_in, hidden), strict=True)), t0)
    obs = np.isfinite(sm_in)
    v = np.where(obs, sm_in, 0.0).astype(np.float64)
    part = (v.sum(0), (v**2).sum(0), obs.sum(0).astype(np.int64))
    return part if sums is None else tuple(a + b for a, b in zip(sums, part, strict=True))


def _tune_slab(
    cube: Cube, clim2: np.ndarray, sigmas: tuple[float, ...], t0: int, t1: int, acc: np.ndarray | None
) -> np.ndarray:
    """Add the slab's (n, sum of squared errors) of each candidate ``sigma`` on the second hidden set to ``acc``.

    As :func:`.tuning.choose` scores them: the second-set pixels that every
    candidate filled, against ``sm_in``.
    """
    from ..io import zarr_store

    sel = (slice(t0, t1),)
    sm_in = zarr_store.read_array(cube.work, "sm_in", sel)
    cube2 = zarr_store.read_array(cube.work, "sm_in2", sel)
    common = zarr_store.read_array(cube.work, "hidden2", sel) & np.isfinite(sm_in)
    fills = [baselines.neighbour_anomaly(cube2, sg, clim=clim2) for sg in sigmas]
    for f in fills:
        common &= np.isfinite(f)
    ref = sm_in[common].astype(np.float64)
    part = np.array([[common.sum(), ((f[common].astype(np.float64) - ref) ** 2).sum()] for f in fills])
    return part if acc is None else acc + part


def _add(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.sum(np.stack(group), axis=0) for group in zip(*parts, strict=True))


# --- step 3: each slab's next observations, backwards --------------------------------------------------------


def _look_ahead_slab(cube: Cube, k: int, after: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Write ``after`` (the first observation after slab ``k``) to the work store; return the one after slab k - 1."""
    from ..io import zarr_store

    g = zarr_store.open_group(cube.work)
    g["after_value"][k] = after[0]
    g["after_day"][k] = after[1]
    t0, t1 = cube.slabs[k]
    sm_in = zarr_store.read_array(cube.work, "sm_in", (slice(t0, t1),))
    obs = np.isfinite(sm_in)
    seen = obs.any(0)
    first = np.argmax(obs, axis=0)
    value = np.take_along_axis(sm_in, first[None], 0)[0]
    return np.where(seen, value, after[0]).astype(np.float32), np.where(seen, t0 + first, after[1]).astype(np.int32)


# --- step 4: fill and score a slab ---------------------------------------------------------------------------


@dataclass
class Sums:
    """Running sums of one set of pixels: the count and, per method, the errors and their squares."""

    n: np.ndarray  # per group (one group, or per class / band)
    e: dict[str, np.ndarray] = field(default_factory=dict)
    e2: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def zero(cls, methods: list[str], groups: int = 1) -> Sums:
        z = np.zeros(groups)
        return cls(np.zeros(groups, np.int64), {m: z.copy() for m in methods}, {m: z.copy() for m in methods})

    def add(self, est: dict[str, np.ndarray], ref: np.ndarray, common: np.ndarray, group: np.ndarray | None) -> None:
        """Add the errors of ``est`` against ``ref`` on ``common``; ``group``: each pixel's group (broadcast)."""
        size = self.n.size
        g = np.zeros(int(common.sum()), np.intp) if group is None else np.broadcast_to(group, common.shape)[common]
        self.n += np.bincount(g, minlength=size)
        r = ref[common].astype(np.float64)
        for m, x in est.items():
            d = x[common].astype(np.float64) - r
            self.e[m] += np.bincount(g, weights=d, minlength=size)
            self.e2[m] += np.bincount(g, weights=d * d, minlength=size)

    def score(self, i: int, label: str) -> Score:
        n = int(self.n[i])
        s = Score(label, n)
        for m in self.e:
            s.rmse[m] = float(np.sqrt(self.e2[m][i] / n)) if n else float("nan")
            s.bias[m] = float(self.e[m][i] / n) if n else float("nan")
        return s


@dataclass
class State:
    """What the forward chain carries from slab to slab."""

    sets: dict[str, Sums]
    classes: Sums
    bands: Sums
    seam: np.ndarray  # across sum, across n, other sum, other n
    pixel_e2: dict[str, np.ndarray]
    pixel_n: np.ndarray
    last_value: np.ndarray  # each pixel's last observation so far (sm_in), for linear interpolation
    last_day: np.ndarray
    days_since: np.ndarray | None  # days since observed at the slab's last day (sigma)
    noise: np.ndarray  # retrieval error against the truth: sum of squares, n
    reliability: np.ndarray  # per class (all, 1, 2-3, 4-7, 8+): n, within 1, within 2, sum e2, sum sigma


@dataclass
class Constants:
    """What the slab tasks share: the climatology, the groups, the choices, sigma."""

    clim: np.ndarray
    class_of: np.ndarray  # (H, W) class index of the climatology, -1 without one
    band_of: np.ndarray  # (H,) band index of each row
    band_names: list[str]
    neighbour_sigma: float
    seam_edges: tuple[np.ndarray, np.ndarray]
    sigma_model: Any | None
    scale: np.ndarray | None
    methods: list[str]


def _start(cube: Cube, k: Constants) -> State:
    h, w = cube.land.shape
    m = k.methods
    return State(
        sets={s: Sums.zero(m) for s in SETS},
        classes=Sums.zero(m, len(CLASS_EDGES)),  # the last: pixels without a climatology, left out
        bands=Sums.zero(m, len(k.band_names)),
        seam=np.zeros(4),
        pixel_e2={x: np.zeros((h, w)) for x in m},
        pixel_n=np.zeros((h, w), np.int64),
        last_value=np.full((h, w), np.nan, np.float32),
        last_day=np.full((h, w), -1, np.int64),
        days_since=None,
        noise=np.zeros(2),
        reliability=np.zeros((5, 5)),
    )


def _score_slab(
    state: State,
    cube: Cube,
    k: Constants,
    t0: int,
    model: np.ndarray,
    dct: bool,
) -> State:
    """Fill slab ``t0`` with the baselines, add every method's errors to ``state``; return it.

    ``model`` is the LSTM-CNN's fill of the slab; ``dct``: read DCT-PLS's from the work store.
    """
    from ..io import zarr_store
    from ..uncertainty import OBSERVED_SIGMA, distance_to_observed
    from ..uncertainty.gaps import days_since_observed
    from ..uncertainty.sigma import depth_class
    from .metrics import seam_sums

    t1 = t0 + model.shape[0]
    sm = cube.read("sm", t0, t1)
    sm_in = zarr_store.read_array(cube.work, "sm_in", (slice(t0, t1),))
    hidden = zarr_store.read_array(cube.work, "hidden", (slice(t0, t1),))
    k_slab = t0 // cube.slab
    after = tuple(zarr_store.read_array(cube.work, v, (k_slab,)) for v in ("after_value", "after_day"))
    land = cube.land
    est = {
        MODEL: model,
        "linear in time": baselines.linear_in_time(
            sm_in, (state.last_value, state.last_day), after, t0=t0, days=cube.days
        ),
        "climatology": baselines.climatology(sm_in, k.clim),
        NEIGHBOUR: baselines.neighbour_anomaly(sm_in, k.neighbour_sigma, clim=k.clim),
    }
    if dct:
        est["DCT-PLS"] = zarr_store.read_array(cube.work, "dct", (slice(t0, t1),))
    after_spin = (t0 + np.arange(t1 - t0) >= cube.spin_up)[:, None, None]
    scored = simulated.filled_by_all(est, sm, hidden & after_spin)
    state.sets[SETS[0]].add(est, sm, scored, None)
    state.classes.add(est, sm, scored, k.class_of[None])
    state.bands.add(est, sm, scored, k.band_of[None, :, None])
    obs_in = np.isfinite(sm_in)
    reconstructed = ~obs_in & land[None] & after_spin
    state.seam += np.array(seam_sums(model, reconstructed, *k.seam_edges))
    for m, x in est.items():
        d = np.where(scored, x.astype(np.float64) - sm, 0.0)
        state.pixel_e2[m] += (d * d).sum(0)
    state.pixel_n += scored.sum(0)
    if cube.truth is not None:
        truth = cube.read("sm", t0, t1, cube.truth)
        state.sets[SETS[1]].add(est, truth, simulated.filled_by_all(est, truth, scored), None)
        gaps = ~np.isfinite(sm) & land[None]
        state.sets[SETS[2]].add(est, truth, simulated.filled_by_all(est, truth, (gaps | hidden) & after_spin), None)
        seen = np.isfinite(sm) & np.isfinite(truth)
        state.noise += [float(((sm[seen].astype(np.float64) - truth[seen]) ** 2).sum()), int(seen.sum())]
    # the last observation of each pixel so far, for the next slab's linear interpolation
    idx = t0 + np.arange(t1 - t0)[:, None, None]
    last = np.max(np.where(obs_in, idx, -1), axis=0)
    here = last >= t0
    state.last_value = np.where(
        here, np.take_along_axis(sm_in, np.clip(last - t0, 0, None)[None], 0)[0], state.last_value
    )
    state.last_day = np.where(here, last, state.last_day)
    if k.sigma_model is not None:
        days = days_since_observed(obs_in, state.days_since)
        state.days_since = days[-1]
        dist = distance_to_observed(obs_in)
        sigma = np.full(sm.shape, np.nan, np.float32)
        gap = ~obs_in & land[None] & np.isfinite(model)
        sigma[gap] = k.sigma_model.sigma(days[gap], dist[gap], np.broadcast_to(k.scale, sm.shape)[gap])
        sigma[obs_in & land[None]] = OBSERVED_SIGMA
        err = (model - sm)[scored].astype(np.float64)
        sg = sigma[scored].astype(np.float64)
        ok = np.isfinite(err) & np.isfinite(sg)
        err, sg, dd = err[ok], sg[ok], days[scored][ok]
        z = np.abs(err) / sg
        cls = depth_class(dd) + 1
        for row, sel in ((0, np.ones(err.shape, bool)), *((c, cls == c) for c in range(1, 5))):
            state.reliability[row] += [
                sel.sum(),
                (z[sel] < 1).sum(),
                (z[sel] < 2).sum(),
                (err[sel] ** 2).sum(),
                sg[sel].sum(),
            ]
    return state


# --- the whole run ------------------------------------------------------------------------------------------


@dataclass
class ChunkedEvaluation:
    """The scores of :func:`evaluate_chunked`: the same table as :class:`.simulated.Evaluation` gives."""

    scores: list[Score]
    choices: dict[str, Any]
    noise: float | None
    uncertainty: Any | None
    pixel_rmse: dict[str, np.ndarray]
    pixel_n: np.ndarray  # scored days of each pixel
    coords: dict[str, np.ndarray]

    def table(self) -> str:
        return simulated.table_text(self.scores, self.choices, self.noise, self.uncertainty)


def _bands(lat: np.ndarray, width: float = 10.0) -> tuple[np.ndarray, list[str]]:
    """Each row's band index and the bands' names, as :func:`.simulated.band_scores` cuts them."""
    edges = np.arange(np.floor(lat.min() / width) * width, lat.max() + width, width)
    band = np.full(lat.shape, -1, np.intp)
    names = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        band[(lat >= lo) & (lat < hi)] = i
        names.append(f"{lo:+.0f} to {hi:+.0f}")
    return band, names


def _work_store(cube: Cube, chunk: tuple[int, int, int]) -> None:
    import zarr

    from ..paths import local_or_url

    g = zarr.open_group(local_or_url(cube.work), mode="w-", zarr_format=3)  # nothing is there (checked)
    shape = (cube.days, *cube.land.shape)
    for name in ("", "2"):
        g.create_array(f"sm_in{name}", shape=shape, chunks=chunk, dtype="f4", fill_value=np.nan)
        g.create_array(f"hidden{name}", shape=shape, chunks=chunk, dtype="bool", fill_value=False)
    n = len(cube.slabs)
    g.create_array("after_value", shape=(n, *shape[1:]), chunks=(1, *chunk[1:]), dtype="f4", fill_value=np.nan)
    g.create_array("after_day", shape=(n, *shape[1:]), chunks=(1, *chunk[1:]), dtype="i4", fill_value=cube.days)
    g.create_array("dct", shape=shape, chunks=chunk, dtype="f4", fill_value=np.nan)


def _in_chains(items: list[Any], chains: int, step: Callable[..., Any], *args: Any) -> list[Any]:
    """Run ``step(*args, item, carried)`` over ``items`` as ``chains`` interleaved chains of Delayed; their ends."""
    import dask

    task = dask.delayed(step, pure=False)
    ends = []
    for c in range(min(chains, len(items))):
        carried = None
        for item in items[c::chains]:
            carried = task(*args, *item, carried)
        ends.append(carried)
    return ends


def evaluate_chunked(
    store: str,
    checkpoint: str | None,
    *,
    overlap: int,
    seed: int = 0,
    truth: str | None = None,
    region: Any | None = None,
    spin_up: int = 0,
    dct: bool = True,
    maps: str | None = None,
    work: str | None = None,
    time_chunk: int = 8,
    chains: int = 2,
    tune_days: int = TUNE_DAYS,
    sigma: bool = True,
    dct_block: tuple[int, int, int] = DCT_BLOCK,
    dct_halo: tuple[int, int, int] = DCT_HALO,
) -> ChunkedEvaluation:
    """The scores of ``sgdsm evaluate`` on Dask (the current scheduler), in memory bounded by a slab of days.

    ``checkpoint``: the model (a file or a shipped name; None: the shipped
    default); ``maps``: also write each method's per-pixel RMSE there (a
    Zarr store; refused if it exists); ``work``: the folder of the work
    store (default: a temporary one; a folder or fsspec URL that every
    worker sees on a cluster of several machines; the store is refused if
    it is there already, and removed at the end); ``chains``: how
    many chains hide in parallel (the workers); ``time_chunk``: the days of a
    slab and of a task of the model's chains. The other arguments are
    :func:`.simulated.evaluate_store`'s; the steps are this module's.
    """
    from ..errors import InputError
    from ..grid import PATCH
    from ..io import zarr_store
    from ..paths import exists, filesystem, join
    from ..reconstruction.graph import layout_for
    from ..training.checkpoint import load, resolve
    from ..training.samples import store_window

    refuse_existing(maps)
    rows, cols, days = store_window(store, region)
    land = zarr_store.read_array(store, "land", (rows, cols)).astype(bool)
    if truth is not None:
        shape = zarr_store.open_group(truth, mode="r")["sm"].shape
        if shape != zarr_store.open_group(store, mode="r")["sm"].shape:
            raise InputError(truth, f"truth of shape {shape} does not match {store}'s")
    path = resolve(checkpoint)
    ck = load(path)
    space = zarr_store.open_group(store, mode="r")["sm"].chunks[1]
    lay = layout_for(ck, (days, *land.shape), time_chunk, -(-space // PATCH) * PATCH, overlap)
    tmp = tempfile.TemporaryDirectory(prefix="sgdsm-evaluate-") if work is None else None
    scratch = join(tmp.name if tmp is not None else str(work), WORK_STORE)
    if tmp is None and exists(scratch):
        raise InputError(scratch, "already exists; remove it or give another --work (nothing was written)")
    cube = Cube(
        store,
        rows,
        cols,
        days,
        land,
        zarr_store.read_array(store, "lat", (rows,)),
        zarr_store.read_array(store, "lon", (cols,)),
        lay.time_chunk,
        truth,
        scratch,
        simulated.other_days(days, seed),
        simulated.other_days(days, seed + 1),
        spin_up,
    )
    try:
        ev = _run(cube, ck, path, lay, seed, dct, chains, tune_days, sigma, dct_block, dct_halo)
    finally:
        if tmp is not None:
            tmp.cleanup()
        elif exists(scratch):  # this call's: nothing was there before it
            fs, where = filesystem(scratch)
            fs.rm(where, recursive=True)
    if maps is not None:
        write_maps(maps, ev)
    return ev


def refuse_existing(maps: str | None) -> None:
    """An InputError if anything is at ``maps`` (a store, a file, a folder): the maps are written only where nothing is."""
    from ..errors import InputError
    from ..paths import exists

    if maps is not None and exists(maps):
        raise InputError(maps, "already exists; give another --maps (nothing was written)")


def _run(
    cube: Cube,
    ck: Any,
    path: str,
    lay: Any,
    seed: int,
    dct: bool,
    chains: int,
    tune_days: int,
    sigma: bool,
    dct_block: tuple[int, int, int],
    dct_halo: tuple[int, int, int],
) -> ChunkedEvaluation:
    import dask
    import dask.array as da

    from ..grid import PATCH
    from ..io import zarr_store
    from ..model.fill import patch_edges
    from ..reconstruction.graph import fill_arrays
    from ..uncertainty.calibration import pixel_scale
    from . import tuning

    h, w = cube.land.shape
    chunk = (cube.slab, min(h, 360), min(w, 360))
    _work_store(cube, chunk)
    slabs = cube.slabs
    g = zarr_store.open_group(cube.store, mode="r")
    precip = da.from_zarr(g["precip"])[:, cube.rows, cube.cols]

    # 1. hide; the per-pixel sums (and whether the cube has any rain)
    shared = dask.delayed(cube, pure=True)  # one key in the graph, not a copy of the land mask per task
    ends = _in_chains(slabs, chains, _hide_slab, shared, False)
    (total, total_sq, count), rainy = dask.compute(dask.delayed(_add)(*ends), da.isfinite(precip).any())
    clim = np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)

    # 2. the baselines' parameters, on a second set of pixels hidden from sm_in
    t = time.perf_counter()
    (total2, _, count2) = dask.compute(dask.delayed(_add)(*_in_chains(slabs, chains, _hide_slab, shared, True)))[0]
    clim2 = np.where(count2 > 0, total2 / np.maximum(count2, 1), np.nan).astype(np.float32)
    sigmas = tuning.SIGMA_GRID
    (acc,) = dask.compute(dask.delayed(sum)(_in_chains(slabs, chains, _tune_slab, shared, dask.delayed(clim2), sigmas)))
    n = int(acc[0, 0])
    rmse = {sg: float(np.sqrt(e2 / n)) if n else float("nan") for sg, (_, e2) in zip(sigmas, acc, strict=True)}
    best = min(sigmas, key=lambda sg: rmse[sg]) if n else sigmas[0]
    neighbour = tuning.neighbour_choice(best, rmse, n, time.perf_counter() - t, sigmas)
    choices = {NEIGHBOUR: neighbour}
    if dct:  # on a sample of days read whole: DCT-PLS solves its cube at once
        a = max(0, (cube.days - tune_days) // 2)
        b = min(cube.days, a + tune_days)
        sample = zarr_store.read_array(cube.work, "sm_in", (slice(a, b),))
        _, choices["DCT-PLS"] = tuning.dct_pls(sample, cube.land, seed)
        if (a, b) != (0, cube.days):
            c = choices["DCT-PLS"]
            c.note += f"; chosen on days {a} to {b - 1} of {cube.days}"
        del sample

    # 3. each slab's next observations (backwards), and DCT-PLS on its moving window
    work = zarr_store.open_group(cube.work)
    later: Any = (np.full((h, w), np.nan, np.float32), np.full((h, w), cube.days, np.int32))
    step = dask.delayed(_look_ahead_slab, pure=False)
    for k in range(len(slabs) - 1, -1, -1):
        later = step(shared, k, later)
    todo = [later]
    if dct:
        from .lazy import dct_pls

        p = choices["DCT-PLS"].param
        filled = dct_pls(da.from_zarr(work["sm_in"]), p["s"], p["r"], block=dct_block, halo=dct_halo)
        todo.append(da.store(filled.rechunk(chunk), work["dct"], lock=False, compute=False))
    dask.compute(*todo)

    # 4. the model's fill, and one task per slab scoring every method
    sm_in = da.from_zarr(work["sm_in"])
    model, _ = fill_arrays(path, ck.sha256, lay, sm_in, precip.astype(np.float32), cube.land, np.ones(cube.days, bool))
    sigma_model, scale = None, None
    if sigma:
        scale = pixel_scale(total, total_sq, count)
        sigma_model = _calibrate(cube, ck, lay.overlap, scale, count, total, bool(rainy))
    classes = np.digitize(clim, CLASS_EDGES[1:-1])
    band_of, band_names = _bands(cube.lat)
    const = Constants(
        clim=clim,
        class_of=np.where(np.isfinite(clim), classes, len(CLASS_EDGES) - 1),
        band_of=band_of,
        band_names=band_names,
        neighbour_sigma=neighbour.param["sigma"],
        seam_edges=tuple(patch_edges(n, PATCH, lay.overlap) for n in (h, w)),
        sigma_model=sigma_model,
        scale=scale,
        methods=[MODEL, "linear in time", "climatology", NEIGHBOUR] + (["DCT-PLS"] if dct else []),
    )
    const_d = dask.delayed(const, pure=True)
    state: Any = dask.delayed(_start)(shared, const_d)
    score = dask.delayed(_score_slab, pure=False)
    # One delayed block per slab, taken from the one graph of the model's chains: a slice of the
    # array handed to each task would be a collection of its own, its chain recomputed for every slab.
    per_slab = model.rechunk({0: tuple(t1 - t0 for t0, t1 in slabs), 1: -1, 2: -1})
    blocks = per_slab.to_delayed(optimize_graph=False)[:, 0, 0]
    for (t0, _), block in zip(slabs, blocks, strict=True):
        state = score(state, shared, const_d, t0, block, dct)
    (state,) = dask.compute(state)
    return _finish(cube, const, state, choices, sigma_model)


def _calibrate(
    cube: Cube, ck: Any, overlap: int, scale: np.ndarray, count: np.ndarray, total: np.ndarray, rainy: bool
) -> Any:
    """sigma fitted as :func:`.simulated.model_uncertainty` fits it, its windows read from the work store."""
    from ..io import zarr_store
    from ..model.fill import Filler
    from ..reconstruction.calibration import days_before
    from ..uncertainty.calibration import Window, WindowData, calibrate, window_fill

    fill = window_fill(Filler.from_checkpoint(ck, overlap=overlap))
    work = zarr_store.open_group(cube.work, mode="r")
    staged = np.ones(cube.days, bool)  # the evaluation feeds every day to every method

    def cut(win: Window) -> WindowData:
        rows, cols = win.cells
        t = slice(win.t0, win.t1)
        sm_in = zarr_store.read_array(cube.work, "sm_in", (t, rows, cols))
        before = None
        if win.t0:  # back from the window a time chunk at a time, as far as its observed pixels need
            need = cube.land[rows, cols] & np.isfinite(sm_in).any(axis=0)
            before = days_before(work["sm_in"], staged, win.t0, rows, cols, need)
        pr = cube.read_box("precip", t, rows, cols) if rainy else None
        sums = (total[rows, cols], count[rows, cols].astype(np.float64))
        return WindowData(sm_in, pr, cube.land[rows, cols], before, scale[rows, cols], sums)

    return calibrate(cut, scale, cube.land, cube.days, fill)


def _finish(
    cube: Cube, const: Constants, state: State, choices: dict[str, Any], sigma_model: Any | None
) -> ChunkedEvaluation:
    """The scores and the per-pixel RMSE from the sums."""
    from ..uncertainty.sigma import DEPTH_NAMES, Reliability
    from .metrics import seam_from_sums

    first = state.sets[SETS[0]].score(0, SETS[0])
    names = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(CLASS_EDGES[:-1], CLASS_EDGES[1:], strict=True)]
    first.classes = [s for i, nm in enumerate(names) if (s := state.classes.score(i, nm)).n]
    first.bands = [s for i, nm in enumerate(const.band_names) if (s := state.bands.score(i, nm)).n]
    a, na, o, no = state.seam
    first.seam = seam_from_sums(a, int(na), o, int(no))
    scores = [first]
    noise = None
    if cube.truth is not None:
        scores += [state.sets[s].score(0, s) for s in SETS[1:]]
        noise = float(np.sqrt(state.noise[0] / state.noise[1])) if state.noise[1] else None
    n = state.pixel_n
    pixel_rmse = {m: np.where(n >= 3, np.sqrt(e2 / np.maximum(n, 1)), np.nan) for m, e2 in state.pixel_e2.items()}
    uncertainty = None
    if sigma_model is not None:
        from scipy.stats import spearmanr

        rows = []
        for name, (k, in1, in2, e2, sg) in zip(("all", *DEPTH_NAMES), state.reliability, strict=True):
            k = int(k)
            nan = float("nan")
            rows.append(
                {
                    "class": name,
                    "n": k,
                    "within_1": in1 / k if k else nan,
                    "within_2": in2 / k if k else nan,
                    "rmse": float(np.sqrt(e2 / k)) if k else nan,
                    "mean_sigma": sg / k if k else nan,
                }
            )
        full = [r for r in rows[1:] if r["n"]]
        rho = float(spearmanr([r["mean_sigma"] for r in full], [r["rmse"] for r in full])[0]) if len(full) >= 3 else nan
        uncertainty = simulated.Uncertainty(None, None, sigma_model, Reliability(rows, rho))
    coords = {"lat": cube.lat, "lon": cube.lon}
    return ChunkedEvaluation(scores, choices, noise, uncertainty, pixel_rmse, n, coords)


def write_maps(maps: str, ev: ChunkedEvaluation) -> None:
    """Each method's per-pixel RMSE of ``ev`` and the scored days into the new Zarr store ``maps``.

    Nothing may be at ``maps`` (:func:`refuse_existing`); a failed write is
    one :class:`~sgdsm_dask.errors.WriteError` naming it.
    """
    import xarray as xr

    from ..io import zarr_store
    from ..paths import local_or_url

    refuse_existing(maps)
    ds = xr.Dataset(
        {
            "pixel_rmse": (("fill_method", "lat", "lon"), np.stack(list(ev.pixel_rmse.values())).astype(np.float32)),
            "n": (("lat", "lon"), ev.pixel_n.astype(np.int32)),
        },
        coords={"fill_method": np.array(list(ev.pixel_rmse), dtype=object), **ev.coords},
        attrs={"title": "sgdsm evaluate: each pixel's RMSE on its hidden observed pixels (NaN: fewer than 3)"},
    )
    ds["pixel_rmse"].attrs = {"units": "m3 m-3", "long_name": "RMSE of the fill on the pixel's scored days"}
    ds["n"].attrs = {"long_name": "scored days of the pixel"}
    with zarr_store.writing(maps):
        ds.to_zarr(local_or_url(maps), mode="w-", zarr_format=3, consolidated=False)
    zarr_store.consolidate(maps)
