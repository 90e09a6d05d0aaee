"""``sgdsm demo``: synthetic archive -> staged cube -> reconstruction -> daily NetCDF + pictures."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import cluster_options, connected

HELP = "synthetic archive -> staged cube -> reconstruction -> daily NetCDF + pictures, on a local cluster"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", nargs="?", default="sgdsm-demo", help="folder of everything the demo writes")
    p.add_argument("--days", type=int, default=30, help="days of the synthetic archive, from 2015-04-01")
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    with connected(args) as client:
        outputs = run_demo(Path(args.out_dir), client, days=args.days)
    for what, where in outputs.items():
        print(f"{what}: {where}")
    return 0
