"""``sgdsm evaluate``: hide observed pixels with other days' gaps; score the model and the baselines."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from ._common import cluster_options, connected, model_options, region_option
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
    g = p.add_argument_group("on Dask, one slab of days at a time (records larger than memory)")
    g.add_argument(
        "--chunked",
        action="store_true",
        help="hide, fill and score slab by slab on a cluster, in memory bounded by the slab: the same table "
        "(docs/validation.md) (default: the whole cube in this process)",
    )
    g.add_argument(
        "--maps",
        default=None,
        metavar="STORE",
        help="with --chunked: each method's per-pixel RMSE into this Zarr store (default: none)",
    )
    g.add_argument(
        "--work",
        default=None,
        metavar="DIR",
        help="with --chunked: the folder of the work store, the hidden cube (default: a temporary one, removed)",
    )
    g.add_argument(
        "--time-chunk", type=int, default=8, metavar="DAYS", help="with --chunked: days per slab (default: 8)"
    )
    cluster_options(p)


def show(text: str, out: str | None) -> None:
    """Print the table; with ``out`` (a file or an fsspec URL), write it there too, whole or not at all."""
    from ..io.files import atomic_write
    from ..paths import is_url

    print(text)
    if out:
        if not is_url(out):
            Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda tmp: tmp.write_text(text + "\n"))


def claim_table(out: str | None) -> None:
    """An InputError unless ``--out`` is absent or a table an earlier ``sgdsm evaluate`` wrote (checked before the run).

    Rerunning an evaluation replaces its own table; any other file there
    (notes, a table of another tool) is the user's, and is kept.
    """
    from ..io.outputs import claim_file
    from ..paths import filesystem
    from ..validation.simulated import TABLE_START

    def ours(path: str) -> bool:
        fs, key = filesystem(path)
        with fs.open(key, "rb") as f:
            return f.read(len(TABLE_START.encode())) == TABLE_START.encode()

    if out:
        claim_file(out, ours, "a table sgdsm evaluate wrote", "--out")


def report(args: argparse.Namespace, ev: Any, ck: Any) -> str:
    """Write the report folder: the scores, the settings, and the in-situ scores with ``--ismn``.

    On an object store (``--report s3://...``) the report is made in a
    temporary folder, then each file is put whole under the prefix, which
    must be absent or empty (checked before the evaluation runs).
    """
    from ..paths import is_url

    if not is_url(args.report):
        return str(_report(args, ev, ck, args.report))
    import tempfile

    from ..io.files import Folder

    where = Folder(args.report)
    with tempfile.TemporaryDirectory(prefix="sgdsm-report-") as tmp:
        made = _report(args, ev, ck, tmp)
        for f in sorted(p for p in Path(tmp).rglob("*") if p.is_file()):
            where.write(f.relative_to(tmp).as_posix(), lambda dst, src=f: dst.write_bytes(src.read_bytes()))
    return str(where.file(made.name))


def claim_report(folder: str | None) -> None:
    """An InputError unless ``--report`` may be written (checked before the evaluation runs).

    An object store's prefix must be absent or empty (its files are put one
    by one). A local folder must be absent, empty, or hold a report of ours
    (its ``report.md`` begins with the report's title), which is replaced:
    a folder of the user's files is never written into.
    """
    from ..errors import InputError
    from ..io.files import Folder
    from ..paths import is_url
    from ..validation.report import TITLE

    if not folder:
        return
    if is_url(folder):
        if Folder(folder).names():
            raise InputError(
                folder, "holds objects already; give an empty or new prefix for the report (nothing was written)"
            )
        return
    where = Path(folder)
    if not where.exists():
        return
    if not where.is_dir():
        raise InputError(folder, "is a file; --report names a folder (nothing was written)")
    if not any(where.iterdir()):
        return
    mine = where / "report.md"
    with contextlib.suppress(OSError):
        if mine.is_file() and mine.read_bytes().startswith(TITLE.encode()):
            return
    raise InputError(
        folder,
        "holds files and no report of sgdsm evaluate; give an empty or new folder for the report (nothing was written)",
    )


def _report(args: argparse.Namespace, ev: Any, ck: Any, folder: str) -> Path:
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

        insitu = validate(args.product, args.ismn, str(Path(folder) / "ismn"))
    return write_report(folder, ev, args.store, settings, product=args.product, insitu=insitu)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..model.fill import Filler
    from ..training.checkpoint import load
    from ..validation.simulated import evaluate_store

    if args.ismn and not args.product:
        raise ConfigError("--ismn needs --product RESULT (the reconstruction to score against the stations)")
    if (args.ismn or args.product) and not args.report:
        raise ConfigError("--product and --ismn go into the report: add --report DIR")
    claim_report(args.report)
    claim_table(args.out)
    if args.fit and args.checkpoint:
        raise ConfigError("--fit trains a network on the cube; give it or --checkpoint, not both")
    if args.chunked:
        return _chunked(args)
    for name in ("maps", "work"):
        if getattr(args, name):
            raise ConfigError(f"--{name} goes with --chunked")
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
    show(ev.table(), args.out)
    if args.report:
        print(f"report: {report(args, ev, ck)}")
    return 0


def _chunked(args: argparse.Namespace) -> int:
    """``--chunked``: :func:`~sgdsm_dask.validation.chunked_eval.evaluate_chunked` on the cluster the options name.

    The table is printed (and written to ``--out``) before the maps are
    written, so a store that refuses the maps does not lose it.
    """
    from ..errors import ConfigError
    from ..validation.chunked_eval import evaluate_chunked, refuse_existing, write_maps

    for name in ("fit", "report", "product", "ismn"):
        if getattr(args, name):
            raise ConfigError(
                f"--{name} reads the filled cubes whole; leave it out with --chunked (which writes --maps instead)"
            )
    refuse_existing(args.maps)  # before a cluster starts
    with connected(args) as client:
        ev = evaluate_chunked(
            args.store,
            args.checkpoint,
            overlap=args.overlap,
            seed=args.seed,
            truth=args.truth,
            region=args.region,
            spin_up=args.spin_up,
            dct=not args.no_dct_pls,
            work=args.work,
            time_chunk=args.time_chunk,
            chains=max(1, len(client.scheduler_info()["workers"])),
        )
    show(ev.table(), args.out)
    if args.maps:
        write_maps(args.maps, ev)
        print(f"per-pixel RMSE: {args.maps}")
    return 0
