"""``sgdsm validate``: score a reconstruction against ISMN in-situ stations (paper Table 1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "score a reconstruction against ISMN in-situ stations (paper Table 1)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--product", required=True, metavar="RESULT", help="a reconstruction store")
    p.add_argument("--ismn", required=True, metavar="ARCHIVE", help="an ISMN download (.zip or its folder)")
    p.add_argument("--out", default="ismn-validation", metavar="DIR", help="CSV, Markdown and scatter plots")
    p.add_argument("--max-depth", type=float, default=0.1, metavar="M", help="deepest sensor end kept (surface: 0.05)")
    p.add_argument("--sensor", choices=("AMSR2", "AMSR-E", "WindSat"), default="AMSR2", help="sets the overpass time")


def run(args: argparse.Namespace) -> int:
    from ..validation.insitu import validate

    summary = validate(args.product, args.ismn, args.out, max_depth=args.max_depth, sensor=args.sensor)
    print(Path(summary["markdown"]).read_text())
    for s in summary["skipped"]:
        print(f"left out: {s}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}))
    return 0
