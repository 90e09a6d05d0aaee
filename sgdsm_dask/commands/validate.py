"""``sgdsm validate``: score a reconstruction against ISMN in-situ stations (paper Table 1), or against a store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..io.files import Folder
from ._common import cluster_options, connected

HELP = "score a reconstruction against ISMN in-situ stations (paper Table 1) or a reference store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--product", required=True, metavar="RESULT", help="a reconstruction store")
    against = p.add_mutually_exclusive_group(required=True)
    against.add_argument(
        "--ismn", metavar="ARCHIVE", help="an ISMN download (.zip or its folder); this or --reference, no default"
    )
    against.add_argument(
        "--reference",
        metavar="STORE",
        help="a Zarr store on the product's grid (a synthetic truth.zarr, a staged cube): every common day is "
        "scored on Dask chunk by chunk, per-pixel maps and daily series into OUT/scores.zarr (no default)",
    )
    p.add_argument(
        "--out",
        default="ismn-validation",
        metavar="DIR",
        help="the folder of the tables (and plots, or scores.zarr): a path or an fsspec URL",
    )
    p.add_argument("--max-depth", type=float, default=0.1, metavar="M", help="deepest sensor end kept (surface: 0.05)")
    p.add_argument("--sensor", choices=("AMSR2", "AMSR-E", "WindSat"), default="AMSR2", help="sets the overpass time")
    g = p.add_argument_group("against a reference store")
    g.add_argument("--variable", default="sm", help="the product's variable scored")
    g.add_argument("--reference-variable", default="sm", metavar="NAME", help="the reference's variable")
    g.add_argument("--min-days", type=int, default=3, metavar="N", help="per-pixel maps: NaN with fewer pairs")
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    if args.reference:
        return _against_store(args)
    from ..validation.insitu import validate

    summary = validate(args.product, args.ismn, args.out, max_depth=args.max_depth, sensor=args.sensor)
    print(Folder(args.out).read_text(Path(summary["markdown"]).name))
    for s in summary["skipped"]:
        print(f"left out: {s}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}))
    return 0


def _against_store(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..validation.chunked import markdown, open_inputs, score_stores
    from ..validation.insitu import claim_folder

    maps = str(Folder(args.out).file("scores.zarr"))
    if "scores.zarr" in Folder(args.out).names():
        raise InputError(maps, "already exists; give another --out (nothing was written)")
    open_inputs(args.product, args.reference, args.variable, args.reference_variable)  # checked before a cluster
    out = claim_folder(args.out)  # an object store's prefix: absent, empty or validate's own
    out.make()
    with connected(args) as client:
        summary = score_stores(
            args.product,
            args.reference,
            maps,
            variable=args.variable,
            reference_variable=args.reference_variable,
            min_days=args.min_days,
            client=client,
        )
    text = markdown(summary, args.product, args.reference)
    out.write_text("store_scores.md", text)  # each whole, on a disk as on a store
    out.write_text("store_scores.json", json.dumps(summary, indent=1) + "\n")
    print(text)
    print(json.dumps({"days": summary["days"], "map": summary["map"], "markdown": str(out.file("store_scores.md"))}))
    return 0
