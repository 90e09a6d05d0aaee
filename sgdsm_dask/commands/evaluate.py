"""``sgdsm evaluate``: hide observed pixels with other days' gaps; score the model and the baselines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import model_options, region_option
from .fit import FIT_OPTIONS, fit_options

HELP = "hide observed pixels with other days' gaps; score model and baselines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="STORE", help="the staged cube to score on")
    model_options(p)
    p.add_argument(
        "--truth",
        default=None,
        metavar="STORE",
        help="a synthetic archive's truth.zarr: also score real gaps (default: none)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the hiding")
    region_option(p, "score this W,S,E,N box of the store only (default: all of it)")
    p.add_argument("--spin-up", type=int, default=0, metavar="DAYS", help="fill but do not score the first days")
    p.add_argument(
        "--fit",
        action="store_true",
        help="instead of --checkpoint, train the 'anomaly' network on this cube (scored pixels hidden) first",
    )
    fit_options(p, seed=False)
    p.add_argument("--no-dct-pls", action="store_true", help="leave out the DCT-PLS baseline (the slowest one)")
    p.add_argument("--out", default=None, metavar="FILE.md", help="also write the table here (default: print only)")
    p.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write DIR/report.md with tables, error maps, series (default: none)",
    )
    p.add_argument(
        "--product",
        default=None,
        metavar="RESULT",
        help="add this reconstruction's time series to the report (default: none)",
    )
    p.add_argument(
        "--ismn", default=None, metavar="ARCHIVE", help="add in-situ scores of --product to the report (default: none)"
    )


def report(args: argparse.Namespace, ev: Any, ck: Any) -> Path:
    """Write the report folder: the scores, the settings, and the in-situ scores with ``--ismn``."""
    from ..validation.report import write_report

    settings = {
        "checkpoint": f"{args.checkpoint or 'shipped'} (`{ck.config.name}`, SHA-256 `{ck.sha256[:12]}…`)"
        if ck is not None
        else f"`anomaly` trained on this cube first (--fit: {', '.join(f'{k} {getattr(args, k)}' for k in FIT_OPTIONS)})",
        "truth": f"`{args.truth}`" if args.truth else "none (real data: hidden observations are the reference)",
        "region": args.region.bounds if args.region is not None else "whole store",
        "seed": args.seed,
        "spin-up days (filled, not scored)": args.spin_up,
        "patch overlap (cells)": args.overlap,
    }
    insitu = None
    if args.ismn:
        from ..validation.insitu import validate

        insitu = validate(args.product, args.ismn, str(Path(args.report) / "ismn"))
    return write_report(args.report, ev, args.store, settings, product=args.product, insitu=insitu)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..model.fill import Filler
    from ..training.checkpoint import load
    from ..validation.simulated import evaluate_store

    if args.ismn and not args.product:
        raise ConfigError("--ismn needs --product RESULT (the reconstruction to score against the stations)")
    if (args.ismn or args.product) and not args.report:
        raise ConfigError("--product and --ismn go into the report: add --report DIR")
    if args.fit and args.checkpoint:
        raise ConfigError("--fit trains a network on the cube; give it or --checkpoint, not both")
    ck = None if args.fit else load(args.checkpoint)
    if args.fit:
        from ..training.anomaly import FitFiller

        filler = FitFiller(overlap=args.overlap, **{k: getattr(args, k) for k in FIT_OPTIONS})
    else:
        filler = Filler.from_checkpoint(ck, overlap=args.overlap)
    ev = evaluate_store(
        args.store,
        filler,
        seed=args.seed,
        truth=args.truth,
        region=args.region,
        spin_up=args.spin_up,
        dct=not args.no_dct_pls,
    )
    text = ev.table()
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    if args.report:
        print(f"report: {report(args, ev, ck)}")
    return 0
