"""``sgdsm stage``: daily files or a CF cube into a chunked Zarr cube."""

from __future__ import annotations

import argparse
import json

from ._common import cluster_options, connected, date, options, region_option

HELP = "stage daily files or a cube into a chunked Zarr cube"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lprm", metavar="PATH", help="LPRM L3 daily files: folder, glob or fsspec URL (default: none)")
    p.add_argument("--imerg", metavar="PATH", help="IMERG Final daily files (optional; default: rain unavailable)")
    p.add_argument("--cube", metavar="FILE_OR_STORE", help="a CF NetCDF/Zarr cube with sm [and precip] (default: none)")
    p.add_argument("--out", required=True, metavar="STORE", help="the staged Zarr store to write or resume")
    p.add_argument("--start", type=date, help="first day (default: the first LPRM file's)")
    p.add_argument("--end", type=date, help="last day (default: the last LPRM file's)")
    region_option(p, "the box to stage, W,S,E,N in degrees (default: global / the cube's)")
    p.add_argument("--band", choices=("c1", "c2", "x"), default="c1", help="LPRM frequency band of soil moisture")
    p.add_argument("--time-chunk", type=int, default=8, metavar="DAYS", help="days per chunk of the store")
    p.add_argument(
        "--space-chunk", type=int, default=360, metavar="CELLS", help="cells per spatial chunk, a multiple of 40"
    )
    p.add_argument(
        "--on-error", choices=("raise", "skip"), default="raise", help="a bad day stops the run, or is recorded"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a store staged from a different request")
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..api import stage
    from ..pipeline import progress_bar

    inputs = options(args, "lprm", "imerg", "cube", "start", "end", "region", "band", "time_chunk", "space_chunk")
    stage(
        args.out,
        **inputs,
        on_error=args.on_error,
        overwrite=args.overwrite,
        connect=lambda: connected(args),
        progress=progress_bar,
        on_summary=lambda summary: print(json.dumps(summary)),
    )
    return 0
