"""Scores of a whole product store against a reference store, on Dask, in memory bounded by the chunk size.

The paper's record is 7115 global days (about 29 GB per float32
variable), more than a worker's memory: :func:`score_stores` never holds
a whole ``(time, lat, lon)`` array. Each task reads about
``days_per_task`` days of one of the product's spatial chunks (whole Zarr
chunks) and the same cells of the reference, and reduces them to N and the
sums of ``e = est - ref``, ``e**2``, ``|e|``, ``x = est``, ``y = ref``,
``x**2``, ``y**2`` and ``x*y``, per pixel and per day. Each spatial block
is one chain of such tasks carrying its running sums forward, so a worker
holds the block it works on and one state per chain, whatever the length
of the record (``benchmarks/evaluate_memory.py``). R, RMSE, MAE, ubRMSE
and bias follow from the totals, for the whole store, per pixel and per
day. The per-pixel maps are written to a Zarr store by the workers; the
client gets the per-day sums (a few numbers a day) and writes the daily
series beside them.

On a cube small enough to hold, the figures equal those of
:func:`sgdsm_dask.validation.metrics.all_scores` on the whole arrays to
float64 round-off (``tests/validation/test_chunked_scores.py``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..flags import SUBSETS
from ..io import zarr_store
from ..paths import exists, is_url, local_or_url

#: The sums kept per subset, in this order.
SUMS = ("n", "e", "e2", "ae", "x", "y", "x2", "y2", "xy")
#: Per-pixel maps written per subset.
MAP_FIELDS = ("rmse", "bias", "ubrmse", "r", "n")


@dataclass
class Inputs:
    """Where each task reads: the product's days, rows and columns, and the reference's matching ones.

    ``p_time`` and ``r_time`` are the indices of the common days in each
    store, ``r_rows`` and ``r_cols`` the reference's index of each product
    row and column (a slice where they are a run). ``blocks`` are the tasks'
    time ranges (over the common days) and the product's spatial chunks.
    """

    product: str
    reference: str
    variable: str
    reference_variable: str
    p_time: np.ndarray
    r_time: np.ndarray
    r_rows: Any
    r_cols: Any
    has_flag: bool
    time: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    subsets: dict[str, tuple[int, ...]]
    step: int  # the product's own time chunk: a task works through its days this many at a time
    time_blocks: list[tuple[int, int]]
    row_blocks: list[tuple[int, int]]
    col_blocks: list[tuple[int, int]]


def _run_or_array(idx: np.ndarray) -> Any:
    """``idx`` as a slice where it is a run of consecutive indices (a plain read), else as it is."""
    idx = np.asarray(idx, np.int64)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


def _sub(idx: Any, a: int, b: int) -> Any:
    if isinstance(idx, slice):
        return slice(idx.start + a, idx.start + b)
    return _run_or_array(idx[a:b])


def _bounds(chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    edges = np.cumsum((0, *chunks))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _open(store: str, what: str, chunks: dict | None = None):
    import xarray as xr

    if not is_url(store) and not os.path.exists(local_or_url(store)):
        raise InputError(store, f"no such {what} store")
    try:
        return xr.open_zarr(local_or_url(store), consolidated=False, chunks=chunks or {})
    except Exception as exc:  # noqa: BLE001 - zarr and xarray raise many kinds for a store they cannot read
        raise InputError(store, f"not a Zarr store with time, lat and lon ({exc.__class__.__name__}: {exc})") from None


def _index_of(values: np.ndarray, within: np.ndarray, store: str, name: str) -> np.ndarray:
    """Index in ``within`` of each of ``values`` (to 1e-6); one line naming ``store`` if one is not there."""
    order = np.argsort(within)
    pos = np.clip(np.searchsorted(within[order], values), 0, within.size - 1)
    near = np.stack([pos, np.clip(pos - 1, 0, within.size - 1)])
    cand = order[near]
    best = cand[np.argmin(np.abs(within[cand] - values[None]), axis=0), np.arange(values.size)]
    bad = np.abs(within[best] - values) > 1e-6
    if bad.any():
        raise InputError(store, f"its {name} grid does not hold the product's {name} {values[bad][0]:g}")
    return best


def open_inputs(
    product: str, reference: str, variable: str = "sm", reference_variable: str = "sm", days_per_task: int = 32
) -> Inputs:
    """``variable`` of ``product`` and ``reference_variable`` of ``reference`` on their common days and the product's grid.

    The reference may cover more (days, cells) than the product; it must
    hold every cell of the product, and at least one of its days. A task
    takes the product's spatial chunk and whole time chunks of it, about
    ``days_per_task`` days. Only metadata and coordinates are read here.
    """
    p, r = _open(product, "product"), _open(reference, "reference")
    for store, ds, name in ((product, p, variable), (reference, r, reference_variable)):
        if name not in ds.variables:
            raise InputError(store, f"has no {name!r} variable")
        if ds[name].dims != ("time", "lat", "lon"):
            raise InputError(store, f"its {name!r} has dimensions {ds[name].dims}, not (time, lat, lon)")
    pt = np.asarray(p["time"].values).astype("datetime64[D]")
    rt = np.asarray(r["time"].values).astype("datetime64[D]")
    common, ip, ir = np.intersect1d(pt, rt, return_indices=True)
    if not common.size:
        raise InputError(reference, f"shares no day with {product}")
    lat, lon = np.asarray(p["lat"].values, np.float64), np.asarray(p["lon"].values, np.float64)
    rows = _index_of(lat, np.asarray(r["lat"].values, np.float64), reference, "lat")
    cols = _index_of(lon, np.asarray(r["lon"].values, np.float64), reference, "lon")
    enc = p[variable].encoding.get("preferred_chunks") or {}
    native = int(enc.get("time", p[variable].data.chunksize[0]))
    cy, cx = int(enc.get("lat", lat.size)), int(enc.get("lon", lon.size))
    per_task = native * max(1, days_per_task // native)
    has_flag = "flag" in p.variables and p["flag"].dims == ("time", "lat", "lon")
    return Inputs(
        product,
        reference,
        variable,
        reference_variable,
        ip,
        ir,
        _run_or_array(rows),
        _run_or_array(cols),
        has_flag,
        common,
        lat,
        lon,
        dict(SUBSETS) if has_flag else {"all": ()},
        native,
        [(a, min(a + per_task, ip.size)) for a in range(0, ip.size, per_task)],
        _bounds((cy,) * (lat.size // cy) + ((lat.size % cy,) if lat.size % cy else ())),
        _bounds((cx,) * (lon.size // cx) + ((lon.size % cx,) if lon.size % cx else ())),
    )


def read_block(inp: Inputs, t: tuple[int, int], i: tuple[int, int], j: tuple[int, int]) -> tuple:
    """Product, reference (and flag) of common days ``t``, product rows ``i`` and columns ``j``; decoded."""
    import xarray as xr

    p = xr.open_zarr(local_or_url(inp.product), consolidated=False, chunks=None)
    r = xr.open_zarr(local_or_url(inp.reference), consolidated=False, chunks=None)
    pt, rt = _run_or_array(inp.p_time[t[0] : t[1]]), _run_or_array(inp.r_time[t[0] : t[1]])
    at = {"lat": slice(*i), "lon": slice(*j)}
    x = p[inp.variable].isel(time=pt, **at).values
    y = r[inp.reference_variable].isel(time=rt, lat=_sub(inp.r_rows, *i), lon=_sub(inp.r_cols, *j)).values
    f = p["flag"].isel(time=pt, **at).values if inp.has_flag else None
    return x, y, f


def _masks(x: np.ndarray, y: np.ndarray, f: np.ndarray | None, subsets: dict) -> tuple:
    x, y = x.astype(np.float64), y.astype(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    for flags in subsets.values():
        yield x, y, (ok & np.isin(f, flags)) if f is not None and flags else ok


def _chunk_sums(x, y, f=None, *, subsets, step):
    """One block's :data:`SUMS` per subset: over its days per pixel ``(K, lat, lon)``, over its cells per day ``(days, K)``.

    ``K`` is ``len(subsets) * len(SUMS)``; the block is worked through
    ``step`` days at a time, so its float64 temporaries stay small.
    """
    k_all = len(subsets) * len(SUMS)
    pix = np.zeros((k_all, *x.shape[1:]), np.float64)
    day = np.zeros((x.shape[0], k_all), np.float64)
    for t0 in range(0, x.shape[0], step):
        t = slice(t0, t0 + step)
        for s, (xx, yy, m) in enumerate(_masks(x[t], y[t], None if f is None else f[t], subsets)):
            xs, ys = np.where(m, xx, 0.0), np.where(m, yy, 0.0)
            e = xs - ys
            terms = (m, e, e * e, np.abs(e), xs, ys, xs * xs, ys * ys, xs * ys)
            for i, term in enumerate(terms):
                pix[s * len(SUMS) + i] += term.sum(0)
                day[t, s * len(SUMS) + i] = term.sum((1, 2))
    return pix, day


def _fold(state, inp, t, i, j):
    """One step of a spatial block's chain: ``state`` (the sums of the days before, or None) plus this block's.

    ``state`` is ``(per-pixel sums (K, lat, lon), per-day sums (days, K))``;
    the per-day sums of the whole record are small (7115 days: 1.5 MB), so
    a chain depends on no other chain until its end. The task reads its own
    block (:func:`read_block`): no other task holds input data, so a worker
    holds the blocks it is working on, one state per chain, and nothing else.
    """
    x, y, f = read_block(inp, t, i, j)
    pix, day = _chunk_sums(x, y, f, subsets=inp.subsets, step=inp.step)
    if state is None:
        days = np.zeros((inp.time.size, day.shape[1]), np.float64)
    else:
        pix += state[0]
        days = state[1].copy()
    days[t[0] : t[1]] = day
    return pix, days


def _merge(*states):
    """The chains of one spatial block added up: one state."""
    return np.sum([s[0] for s in states], axis=0), np.sum([s[1] for s in states], axis=0)


def _sum_days(*states):
    return np.sum([s[1] for s in states], axis=0)


def scores_from_sums(s: dict[str, Any], min_n: int = 1) -> dict[str, Any]:
    """R, RMSE, MAE, ubRMSE, bias and N from the sums of :data:`SUMS` (scalars or arrays alike).

    NaN where fewer than ``min_n`` pairs; R is NaN with fewer than 3 pairs
    or a constant series, as :func:`.metrics.pearson_r`.
    """
    n = np.asarray(s["n"], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.maximum(n, 1.0)
        bias = s["e"] / m
        mse = s["e2"] / m
        out = {"R": None, "RMSE": np.sqrt(mse), "MAE": s["ae"] / m, "ubRMSE": np.sqrt(np.maximum(mse - bias**2, 0.0))}
        out["bias"] = bias
        mx, my = s["x"] / m, s["y"] / m
        vx = np.maximum(s["x2"] / m - mx**2, 0.0)
        vy = np.maximum(s["y2"] / m - my**2, 0.0)
        cov = s["xy"] / m - mx * my
        flat = (vx <= 1e-12 * np.maximum(s["x2"] / m, 1e-300)) | (vy <= 1e-12 * np.maximum(s["y2"] / m, 1e-300))
        r = np.clip(cov / np.sqrt(vx * vy), -1.0, 1.0)
        out["R"] = np.where((n < 3) | flat, np.nan, r)
    few = n < max(min_n, 1)
    for k in ("RMSE", "MAE", "ubRMSE", "bias", "R"):
        out[k] = np.where(few, np.nan, out[k])
    out["N"] = n
    return out


def _write_maps(state, out, names, rows, cols, min_n):
    """Per-pixel fields of :data:`MAP_FIELDS` per subset from one block's summed :data:`SUMS`, into ``out``."""
    import zarr

    sums = state[0]
    g = zarr.open_group(local_or_url(out), mode="r+", zarr_format=3, use_consolidated=False)
    for s, name in enumerate(names):
        block = {k: sums[s * len(SUMS) + i] for i, k in enumerate(SUMS)}
        sc = scores_from_sums(block, min_n)
        for field, key in zip(MAP_FIELDS, ("RMSE", "bias", "ubRMSE", "R", "N"), strict=True):
            g[f"{field}_{name}"][rows, cols] = sc[key].astype(np.float32)


def score_stores(
    product: str,
    reference: str,
    out: str | None = None,
    *,
    variable: str = "sm",
    reference_variable: str = "sm",
    min_days: int = 3,
    days_per_task: int = 32,
    chains_per_block: int | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Score ``product`` against ``reference`` over every common day, chunk by chunk on Dask.

    Parameters
    ----------
    product, reference
        Zarr stores with ``(time, lat, lon)`` variables (a reconstruction
        store, a staged cube, a synthetic ``truth.zarr``); the reference
        must hold every cell of the product. Pixels are split by the
        product's ``flag`` where it has one (:data:`SUBSETS`).
    out
        A new Zarr store for the per-pixel maps (``rmse_all``, ``bias_all``,
        ``ubrmse_all``, ``r_all``, ``n_all`` and the same per subset; NaN
        where fewer than ``min_days`` pairs) and the daily series
        (``daily_rmse_all``, ``daily_bias_all``, ``daily_n_all``, ...);
        refused if something is there already. None: no store.
    days_per_task
        About this many days per task (whole time chunks of the product):
        a task holds that many days of one spatial chunk of each input.
    chains_per_block
        Each spatial block's days are split into this many chains, summed
        at the end (None: enough for two tasks per worker of ``client``,
        else per core). Memory grows with it, not with the record.
    client
        A ``distributed.Client`` to run on (default: Dask's current scheduler).

    Returns
    -------
    ``{"scores": {subset: {R, RMSE, MAE, ubRMSE, bias, N}}, "days": ..., "map": out}``.
    """
    import dask
    import dask.array as da
    import xarray as xr

    if out is not None and exists(out):
        raise InputError(out, "already exists; give a new path for the score maps (nothing was written)")
    inp = open_inputs(product, reference, variable, reference_variable, days_per_task)
    subsets = inp.subsets
    fold = dask.delayed(_fold, pure=True)
    spec = dask.delayed(inp, pure=True)  # once in the graph, shared by every task
    n_blocks = len(inp.row_blocks) * len(inp.col_blocks)
    if chains_per_block is None:
        slots = len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else (os.cpu_count() or 1)
        chains_per_block = -(-2 * slots // n_blocks)
    runs = np.array_split(np.arange(len(inp.time_blocks)), max(1, min(chains_per_block, len(inp.time_blocks))))
    accs = {}
    for i in inp.row_blocks:
        for j in inp.col_blocks:
            ends = []
            for run in runs:
                # a chain: one state of per-pixel sums lives at a time, whatever the record
                state = None
                for k in run:
                    state = fold(state, spec, inp.time_blocks[k], i, j)
                ends.append(state)
            accs[i, j] = ends[0] if len(ends) == 1 else dask.delayed(_merge, pure=True)(*ends)
    daily = dask.delayed(_sum_days, pure=True)(*accs.values())
    todo: list[Any] = [daily]
    if out is not None:
        template = xr.Dataset(coords={"lat": inp.lat, "lon": inp.lon})
        names = [f"{field}_{name}" for name in subsets for field in MAP_FIELDS]
        chunks = (inp.row_blocks[0][1], inp.col_blocks[0][1])
        blank = da.full((inp.lat.size, inp.lon.size), np.nan, np.float32, chunks=chunks)
        for name in names:
            template[name] = (("lat", "lon"), blank)
        template.attrs = attrs = {
            "sgdsm_store": "scores",
            "product": str(product),
            "reference": str(reference),
            "variable": variable,
            "reference_variable": reference_variable,
            "min_days": int(min_days),
            "days": int(inp.time.size),
            "first_day": str(inp.time[0]),
            "last_day": str(inp.time[-1]),
        }
        template.to_zarr(local_or_url(out), mode="w-", zarr_format=3, consolidated=False, compute=False)
        write = dask.delayed(_write_maps, pure=True)
        todo.append([write(acc, out, list(subsets), slice(*i), slice(*j), min_days) for (i, j), acc in accs.items()])
    done = dask.compute(*todo, scheduler=client) if client is not None else dask.compute(*todo)
    day = done[0]  # (days, subsets * SUMS)
    tot = day.sum(axis=0)
    scores = {}
    for s, name in enumerate(subsets):
        sc = scores_from_sums({k: tot[s * len(SUMS) + i] for i, k in enumerate(SUMS)})
        scores[name] = {k: (int(v) if k == "N" else float(v)) for k, v in sc.items()}
    if out is not None:
        series = xr.Dataset(coords={"time": inp.time.astype("datetime64[ns]")}, attrs=attrs)  # a appends, attrs kept
        for s, name in enumerate(subsets):
            sc = scores_from_sums({k: day[:, s * len(SUMS) + i] for i, k in enumerate(SUMS)})
            series[f"daily_rmse_{name}"] = ("time", sc["RMSE"])
            series[f"daily_bias_{name}"] = ("time", sc["bias"])
            series[f"daily_r_{name}"] = ("time", sc["R"])
            series[f"daily_n_{name}"] = ("time", sc["N"].astype(np.int64))
        series.to_zarr(local_or_url(out), mode="a", zarr_format=3, consolidated=False)
        zarr_store.consolidate(out)  # as every store of sgdsm: plain xr.open_zarr opens it without a warning
    return {"scores": scores, "days": int(inp.time.size), "map": out}


def markdown(summary: dict[str, Any], product: str, reference: str) -> str:
    """A table of :func:`score_stores`' scores, one row per subset."""
    lines = [
        f"# {product} against {reference}",
        "",
        f"{summary['days']} common days; every pair of a finite product and reference value counts.",
        "",
        "| pixels | R | RMSE | MAE | ubRMSE | bias | N |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["scores"].items():
        cells = [s["R"], s["RMSE"], s["MAE"], s["ubRMSE"]]
        text = " | ".join("nan" if math.isnan(v) else f"{v:.4f}" for v in cells)
        lines.append(f"| {name} | {text} | {s['bias']:+.4f} | {s['N']} |")
    if summary.get("map"):
        lines += ["", f"Per-pixel maps and daily series: {summary['map']}"]
    return "\n".join(lines) + "\n"
