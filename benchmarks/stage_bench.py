"""Staging throughput over plain decode throughput of the same files, in one run.

    python -m benchmarks.stage_bench [--days N] [--region W,S,E,N] [--workers K]

1. Writes a synthetic archive (global by default) into a temporary folder.
2. Plain decode: one process reads every LPRM and IMERG file with the same
   readers onto the 0.25 deg grid and throws the arrays away (days/s).
3. Stage: ``stage`` on a local cluster of K worker processes, from the same
   files into a fresh Zarr store (days/s, cluster start-up excluded).

Prints one JSON object; ``stage_over_decode`` is the ratio (target >= 0.7).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from sgdsm_dask.config import StageConfig
from sgdsm_dask.grid import Region
from sgdsm_dask.pipeline import build_stage_request
from sgdsm_dask.readers import read_imerg_day, read_lprm_day
from sgdsm_dask.runtime import connect
from sgdsm_dask.staging import stage
from sgdsm_dask.synth import SynthRequest, write_archive


def measure(days: int, region: Region, workers: int, time_chunk: int = 8) -> dict:
    """Decode and stage the same ``days`` synthetic days; the two throughputs and their ratio."""
    with tempfile.TemporaryDirectory() as tmp, connect(n_workers=workers) as client:
        archive = Path(tmp) / "archive"
        write_archive(SynthRequest(str(archive), dt.date(2015, 4, 1), days, region, seed=1), client)
        config = StageConfig(time_chunk=time_chunk)
        req = build_stage_request(
            str(Path(tmp) / "cube.zarr"),
            config,
            lprm=str(archive / "lprm"),
            imerg=str(archive / "imerg"),
            region=region,
        )
        plans = req.plans

        t = time.perf_counter()
        for plan in plans:
            read_lprm_day(plan.lprm, region, config.band)
            read_imerg_day(plan.imerg, region)
        decode_s = time.perf_counter() - t

        client.run(lambda: None)  # workers are up before the clock starts
        t = time.perf_counter()
        stage(req, client)
        stage_s = time.perf_counter() - t

    n = len(plans)
    return {
        "benchmark": "stage_over_decode",
        "days": n,
        "region": region.to_text(),
        "workers": workers,
        "decode_days_per_s": round(n / decode_s, 3),
        "stage_days_per_s": round(n / stage_s, 3),
        "stage_over_decode": round(decode_s / stage_s, 3),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=24)
    p.add_argument("--region", default="global")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--time-chunk", type=int, default=8)
    args = p.parse_args()
    print(json.dumps(measure(args.days, Region.parse(args.region), args.workers, args.time_chunk)))


if __name__ == "__main__":
    main()
