"""``sgdsm reconstruct``: fill a staged cube with the LSTM-CNN, chains of tasks along time."""

from __future__ import annotations

import argparse
import json

from ._common import cluster_options, connected, model_options, options

HELP = "fill a staged cube with the LSTM-CNN, chains of tasks along time"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="STAGED", help="the staged cube to fill")
    p.add_argument("--out", required=True, metavar="RESULT", help="the result store to write or resume")
    model_options(p)
    p.add_argument("--time-chunk", type=int, default=8, metavar="DAYS", help="days per task of a chain")
    p.add_argument(
        "--space-chunk",
        type=int,
        default=None,
        metavar="CELLS",
        help="cells per side of a spatial block, whole 40-cell patches (default: the staged cube's spatial chunk)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a store of a different request")
    p.add_argument("--append", action="store_true", help="the staged cube has new days: continue from the saved state")
    p.add_argument(
        "--no-uncertainty",
        dest="uncertainty",
        action="store_false",
        help="write sm and flag only: no sm_uncertainty nor gap depths, no calibration of sigma "
        "(default: both written)",
    )
    p.add_argument(
        "--prior-days",
        type=int,
        default=None,
        metavar="N",
        help="the 'anomaly' network's per-pixel prior is the mean of the first N days (default: all days; "
        "with --append: the store's, so that one run with it equals the append)",
    )
    p.add_argument("--export", metavar="DIR", help="also write the daily files, overlapped (default: none)")
    p.add_argument("--cog", action="store_true", help="with --export: a Cloud-Optimized GeoTIFF per day as well")
    p.add_argument(
        "--metadata",
        metavar="YAML",
        help="with --export: who made the files and their licence, a YAML file of the run file's metadata "
        "fields (docs/run.md; default: no creator named, licence CC-BY-4.0)",
    )
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..api import reconstruct
    from ..pipeline import progress_bar

    settings = options(
        args,
        "checkpoint",
        "time_chunk",
        "space_chunk",
        "overlap",
        "overwrite",
        "append",
        "uncertainty",
        "cog",
        "prior_days",
    )
    reconstruct(
        args.store,
        args.out,
        **settings,
        export_to=args.export,
        metadata=args.metadata,
        connect=lambda: connected(args),
        progress=progress_bar,
        on_summary=lambda summary: print(json.dumps(summary)),
    )
    return 0
