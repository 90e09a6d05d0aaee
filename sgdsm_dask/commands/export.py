"""``sgdsm export``: one CF NetCDF4 file per day from a reconstruction store."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import cluster_options, connected

HELP = "one CF NetCDF4 file per day from a reconstruction store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="RESULT", help="the reconstruction store")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the daily files and their manifest")
    p.add_argument("--cog", action="store_true", help="also a Cloud-Optimized GeoTIFF of sm per day, for GIS")
    p.add_argument(
        "--stac",
        action="store_true",
        help="also a STAC catalogue of the files, for discovery: collection.json and one Item per day in items/ "
        "(a folder that has one keeps it up to date without the flag too)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an export of another reconstruction that --out holds (its daily files only; "
        "a folder holding anything else is still refused) (default: refuse it)",
    )
    p.add_argument(
        "--metadata",
        metavar="YAML",
        help="who made the files and their licence: a YAML file of the run file's metadata fields "
        "(docs/run.md; default: no creator named, licence CC-BY-4.0)",
    )
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..config import load_metadata
    from ..export import export
    from ..pipeline import progress_bar, set_total

    metadata = load_metadata(args.metadata) if args.metadata else None  # checked before a cluster starts
    with connected(args) as client, progress_bar(None, "export", unit="day") as bar:
        summary = export(
            args.store,
            args.out,
            client,
            progress=bar.update,
            cog=args.cog,
            total=lambda n: set_total(bar, n),
            metadata=metadata,
            catalogue=args.stac,
            replace=args.overwrite,
        )
    if summary["days_unfinished"]:
        print(
            f"warning: {summary['days_unfinished']} days of {args.store} are not reconstructed in every block yet "
            "and got no file; finish sgdsm reconstruct, then export again",
            file=sys.stderr,
        )
    print(json.dumps(summary))
    return 0
