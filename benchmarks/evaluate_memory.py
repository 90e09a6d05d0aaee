"""Peak memory of ``sgdsm evaluate --chunked`` and of ``sgdsm validate --reference``, a long record over a short one.

    python -m benchmarks.evaluate_memory                 # 30 and 365 global days (0.25 deg)
    python -m benchmarks.evaluate_memory --quick         # 8 and 48 global days
    python -m benchmarks.evaluate_memory --days 30 365 --workers 2 --out mem.json

**evaluate** (:func:`sgdsm_dask.validation.chunked_eval.evaluate_chunked`):
for each length a staged cube of the global grid (``sm`` with swaths of
gaps that move from day to day, a land mask, no rain; chunks 8 x 360 x
360) is written from a formula, then evaluated as ``sgdsm evaluate
--chunked --no-dct-pls`` does it with the shipped default checkpoint:
hiding, the model's chains, the baselines, sigma's calibration and every
score, the per-pixel maps written. DCT-PLS is left out: its moving window
holds one block whatever the record's length, and on the global grid it
would take hours on this machine. ``evaluate_memory_ratio_long_over_short``
is this run's peak over the short run's (target <= 1.2).

**validate** (:func:`sgdsm_dask.validation.chunked.score_stores`):
For each length a product store (``sm`` float32 and ``flag`` int8, in the
reconstruction's chunks: 8 days x 360 x 360 cells) and a reference store
(``sm``) of the global 720 x 1440 grid are written chunk by chunk from a
cheap formula, uncompressed (365 days: about 3.4 GB on disk). The product
is then scored against the reference, per-pixel maps written, on a fresh
``LocalCluster`` of worker processes. The peak memory of a run is the sum
of each worker's peak resident memory (``VmHWM``) and the client
process's own peak during the run (scheduler included; its high-water
mark is reset before the run, ``/proc/self/clear_refs``).
``validate_memory_ratio_long_over_short`` is the long run's peak over the
short run's (target <= 1.2: memory bounded by the chunk, not the record).

Each peak is the sum of each worker's peak resident memory (``VmHWM``) and
the client process's own during the run (its high-water mark reset first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .reconstruct_bench import _peak_rss_mib

NY, NX = 720, 1440
TIME_CHUNK, SPACE_CHUNK = 8, 360


def _say(text: str) -> None:
    print(f"[evaluate_memory {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def write_stores(folder: Path, days: int, ny: int = NY, nx: int = NX) -> tuple[str, str]:
    """A product and a reference store of ``days`` global days, written one time chunk at a time."""
    import zarr

    lat = 90.0 - 0.25 * (np.arange(ny) + 0.5)
    lon = -180.0 + 0.25 * (np.arange(nx) + 0.5)
    paths = []
    for name, variables in (("product", ("sm", "flag")), ("reference", ("sm",))):
        path = folder / f"{name}{days}.zarr"
        g = zarr.open_group(str(path), mode="w", zarr_format=3)
        arrays = {}
        for v in variables:
            dtype, fill = ("f4", np.nan) if v == "sm" else ("i1", -1)
            arrays[v] = g.create_array(
                v,
                shape=(days, ny, nx),
                chunks=(TIME_CHUNK, min(SPACE_CHUNK, ny), min(SPACE_CHUNK, nx)),
                dtype=dtype,
                fill_value=fill,
                compressors=None,  # a formula's floats barely compress; raw chunks write fastest
                dimension_names=("time", "lat", "lon"),
            )
        g.create_array("lat", shape=(ny,), dtype="f8", dimension_names=("lat",))[:] = lat
        g.create_array("lon", shape=(nx,), dtype="f8", dimension_names=("lon",))[:] = lon
        t = g.create_array(
            "time",
            shape=(days,),
            dtype="i8",
            dimension_names=("time",),
            attributes={"units": "days since 2015-01-01", "calendar": "proleptic_gregorian"},
        )
        t[:] = np.arange(days)
        base = (0.25 + 0.1 * np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon))[None]).astype(np.float32)
        for t0 in range(0, days, TIME_CHUNK):
            t1 = min(days, t0 + TIME_CHUNK)
            k = np.arange(t0, t1, dtype=np.float32)[:, None, None]
            sm = base[None] + 0.05 * np.sin(k / 10.0 + base[None] * 20.0)
            if name == "product":
                sm = sm + 0.02 * np.cos(k + base[None] * 50.0)  # an error that varies in time and space
                sm[:, :40] = np.nan  # no product near the pole
                flag = (k.astype(np.int64) + np.arange(nx)[None, None]) % 2  # observed, reconstructed alternate
                arrays["flag"][t0:t1] = np.broadcast_to(flag.astype(np.int8), sm.shape)
            arrays["sm"][t0:t1] = sm.astype(np.float32)
        paths.append(str(path))
    return paths[0], paths[1]


def write_staged(folder: Path, days: int, ny: int = NY, nx: int = NX) -> str:
    """A staged-like cube of ``days`` days on the grid: ``sm`` with moving swaths of gaps, ``land``, ``precip`` NaN."""
    import zarr

    lat = 90.0 - 0.25 * (np.arange(ny) + 0.5)
    lon = -180.0 + 0.25 * (np.arange(nx) + 0.5)
    path = folder / f"staged{days}.zarr"
    g = zarr.open_group(str(path), mode="w", zarr_format=3)
    chunks = (TIME_CHUNK, min(SPACE_CHUNK, ny), min(SPACE_CHUNK, nx))
    cube = {
        v: g.create_array(v, shape=(days, ny, nx), chunks=chunks, dtype="f4", fill_value=np.nan)
        for v in ("sm", "precip")
    }
    y, x = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None]
    land = np.sin(3 * x) * np.cos(2 * y) + 0.6 * np.cos(5 * y + x) > 0.2
    g.create_array("land", shape=(ny, nx), chunks=chunks[1:], dtype="bool")[:] = land
    g.create_array("lat", shape=(ny,), dtype="f8", dimension_names=("lat",))[:] = lat
    g.create_array("lon", shape=(nx,), dtype="f8", dimension_names=("lon",))[:] = lon
    g.create_array("time", shape=(days,), dtype="i8", dimension_names=("time",))[:] = np.arange(days)
    base = 0.25 + 0.1 * np.cos(y) * np.sin(x)
    for t0 in range(0, days, TIME_CHUNK):
        k = np.arange(t0, min(days, t0 + TIME_CHUNK), dtype=np.float64)[:, None, None]
        sm = base[None] + 0.05 * np.sin(k / 9.0 + base[None] * 20.0)
        swath = np.sin(4 * x[None] - 0.7 * k + 2 * np.cos(y[None])) > 0.1  # a gap pattern that moves each day
        cube["sm"][t0 : t0 + k.shape[0]] = np.where(swath | ~land[None], np.nan, sm).astype(np.float32)
    return str(path)


def run_evaluate_once(store: str, workers: int, folder: str) -> dict:
    """``sgdsm evaluate --chunked --no-dct-pls`` of ``store`` on a fresh LocalCluster; wall time and peak memory."""
    from distributed import Client, LocalCluster

    from sgdsm_dask.validation.chunked_eval import evaluate_chunked

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc,
        Client(lc),
    ):
        reset = _reset_peak()
        t = time.perf_counter()
        ev = evaluate_chunked(store, None, overlap=8, dct=False, maps=str(Path(folder) / "maps.zarr"), work=folder)
        wall = time.perf_counter() - t
        peaks = Client.current().run(_peak_rss_mib)
        client_peak = _peak_rss_mib()
    workers_mib = sum(peaks.values())
    first = ev.scores[0]
    return {
        "days": zarr_days(store),
        "wall_s": round(wall, 2),
        "peak_workers_mib": round(workers_mib, 1),
        "peak_client_mib": round(client_peak, 1),
        "client_peak_reset": reset,
        "peak_total_mib": round(workers_mib + client_peak, 1),
        "n_scored": first.n,
        "rmse_model": round(first.rmse["LSTM-CNN"], 6),
    }


def zarr_days(store: str) -> int:
    import zarr

    return int(zarr.open_group(store, mode="r")["time"].shape[0])


def _reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_once(product: str, reference: str, out: str, workers: int) -> dict:
    """Score on a fresh LocalCluster; wall time and peak memory (workers' sum and the client's)."""
    from distributed import Client, LocalCluster

    from sgdsm_dask.validation.chunked import score_stores

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        reset = _reset_peak()
        t = time.perf_counter()
        summary = score_stores(product, reference, out, client=client)
        wall = time.perf_counter() - t
        peaks = client.run(_peak_rss_mib)
        client_peak = _peak_rss_mib()
    workers_mib = sum(peaks.values())
    return {
        "days": summary["days"],
        "wall_s": round(wall, 2),
        "peak_workers_mib": round(workers_mib, 1),
        "peak_worker_max_mib": round(max(peaks.values()), 1),
        "peak_client_mib": round(client_peak, 1),
        "client_peak_reset": reset,
        "peak_total_mib": round(workers_mib + client_peak, 1),
        "rmse_all": round(summary["scores"]["all"]["RMSE"], 6),
        "n_all": summary["scores"]["all"]["N"],
    }


def measure(
    short: int = 30,
    long_: int = 365,
    workers: int = 2,
    folder: str | None = None,
    grid: tuple[int, int] = (NY, NX),
    evaluate: bool = True,
) -> dict:
    """Both runs of both parts; ``evaluate_memory_ratio_long_over_short`` and ``validate_memory_ratio_long_over_short``.

    ``grid`` (rows, columns) is the global 0.25 deg grid unless a test asks
    for less; ``evaluate=False`` measures the scoring of ``validate`` alone.
    """
    result: dict = {"benchmark": "evaluate_memory", "grid": f"{grid[0]} x {grid[1]}", "workers": workers}
    result["runs"], result["evaluate_runs"] = [], []
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for n in (short, long_):
            _say(f"writing {n} global days (product and reference)")
            t = time.perf_counter()
            product, reference = write_stores(Path(tmp), n, *grid)
            write_s = time.perf_counter() - t
            _say(f"scoring {n} days on {workers} worker processes")
            row = fresh("run_once", product, reference, str(Path(tmp) / f"scores{n}.zarr"), workers)
            row["write_s"] = round(write_s, 2)
            result["runs"].append(row)
            _say(f"{n} days: peak {row['peak_total_mib']} MiB, {row['wall_s']} s")
            for p in (product, reference):  # keep the disk for the next length
                shutil.rmtree(p)
            if not evaluate:
                continue
            _say(f"writing a staged cube of {n} global days")
            staged = write_staged(Path(tmp), n, *grid)
            work = Path(tmp) / f"evaluate{n}"
            work.mkdir()
            _say(f"sgdsm evaluate --chunked of {n} days on {workers} worker processes")
            row = fresh("run_evaluate_once", staged, workers, str(work))
            result["evaluate_runs"].append(row)
            _say(f"{n} days: peak {row['peak_total_mib']} MiB, {row['wall_s']} s")
            shutil.rmtree(staged)
            shutil.rmtree(work)
    s, lg = result["runs"]
    result["validate_memory_ratio_long_over_short"] = round(lg["peak_total_mib"] / s["peak_total_mib"], 3)
    result["worker_memory_ratio_long_over_short"] = round(lg["peak_workers_mib"] / s["peak_workers_mib"], 3)
    if evaluate:
        s, lg = result["evaluate_runs"]
        result["evaluate_memory_ratio_long_over_short"] = round(lg["peak_total_mib"] / s["peak_total_mib"], 3)
    return result


def fresh(name: str, *args: object) -> dict:
    """``name(*args)`` (a run of this module) in a new Python process; its row.

    Each run gets a process of its own, so its client's peak memory is its
    own, not what earlier runs and the writing of the stores left resident
    (freed memory often stays with the process).
    """
    import subprocess

    code = f"import json, sys; from benchmarks import evaluate_memory as m; print(json.dumps(m.{name}(*{args!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 and 48 days")
    ap.add_argument("--days", type=int, nargs=2, metavar=("SHORT", "LONG"), default=None)
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 2, 4))
    ap.add_argument("--tmp", default=None, metavar="DIR", help="where the stores are written (default: the system's)")
    ap.add_argument("--out", default=None, metavar="FILE.json")
    ap.add_argument("--validate-only", action="store_true", help="leave out sgdsm evaluate --chunked")
    args = ap.parse_args(argv)
    short, long_ = args.days or ((8, 48) if args.quick else (30, 365))
    r = measure(short, long_, args.workers, args.tmp, evaluate=not args.validate_only)
    text = json.dumps(r, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return r


if __name__ == "__main__":
    main()
