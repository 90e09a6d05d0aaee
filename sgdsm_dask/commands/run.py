"""``sgdsm run CONFIG``: stage, reconstruct and export from one YAML file (docs/run.md).

Configuration (:func:`~sgdsm_dask.config.load_run_config`), runner
(:class:`~sgdsm_dask.pipeline.Run`, planned before a cluster starts, so a
bad input costs no cluster), execute (on the cluster of the options, else
of the file).
"""

from __future__ import annotations

import argparse

from ._common import cluster_options, connected

HELP = "stage, reconstruct and export from one YAML file (see docs/run.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="the run file (YAML): stage, reconstruct and export sections")
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..config import load_run_config
    from ..pipeline import Run

    cfg = load_run_config(args.config)
    planned = Run.plan(cfg)
    args.scheduler = args.scheduler or cfg.scheduler
    args.cluster = args.cluster or cfg.cluster
    with connected(args) as client:
        summary = planned.execute(client)
    for what, where in summary.outputs().items():
        print(f"{what}: {where}")
    return 0
