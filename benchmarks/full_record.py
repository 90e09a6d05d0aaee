"""The full record projected from global runs, and Dask against the plain single-process loop.

    python -m benchmarks.full_record [--days 91,365] [--plain-days 30] [--workers K] [--space-chunk CELLS]

1. Writes a global synthetic archive of LONG days (real file layouts; not
   timed).
2. For SHORT and LONG days, each on a fresh local cluster of K worker
   processes (one thread each) whose workers have loaded the model, what
   ``sgdsm run`` does (:func:`sgdsm_dask.pipeline.pipeline`): stage the raw
   files, then reconstruct with the shipped ``default`` checkpoint and
   write one NetCDF4 file per day. Both steps timed.
3. ``projected_full_record_hours``: 7115 days (2002-06-19 to 2022-03-31
   after the paper's gaps; SPEC) at the LONG run's seconds per day, staging
   plus reconstruction plus export. ``scaling_linearity``: seconds per day
   of the LONG run over the SHORT run (1 = the time grows with the record
   and nothing else; above 1 = the long run was slower per day).
4. The plain loop, the way the paper's own scripts work: one process (torch
   with all of the machine's threads) that for each of the first PLAIN
   days reads that day's LPRM and IMERG files, runs the same model on the
   same overlapping patches with the LSTM state carried from the day
   before, and writes the day's NetCDF4 file with the same writer.
   ``dask_over_plain_loop`` is its time over the time of ``sgdsm
   reconstruct`` plus export of the same days from the staged cube
   (what the issue asks); ``dask_with_staging_over_plain_loop`` adds the
   staging time to the Dask side, since the plain loop also decodes
   the raw files. The two results are compared value by value.

Prints one JSON object.
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

import numpy as np
import xarray as xr

from sgdsm_dask.config import RunConfig, RunExport, RunReconstruct, RunStage, StageConfig
from sgdsm_dask.export import day_name
from sgdsm_dask.export.netcdf import dataset, write_netcdf
from sgdsm_dask.grid import DEFAULT_OVERLAP, Region
from sgdsm_dask.io import zarr_store
from sgdsm_dask.model.fill import Filler
from sgdsm_dask.pipeline import Run, build_stage_request
from sgdsm_dask.readers import read_imerg_day, read_lprm_day
from sgdsm_dask.readers.landmask import land_mask
from sgdsm_dask.runtime import connect
from sgdsm_dask.synth import SynthRequest, write_archive
from sgdsm_dask.training.checkpoint import load

from .reconstruct_bench import _warm

FULL_RECORD_DAYS = 7115
START = dt.date(2015, 4, 1)  # the synthetic archive's first day


def plain_loop(plans, region: Region, out_dir: Path) -> float:
    """Seconds for the day-by-day loop in this process: read both files, step the model, write the NetCDF."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    filler = Filler.from_checkpoint(load(), overlap=DEFAULT_OVERLAP)
    land = land_mask(region)
    lat, lon = region.lat, region.lon
    out_dir.mkdir(parents=True, exist_ok=True)
    band = StageConfig().band
    t = time.perf_counter()
    state = None
    for plan in plans:
        sm = read_lprm_day(plan.lprm, region, band)
        precip = read_imerg_day(plan.imerg, region)
        filled, flag, state = filler.run(sm[None], precip[None], land, state)
        when = np.datetime64(plan.date, "ns")
        day = xr.Dataset(
            {"sm": (("time", "lat", "lon"), filled), "flag": (("time", "lat", "lon"), flag)},
            coords={"time": [when], "lat": lat, "lon": lon},
        )
        write_netcdf(dataset("plain-loop", day, {}), out_dir / day_name(when))
    return time.perf_counter() - t


def run_config(archive: Path, region: Region, tmp: Path, n: int, time_chunk: int, space_chunk: int | None) -> RunConfig:
    """``sgdsm run``'s configuration for the first ``n`` days of ``archive``; ``space_chunk`` is the reconstruction's."""
    stage = RunStage(
        lprm=str(archive / "lprm"),
        imerg=str(archive / "imerg"),
        out=str(tmp / f"staged{n}.zarr"),
        end=START + dt.timedelta(days=n - 1),
        region=region.to_text(),
        time_chunk=time_chunk,
    )
    rec = RunReconstruct(out=str(tmp / f"result{n}.zarr"), time_chunk=time_chunk, space_chunk=space_chunk)
    return RunConfig(
        stage=stage,
        reconstruct=rec,
        export=RunExport(out=str(tmp / f"daily{n}")),
    )


def _timed_run(config: RunConfig, workers: int) -> dict:
    """``sgdsm run`` of ``config`` on a fresh cluster whose workers have loaded the model; each step timed."""
    planned = Run.plan(config)
    n = len(planned.stage.plans)
    with connect(n_workers=workers) as client:
        client.run(_warm, planned.reconstruct.checkpoint_path(), load().sha256, DEFAULT_OVERLAP)
        summary = planned.execute(client, progress=None)
    stage_s, e2e_s = summary.seconds["stage"], summary.seconds["reconstruct"]
    return {
        "days": n,
        "blocks": summary.reconstruct["blocks"],
        "files": summary.reconstruct["daily_files"],
        "stage_s": round(stage_s, 2),
        "reconstruct_export_s": round(e2e_s, 2),
        "s_per_day": round((stage_s + e2e_s) / n, 4),
    }


def measure(
    short: int, long_: int, plain_days: int, workers: int, time_chunk: int = 8, space_chunk: int | None = None
) -> dict:
    """The global runs, the projection and the plain-loop comparison (see the module's docstring)."""
    region = Region()  # global
    out: dict = {"benchmark": "full_record", "region": "global", "workers": workers, "config": load().config.name}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        archive = tmp / "archive"
        with connect(n_workers=workers) as client:
            write_archive(SynthRequest(str(archive), START, long_, region, seed=5), client)
        plans = build_stage_request(
            str(tmp / "plans-only.zarr"), lprm=str(archive / "lprm"), imerg=str(archive / "imerg")
        ).plans

        def timed(n: int) -> dict:
            return _timed_run(run_config(archive, region, tmp, n, time_chunk, space_chunk), workers)

        runs = {n: timed(n) for n in (short, long_)}
        out["runs"] = list(runs.values())
        out["projected_full_record_hours"] = round(FULL_RECORD_DAYS * runs[long_]["s_per_day"] / 3600.0, 3)
        out["scaling_linearity"] = round(runs[long_]["s_per_day"] / runs[short]["s_per_day"], 3)

        # Dask against the plain loop, on the first plain_days days (their own staged store and result)
        n = plain_days
        dask_run = runs[n] if n in runs else timed(n)
        plain_s = plain_loop(plans[:n], region, tmp / "plain")
        dask_s = dask_run["reconstruct_export_s"]
        a = zarr_store.read_array(str(tmp / f"result{n}.zarr"), "sm")
        b = np.stack([_day_sm(tmp / "plain" / day_name(np.datetime64(p.date, "ns"))) for p in plans[:n]])
        both = np.isfinite(a) & np.isfinite(b)
        out["plain_loop"] = {
            "days": n,
            "plain_loop_s": round(plain_s, 2),
            "dask_reconstruct_export_s": dask_s,
            "dask_stage_s": dask_run["stage_s"],
            "max_abs_difference": float(np.abs(a[both] - b[both]).max()),
            "same_filled_pixels": bool(np.array_equal(np.isfinite(a), np.isfinite(b))),
        }
        out["dask_over_plain_loop"] = round(plain_s / dask_s, 3)
        out["dask_with_staging_over_plain_loop"] = round(plain_s / (dask_s + dask_run["stage_s"]), 3)
    out["machine"] = f"{platform.machine()} {os.cpu_count()} cpus"
    return out


def _day_sm(path: Path) -> np.ndarray:
    with xr.open_dataset(path) as ds:
        return ds["sm"].values[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", default="91,365", help="SHORT,LONG global days")
    p.add_argument("--plain-days", type=int, default=30)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--time-chunk", type=int, default=8)
    p.add_argument(
        "--space-chunk", type=int, default=None, help="of the reconstruction alone (default: the staged cube's, 360)"
    )
    args = p.parse_args()
    short, long_ = (int(x) for x in args.days.split(","))
    result = measure(short, long_, args.plain_days, args.workers, args.time_chunk, args.space_chunk)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
