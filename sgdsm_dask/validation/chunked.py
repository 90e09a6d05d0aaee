"""Scores of a whole product store against a reference store, on Dask, in memory bounded by the chunk size.

The paper's record is 7115 global days (about 29 GB per float32
variable), more than a worker's memory: :func:`score_stores` never holds
a whole ``(time, lat, lon)`` array. Each task reads one chunk of the
product (its native Zarr chunk) and the same cells of the reference, and
reduces them to sums over its days: N, the sums of ``e = est - ref``,
``e**2`` and ``|e|``, and of ``x = est``, ``y = ref``, ``x**2``, ``y**2``
and ``x*y``, per pixel and per day. Those sums are added up over the
chunks (Dask's tree reduction); R, RMSE, MAE, ubRMSE and bias follow from
them, for the whole store and per pixel. The per-pixel maps and the daily
series are written to a Zarr store by the workers; only a few numbers per
subset come back to the client.

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
from ..paths import local_or_url

#: Pixels of each subset, by the product's ``flag`` (as :mod:`.insitu`); without a flag every pair counts.
SUBSETS = {"observed": (0,), "reconstructed": (1,), "all": (0, 1)}
#: The sums kept per subset, in this order.
SUMS = ("n", "e", "e2", "ae", "x", "y", "x2", "y2", "xy")
#: The daily series keep these three (RMSE, bias and N per day).
DAILY_SUMS = ("n", "e", "e2")
#: Per-pixel maps written per subset.
MAP_FIELDS = ("rmse", "bias", "ubrmse", "r", "n")


@dataclass
class Inputs:
    """The product and reference as Dask arrays on the product's chunks, and the coordinates they share."""

    est: Any  # dask array (time, lat, lon)
    ref: Any
    flag: Any | None
    time: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    subsets: dict[str, tuple[int, ...]]


def _open(store: str, what: str):
    import xarray as xr

    if not os.path.exists(store) and "://" not in store:
        raise InputError(store, f"no such {what} store")
    try:
        return xr.open_zarr(local_or_url(store), consolidated=False, chunks={})
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


def open_inputs(product: str, reference: str, variable: str = "sm", reference_variable: str = "sm") -> Inputs:
    """``variable`` of ``product`` and ``reference_variable`` of ``reference`` on their common days and the product's grid.

    The reference may cover more (days, cells) than the product; it must
    hold every cell of the product, and at least one of its days. Only
    metadata and coordinates are read here.
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
    est = p[variable].data
    same_days = ip.size == pt.size and np.array_equal(ip, np.arange(pt.size))
    if not same_days:
        est = est[ip]
    ref = r[reference_variable].data
    if not (np.array_equal(ir, np.arange(ir.size)) and ir.size == rt.size):
        ref = ref[ir]
    if not (np.array_equal(rows, np.arange(rows.size)) and rows.size == r.sizes["lat"]):
        ref = ref[:, rows]
    if not (np.array_equal(cols, np.arange(cols.size)) and cols.size == r.sizes["lon"]):
        ref = ref[:, :, cols]
    ref = ref.rechunk(est.chunks)  # the product's chunks: one task, one chunk of each
    flag = None
    subsets = {"all": ()}
    if "flag" in p.variables and p["flag"].dims == ("time", "lat", "lon"):
        flag = p["flag"].data if same_days else p["flag"].data[ip]
        flag = flag.rechunk(est.chunks)
        subsets = dict(SUBSETS)
    return Inputs(est, ref, flag, common, lat, lon, subsets)


def _masks(x: np.ndarray, y: np.ndarray, f: np.ndarray | None, subsets: dict) -> tuple:
    x, y = x.astype(np.float64), y.astype(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    for flags in subsets.values():
        yield x, y, (ok & np.isin(f, flags)) if f is not None and flags else ok


def _pixel_sums(x, y, f=None, *, subsets):
    """One chunk's sums over its days, per pixel: (1, subsets * SUMS, lat, lon)."""
    out = np.empty((1, len(subsets) * len(SUMS), *x.shape[1:]), np.float64)
    for s, (xx, yy, m) in enumerate(_masks(x, y, f, subsets)):
        xs, ys = np.where(m, xx, 0.0), np.where(m, yy, 0.0)
        e = xs - ys
        k = s * len(SUMS)
        out[0, k + 0] = m.sum(0)
        out[0, k + 1] = e.sum(0)
        out[0, k + 2] = (e * e).sum(0)
        out[0, k + 3] = np.abs(e).sum(0)
        out[0, k + 4] = xs.sum(0)
        out[0, k + 5] = ys.sum(0)
        out[0, k + 6] = (xs * xs).sum(0)
        out[0, k + 7] = (ys * ys).sum(0)
        out[0, k + 8] = (xs * ys).sum(0)
    return out


def _daily_sums(x, y, f=None, *, subsets):
    """One chunk's sums over its cells, per day: (days, subsets * DAILY_SUMS, 1, 1)."""
    out = np.empty((x.shape[0], len(subsets) * len(DAILY_SUMS), 1, 1), np.float64)
    for s, (xx, yy, m) in enumerate(_masks(x, y, f, subsets)):
        e = np.where(m, xx - yy, 0.0)
        k = s * len(DAILY_SUMS)
        out[:, k + 0, 0, 0] = m.sum((1, 2))
        out[:, k + 1, 0, 0] = e.sum((1, 2))
        out[:, k + 2, 0, 0] = (e * e).sum((1, 2))
    return out


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


def _pixel_maps(sums, *, n_subsets, min_n):
    """Per-pixel fields of :data:`MAP_FIELDS` per subset from one block of summed :data:`SUMS`."""
    out = np.empty((n_subsets * len(MAP_FIELDS), *sums.shape[1:]), np.float32)
    for s in range(n_subsets):
        block = {name: sums[s * len(SUMS) + i] for i, name in enumerate(SUMS)}
        sc = scores_from_sums(block, min_n)
        k = s * len(MAP_FIELDS)
        out[k + 0], out[k + 1], out[k + 2], out[k + 3] = sc["RMSE"], sc["bias"], sc["ubRMSE"], sc["R"]
        out[k + 4] = sc["N"]
    return out


def score_stores(
    product: str,
    reference: str,
    out: str | None = None,
    *,
    variable: str = "sm",
    reference_variable: str = "sm",
    min_days: int = 3,
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
    client
        A ``distributed.Client`` to run on (default: Dask's current scheduler).

    Returns
    -------
    ``{"scores": {subset: {R, RMSE, MAE, ubRMSE, bias, N}}, "days": ..., "map": out}``.
    """
    import dask
    import dask.array as da
    import xarray as xr

    if out is not None and (os.path.lexists(out) if "://" not in out else False):
        raise InputError(out, "already exists; give a new path for the score maps (nothing was written)")
    inp = open_inputs(product, reference, variable, reference_variable)
    subsets = inp.subsets
    args = [inp.est, inp.ref] + ([inp.flag] if inp.flag is not None else [])
    nt = len(inp.est.chunks[0])
    ns = len(subsets)
    per_pixel = da.map_blocks(
        _pixel_sums,
        *args,
        subsets=subsets,
        new_axis=[1],
        chunks=((1,) * nt, (ns * len(SUMS),), *inp.est.chunks[1:]),
        dtype=np.float64,
        name="sgdsm-pixel-sums",
    ).sum(axis=0)
    daily = da.map_blocks(
        _daily_sums,
        *args,
        subsets=subsets,
        new_axis=[1],
        chunks=(inp.est.chunks[0], (ns * len(DAILY_SUMS),), *[(1,) * len(c) for c in inp.est.chunks[1:]]),
        dtype=np.float64,
        name="sgdsm-daily-sums",
    ).sum(axis=(2, 3))
    totals = per_pixel.sum(axis=(1, 2))
    todo: list[Any] = [totals, daily]
    attrs: dict[str, Any] = {}
    if out is not None:
        maps = da.map_blocks(
            _pixel_maps,
            per_pixel,
            n_subsets=ns,
            min_n=min_days,
            chunks=((ns * len(MAP_FIELDS),), *per_pixel.chunks[1:]),
            dtype=np.float32,
            name="sgdsm-pixel-maps",
        )
        ds = xr.Dataset(coords={"lat": inp.lat, "lon": inp.lon})
        for s, name in enumerate(subsets):
            for i, field in enumerate(MAP_FIELDS):
                ds[f"{field}_{name}"] = (("lat", "lon"), maps[s * len(MAP_FIELDS) + i])
        ds.attrs = attrs = {
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
        todo.append(ds.to_zarr(local_or_url(out), mode="w-", zarr_format=3, consolidated=False, compute=False))
    if client is not None:
        done = client.compute(todo, sync=True)
    else:
        done = dask.compute(*todo)
    tot, day = np.asarray(done[0]), np.asarray(done[1])
    scores = {}
    for s, name in enumerate(subsets):
        sc = scores_from_sums({k: tot[s * len(SUMS) + i] for i, k in enumerate(SUMS)})
        scores[name] = {k: (int(v) if k == "N" else float(v)) for k, v in sc.items()}
    if out is not None:
        series = xr.Dataset(coords={"time": inp.time.astype("datetime64[ns]")}, attrs=attrs)  # a appends, attrs kept
        for s, name in enumerate(subsets):
            n, e, e2 = (day[:, s * len(DAILY_SUMS) + i] for i in range(len(DAILY_SUMS)))
            with np.errstate(invalid="ignore", divide="ignore"):
                series[f"daily_rmse_{name}"] = ("time", np.where(n > 0, np.sqrt(e2 / np.maximum(n, 1)), np.nan))
                series[f"daily_bias_{name}"] = ("time", np.where(n > 0, e / np.maximum(n, 1), np.nan))
            series[f"daily_n_{name}"] = ("time", n.astype(np.int64))
        series.to_zarr(local_or_url(out), mode="a", zarr_format=3, consolidated=False)
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
