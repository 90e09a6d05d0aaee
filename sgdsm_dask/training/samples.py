"""Training samples (paper sect. 3.2), extracted by Dask tasks from staged cubes.

A sample is k consecutive days (7) of one 40 x 40 patch. Its *known* pixels
are those the store observed; the real gap mask of k other days at the same
place (from the same store, or from a ``masks`` store on the same grid) is
laid over it, and the known pixels under those gaps are the ones the model
must fill.

- ``complete`` mode (the paper): only windows where every land pixel is
  known on all k days. On a synthetic archive, point ``store`` at
  ``truth.zarr`` and ``masks`` at the staged cube.
- ``incomplete`` mode (sparse real data): windows where at least
  ``min_known`` of the land pixels are known; the loss then sees only
  known pixels.

Extraction runs in two passes of tasks over blocks of days: the first
counts candidate windows (and draws a seeded random subset), the client
shares the sample budget among blocks in proportion to their counts, the
second cuts out the chosen samples. Each block's draws come from its own
seeded generator, so the result does not depend on the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, InputError
from ..grid import PATCH, Region, locate
from ..io import outputs, zarr_store
from ..runner import gather_tasks

Mode = Literal["complete", "incomplete"]


@dataclass(frozen=True)
class SampleRequest:
    """Where samples come from and how many."""

    store: str
    masks: str | None = None  # None: the store's own gap masks
    n: int = 30000
    days: int = 7
    mode: Mode = "complete"
    min_known: float = 0.3  # incomplete mode: fraction of land pixels known over the window
    min_land: float = 0.25  # fraction of the patch that must be land
    stride: int = PATCH // 2
    block: int = 32  # days per extraction task (masks come from days of the same block)
    history: int = 14  # days before a window (inside its block) that warm the past-observation memory
    decay: float = 0.95  # that memory's daily decay: the model's memory_decay (sgdsm train passes it)
    region: Region | None = None  # restrict to this box of the store
    seed: int = 0

    def fingerprint(self) -> str:
        d = asdict(self)
        d["region"] = self.region.to_text() if self.region else None
        return outputs.fingerprint(d)


@dataclass
class Samples:
    """Stacked samples: ``sm``/``precip`` (n, k, P, P) float32, ``known``/``mask`` (n, k, P, P) bool, ``land`` (n, P, P).

    ``past_mean``/``past_weight`` (n, P, P): each pixel's decayed mean of the
    observations of the days before the window (weight 0: none), the memory a
    model running through the record would bring into the window.
    """

    sm: np.ndarray
    known: np.ndarray
    mask: np.ndarray
    precip: np.ndarray
    land: np.ndarray
    past_mean: np.ndarray
    past_weight: np.ndarray

    FIELDS = ("sm", "known", "mask", "precip", "land", "past_mean", "past_weight")

    def __len__(self) -> int:
        return self.sm.shape[0]

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS))

    def take(self, idx: np.ndarray) -> Samples:
        return Samples(*(getattr(self, f)[idx] for f in self.FIELDS))

    def hidden_fraction(self) -> float:
        known = self.known.sum()
        return float((self.known & ~self.mask).sum() / max(known, 1))


def store_window(store: str, region: Region | None) -> tuple[slice, slice, int]:
    lat = zarr_store.read_array(store, "lat")
    lon = zarr_store.read_array(store, "lon")
    try:
        own = locate(lat, lon)
    except ValueError as exc:
        raise InputError(store, f"not on the 0.25 deg grid ({exc})") from None
    nt = zarr_store.read_array(store, "time").shape[0]
    if region is None:
        return slice(0, lat.size), slice(0, lon.size), nt
    r0, r1 = max(region.row0, own.row0), min(region.row1, own.row1)
    c0, c1 = max(region.col0, own.col0), min(region.col1, own.col1)
    if r1 - r0 < PATCH or c1 - c0 < PATCH:
        raise ConfigError(f"region {region.to_text()} overlaps {store} by less than one {PATCH} x {PATCH} patch")
    return slice(r0 - own.row0, r1 - own.row0), slice(c0 - own.col0, c1 - own.col0), nt


def _box_sum(a: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Sum of every ``size`` x ``size`` window of the last two axes, at ``stride`` offsets."""
    c = np.pad(a.astype(np.int64).cumsum(-1).cumsum(-2), [(0, 0)] * (a.ndim - 2) + [(1, 0), (1, 0)])
    ys = np.arange(0, a.shape[-2] - size + 1, stride)
    xs = np.arange(0, a.shape[-1] - size + 1, stride)
    y0, x0 = np.ix_(ys, xs)
    return c[..., y0 + size, x0 + size] - c[..., y0, x0 + size] - c[..., y0 + size, x0] + c[..., y0, x0]


def _read_block(req: SampleRequest, t0: int, t1: int) -> dict[str, np.ndarray]:
    rows, cols, _ = store_window(req.store, req.region)
    sel = (slice(t0, t1), rows, cols)
    sm = zarr_store.read_array(req.store, "sm", sel)
    land = zarr_store.read_array(req.store, "land", (rows, cols)).astype(bool)
    if req.masks is not None:
        ms = zarr_store.read_array(req.masks, "sm", sel)
        if ms.shape != sm.shape:
            raise InputError(req.masks, f"mask store shape {ms.shape} differs from {req.store}'s {sm.shape}")
        observed, obs_values = np.isfinite(ms), ms
    else:
        observed, obs_values = np.isfinite(sm), sm
    known = np.isfinite(sm) & land
    return {
        "sm": sm,
        "land": land,
        "known": known,
        "observed": observed,
        "obs_values": obs_values,  # what the days before a window offer the memory (the masks store's, if any)
        "rows": rows,
        "cols": cols,
    }


def _candidates(req: SampleRequest, b: dict[str, np.ndarray]) -> np.ndarray:
    """(start day, y, x) of the windows that qualify, as an (m, 3) int array (block-relative day)."""
    k, p, s = req.days, PATCH, req.stride
    land_n = _box_sum(b["land"][None], p, s)[0]  # (ny, nx)
    nt = b["sm"].shape[0] - k + 1
    if nt <= 0:
        return np.zeros((0, 3), np.int64)
    per_day = _box_sum(b["known"], p, s)  # (t, ny, nx)
    cs = np.concatenate([np.zeros((1,) + per_day.shape[1:], np.int64), per_day.cumsum(0)])
    win = cs[k:] - cs[:-k]  # known land pixels over k days, (nt, ny, nx)
    need = land_n * k
    ok_land = land_n >= req.min_land * p * p
    if req.mode == "complete":
        ok = (win == need) & ok_land
    else:
        ok = (win >= req.min_known * need) & ok_land
    t, yi, xi = np.nonzero(ok[:nt])
    return np.stack([t, yi * s, xi * s], axis=1)


def count_block(req: SampleRequest, t0: int, t1: int) -> tuple[int, np.ndarray]:
    """Pass 1 (a task): how many windows of days ``t0:t1`` qualify, and a seeded random order of up to ``n``."""
    b = _read_block(req, t0, t1)
    cand = _candidates(req, b)
    rng = np.random.default_rng([req.seed, t0])
    order = rng.permutation(len(cand))[: req.n]
    return len(cand), cand[order]


def cut_block(req: SampleRequest, t0: int, t1: int, chosen: np.ndarray) -> Samples:
    """Pass 2 (a task): cut out ``chosen`` windows and lay real masks of other days over them."""
    b = _read_block(req, t0, t1)
    k, p = req.days, PATCH
    sm_all = b["sm"]
    rows, cols = b["rows"], b["cols"]
    has_precip = True
    try:
        precip_all = zarr_store.read_array(req.store, "precip", (slice(t0, t1), rows, cols))
    except KeyError:
        has_precip = False
    rng = np.random.default_rng([req.seed, t0, 1])
    nstart = sm_all.shape[0] - k + 1
    n = len(chosen)
    out = Samples(
        sm=np.zeros((n, k, p, p), np.float32),
        known=np.zeros((n, k, p, p), bool),
        mask=np.zeros((n, k, p, p), bool),
        precip=np.full((n, k, p, p), np.nan, np.float32),  # NaN: unavailable
        land=np.zeros((n, p, p), bool),
        past_mean=np.zeros((n, p, p), np.float32),
        past_weight=np.zeros((n, p, p), np.float32),
    )
    for i, (t, y, x) in enumerate(chosen):
        ys, xs = slice(y, y + p), slice(x, x + p)
        known = b["known"][t : t + k, ys, xs]
        land = b["land"][ys, xs]
        mask = None
        for _ in range(16):  # other days whose gaps hide some of the known pixels
            u = int(rng.integers(nstart))
            if u == t and nstart > 1:
                continue
            m = b["observed"][u : u + k, ys, xs]
            hidden = (known & ~m).sum()
            if hidden >= 0.02 * max(known.sum(), 1):
                mask = m
                break
        if mask is None:  # no other day hides anything here: hide a random half-patch
            mask = np.ones((k, p, p), bool)
            mask[:, : p // 2] = False
        sm = sm_all[t : t + k, ys, xs]
        out.sm[i] = np.where(known, sm, 0.0)
        out.known[i] = known
        out.mask[i] = mask & known
        out.precip[i] = precip_all[t : t + k, ys, xs] if has_precip else np.nan
        out.land[i] = land
        out.past_mean[i], out.past_weight[i] = past_observations(
            b["obs_values"][max(0, t - req.history) : t, ys, xs], req.decay
        )
    return out


def past_observations(days: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """Decayed mean and weight of the observed values of ``days`` (T, ...), as ``LSTMCNN`` keeps them."""
    mean = np.zeros(days.shape[1:], np.float64)
    weight = np.zeros(days.shape[1:], np.float64)
    for day in days:
        obs = np.isfinite(day)
        w_new = decay * weight + obs
        mean = np.where(w_new > 0, (decay * weight * mean + np.where(obs, day, 0.0)) / np.maximum(w_new, 1e-6), mean)
        weight = w_new
    return mean.astype(np.float32), weight.astype(np.float32)


def extract(req: SampleRequest, client: Any | None = None, progress: Callable[[int], None] | None = None) -> Samples:
    """Extract ``req.n`` samples (fewer if the store holds fewer) with Dask tasks on ``client``."""
    _, _, nt = store_window(req.store, req.region)
    if nt < req.days + 1:
        raise InputError(req.store, f"holds {nt} days; training needs at least {req.days + 1}")
    blocks = []
    for t0 in range(0, nt - req.days + 1, req.block):
        t1 = min(nt, t0 + req.block + req.days - 1)
        blocks.append((t0, t1))

    def run(fn: Callable, args_list: list[tuple]) -> list[Any]:
        return gather_tasks(client, fn, [(req, *a) for a in args_list], progress=progress)

    counts = run(count_block, blocks)
    total = sum(c for c, _ in counts)
    if total == 0:
        hint = " (try --mode incomplete for sparse data)" if req.mode == "complete" else ""
        raise InputError(req.store, f"no {req.days}-day {PATCH} x {PATCH} window qualifies in {req.mode} mode{hint}")
    rng = np.random.default_rng([req.seed, 2])
    weights = np.array([c for c, _ in counts], float) / total
    share = rng.multinomial(min(req.n, total), weights)
    jobs = []
    for (t0, t1), (_, cand), m in zip(blocks, counts, share, strict=True):
        m = min(m, len(cand))
        if m:
            jobs.append((t0, t1, cand[:m]))
    parts = run(cut_block, jobs)
    return Samples.concat(parts)
