"""All the benchmarks in one run, each figure a ratio of two measurements taken in this run.

    python -m benchmarks.run --quick            # under three minutes on a 2-core machine
    python -m benchmarks.run                    # the full suite (a global year; about 11 minutes there)
    python -m benchmarks.run --quick --out bench.json

Sections (each is also a module of its own with more options):

- ``stage_over_decode`` (:mod:`benchmarks.stage_bench`): staging throughput
  over plain decoding of the same raw files (global days);
- ``compute_over_roofline`` (:mod:`benchmarks.model_bench`): the model's
  achieved FLOP/s over the best matrix / convolution FLOP/s of this
  machine, for ``default`` (the top-level figure) and ``paper``;
- ``e2e_over_compute`` and ``memory_ratio_long_over_short``
  (:mod:`benchmarks.reconstruct_bench`): read + reconstruct + write over
  compute only, peak worker memory of a long run over a short one, and
  ``uncertainty_overhead`` (sigma and the gap depths against
  ``--no-uncertainty``, end to end);
- ``projected_full_record_hours``, ``scaling_linearity``,
  ``dask_over_plain_loop`` (:mod:`benchmarks.full_record`): global runs of
  two lengths projected to the 7115-day record, and ``sgdsm reconstruct``
  plus export against the plain single-process loop;
- ``stage_folder_linearity`` (:mod:`benchmarks.stage_folder`): staging a
  folder of 365 small CF daily files, seconds per file over a folder of 30;
- ``evaluate_memory_ratio_long_over_short`` (:mod:`benchmarks.evaluate_memory`):
  peak memory of ``sgdsm evaluate --chunked`` (hiding, the model, the
  baselines, sigma and the scores), 365 global days over 30 (quick: 48 over
  8); ``validate_memory_ratio_long_over_short``, that of ``sgdsm validate
  --reference``'s chunked scoring.

Progress goes to stderr; one JSON object (targets and whether each is met
included) is printed at the end, and written to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

from sgdsm_dask import __version__
from sgdsm_dask.grid import Region

from . import evaluate_memory, full_record, model_bench, reconstruct_bench, stage_bench, stage_folder

MODES = {
    "quick": {
        "stage_days": 16,
        "model_repeat": 3,
        "reconstruct_days": (15, 60),
        "global_days": (16, 48),
        "plain_days": 16,
        "folder_files": (30, 365),
        "evaluate_days": (8, 48),
    },
    "full": {
        "stage_days": 32,
        "model_repeat": 5,
        "reconstruct_days": (30, 120),
        "global_days": (91, 365),
        "plain_days": 30,
        "folder_files": (30, 365),
        "evaluate_days": (30, 365),
    },
}

# name: (comparison, target)
TARGETS = {
    "stage_over_decode": (">=", 0.7),
    "compute_over_roofline": (">=", 0.5),
    "e2e_over_compute": (">=", 0.8),
    "dask_over_plain_loop": (">=", 1.5),
    "memory_ratio_long_over_short": ("<=", 1.2),
    "uncertainty_overhead": ("<=", 0.15),
    "projected_full_record_hours": ("<=", 2.0),
    "stage_folder_linearity": ("<=", 1.2),
    "evaluate_memory_ratio_long_over_short": ("<=", 1.2),
    "validate_memory_ratio_long_over_short": ("<=", 1.2),
}


def _say(text: str) -> None:
    print(f"[benchmarks.run {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller runs: under three minutes on 2 cores")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=None, metavar="FILE.json")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    m = MODES[mode]
    t_start = time.perf_counter()
    out: dict = {
        "mode": mode,
        "sgdsm_dask": __version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "workers": args.workers,
    }
    details: dict = {}

    _say(f"staging {m['stage_days']} global days against plain decoding")
    details["stage"] = stage_bench.measure(m["stage_days"], Region(), args.workers)
    out["stage_over_decode"] = details["stage"]["stage_over_decode"]

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    _say(f"model against the roofline on {dev}")
    details["model"] = model_bench.measure(["default", "paper"], dev, repeat=m["model_repeat"])
    out["compute_over_roofline"] = round(details["model"]["configs"]["default"]["compute_over_roofline"], 3)
    out["compute_over_roofline_paper"] = round(details["model"]["configs"]["paper"]["compute_over_roofline"], 3)

    short, long_ = m["reconstruct_days"]
    _say(f"reconstruct end to end against compute only, {short} and {long_} days")
    details["reconstruct"] = reconstruct_bench.measure(
        short, long_, Region.parse(reconstruct_bench.REGION), args.workers
    )
    out["e2e_over_compute"] = details["reconstruct"]["e2e_over_compute"]
    out["memory_ratio_long_over_short"] = details["reconstruct"]["memory_ratio_long_over_short"]
    out["uncertainty_overhead"] = details["reconstruct"]["uncertainty_overhead"]

    short, long_ = m["global_days"]
    _say(f"global runs of {short} and {long_} days, and the plain loop over {m['plain_days']} days")
    details["full_record"] = full_record.measure(short, long_, m["plain_days"], args.workers)
    for key in ("dask_over_plain_loop", "dask_with_staging_over_plain_loop", "projected_full_record_hours"):
        out[key] = details["full_record"][key]
    out["scaling_linearity"] = details["full_record"]["scaling_linearity"]
    out["projected_from_global_days"] = long_

    short, long_ = m["folder_files"]
    _say(f"staging folders of {short} and {long_} daily files")
    details["stage_folder"] = stage_folder.measure(short, long_, Region.parse(stage_folder.REGION), args.workers)
    out["stage_folder_linearity"] = details["stage_folder"]["stage_folder_linearity"]

    short, long_ = m["evaluate_days"]
    _say(f"evaluate --chunked and validate --reference of {short} and {long_} global days, peak memory")
    details["evaluate_memory"] = evaluate_memory.measure(short, long_, args.workers)
    for key in ("evaluate_memory_ratio_long_over_short", "validate_memory_ratio_long_over_short"):
        out[key] = details["evaluate_memory"][key]

    out["targets"] = {
        name: {"target": f"{op} {goal}", "met": bool(out[name] >= goal if op == ">=" else out[name] <= goal)}
        for name, (op, goal) in TARGETS.items()
    }
    out["wall_s"] = round(time.perf_counter() - t_start, 1)
    out["details"] = details
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return out


if __name__ == "__main__":
    main()
