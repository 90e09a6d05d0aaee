"""Peak memory of chunked scoring (:func:`sgdsm_dask.validation.chunked.score_stores`), a long record over a short one.

    python -m benchmarks.evaluate_memory                 # 30 and 365 global days (0.25 deg)
    python -m benchmarks.evaluate_memory --quick         # 8 and 48 global days
    python -m benchmarks.evaluate_memory --days 30 365 --workers 2 --out mem.json

For each length a product store (``sm`` float32 and ``flag`` int8, in the
reconstruction's chunks: 8 days x 360 x 360 cells) and a reference store
(``sm``) of the global 720 x 1440 grid are written chunk by chunk from a
cheap formula, uncompressed (365 days: about 3.4 GB on disk). The product
is then scored against the reference, per-pixel maps written, on a fresh
``LocalCluster`` of worker processes. The peak memory of a run is the sum
of each worker's peak resident memory (``VmHWM``) and the client
process's own peak during the run (scheduler included; its high-water
mark is reset before the run, ``/proc/self/clear_refs``).
``evaluate_memory_ratio_long_over_short`` is the long run's peak over the
short run's (target <= 1.2: memory bounded by the chunk, not the record).
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
    short: int = 30, long_: int = 365, workers: int = 2, folder: str | None = None, grid: tuple[int, int] = (NY, NX)
) -> dict:
    """Both runs and the ratio ``evaluate_memory_ratio_long_over_short`` (peak total memory, long over short).

    ``grid`` (rows, columns) is the global 0.25 deg grid unless a test asks for less.
    """
    result: dict = {"benchmark": "evaluate_memory", "grid": f"{grid[0]} x {grid[1]}", "workers": workers, "runs": []}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for n in (short, long_):
            _say(f"writing {n} global days (product and reference)")
            t = time.perf_counter()
            product, reference = write_stores(Path(tmp), n, *grid)
            write_s = time.perf_counter() - t
            _say(f"scoring {n} days on {workers} worker processes")
            row = run_once(product, reference, str(Path(tmp) / f"scores{n}.zarr"), workers)
            row["write_s"] = round(write_s, 2)
            result["runs"].append(row)
            _say(f"{n} days: peak {row['peak_total_mib']} MiB, {row['wall_s']} s")
            for p in (product, reference):  # keep the disk for the next length
                shutil.rmtree(p)
    s, lg = result["runs"]
    result["evaluate_memory_ratio_long_over_short"] = round(lg["peak_total_mib"] / s["peak_total_mib"], 3)
    result["worker_memory_ratio_long_over_short"] = round(lg["peak_workers_mib"] / s["peak_workers_mib"], 3)
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 and 48 days")
    ap.add_argument("--days", type=int, nargs=2, metavar=("SHORT", "LONG"), default=None)
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 2, 4))
    ap.add_argument("--tmp", default=None, metavar="DIR", help="where the stores are written (default: the system's)")
    ap.add_argument("--out", default=None, metavar="FILE.json")
    args = ap.parse_args(argv)
    short, long_ = args.days or ((8, 48) if args.quick else (30, 365))
    r = measure(short, long_, args.workers, args.tmp)
    text = json.dumps(r, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return r


if __name__ == "__main__":
    main()
