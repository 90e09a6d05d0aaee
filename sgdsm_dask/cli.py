"""The ``sgdsm`` command line. Each command parses, loads configuration and calls the library."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, SgdsmError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _region(text: str):
    from .grid import Region

    try:
        return Region.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LON,LAT in degrees (e.g. -60.5,-12.25)") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise argparse.ArgumentTypeError(f"{text!r}: longitude must lie in [-180, 180] and latitude in [-90, 90]")
    return lon, lat


def _cluster_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    g.add_argument("--cluster", metavar="SPEC", help="cluster spec YAML (see cluster/)")
    g.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster")


class _Progress:
    """A tqdm bar (silent when stderr is not a terminal); a context manager, callable with a count."""

    def __init__(self, total: int | None, desc: str, unit: str = "day") -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=None, file=sys.stderr)

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def write(self, line: str) -> None:
        """Print a line above the bar."""
        self.bar.write(line)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _client(args: argparse.Namespace):
    from .cluster import connect

    return connect(scheduler=args.scheduler, cluster=args.cluster, n_workers=args.workers)


def _model_args(p: argparse.ArgumentParser) -> None:
    """Which model fills the gaps, and how its patches tile the region (reconstruct and evaluate)."""
    from .grid import DEFAULT_OVERLAP, PATCH

    p.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    p.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        metavar="CELLS",
        help=f"neighbouring patches overlap by this much, blended so no seams show (0 to {PATCH // 2}; "
        "0: edge to edge, as the paper)",
    )


def _announce(client: Any) -> None:
    from .cluster import dashboard_link

    print(f"dask dashboard: {dashboard_link(client)}", file=sys.stderr)


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import SynthRequest, write_archive

    missing = tuple(_date(d) for d in args.missing_day or [])
    from .grid import Region

    req = SynthRequest(
        out_dir=args.out_dir,
        start=args.start,
        days=args.days,
        region=args.region or Region(),
        seed=args.seed,
        imerg_version=args.imerg_version,
        missing_days=missing,
    )
    with _client(args) as client:
        _announce(client)
        with _Progress(req.days, "synth") as bar:
            out = write_archive(req, client, progress=bar)
    print(f"synthetic archive: {out}  (lprm/, imerg/, truth.zarr)")
    return 0


def build_stage_request(args: argparse.Namespace, config: Any = None):
    """The stage request of ``args`` (the inputs); ``config``, a run file's settings, else the options'."""
    from .config import StageConfig, invalid
    from .readers.cube import inspect_cube
    from .staging import StageRequest, plan_days
    from .staging.inventory import list_files

    if config is None:
        try:
            config = StageConfig(
                band=args.band, time_chunk=args.time_chunk, space_chunk=args.space_chunk, on_error=args.on_error
            )
        except ValueError as exc:  # pydantic's ValidationError: the option and its rule
            raise invalid("stage options", exc) from None
    if args.cube:
        if args.lprm or args.imerg:
            raise SgdsmError("give either --cube or --lprm/--imerg, not both")
        info = inspect_cube(args.cube)
        region = args.region if args.region is not None else info.region
        return StageRequest(out=args.out, region=region, config=config, cube=info)
    if not args.lprm:
        raise SgdsmError("stage needs --lprm PATH (LPRM files) or --cube FILE_OR_STORE")
    plans = plan_days(
        list_files(args.lprm),
        list_files(args.imerg) if args.imerg else [],
        config.timeline,
        args.start,
        args.end,
        on_error=args.on_error,
        lprm_root=args.lprm,
    )
    from .grid import Region

    return StageRequest(out=args.out, region=args.region or Region(), config=config, plans=tuple(plans))


def _stage(req: Any, client: Any, overwrite: bool) -> dict[str, Any]:
    """Stage with a progress bar; warnings and skip reasons go to stderr."""
    from .staging import stage

    if req.cube is None and not any(p.imerg for p in req.plans):
        print("warning: no IMERG files; precipitation is recorded as unavailable, not as zero rain", file=sys.stderr)
    with _Progress(req.dates().size, "stage") as bar:
        summary = stage(req, client, overwrite=overwrite, progress=bar)
    for day, why in summary.pop("skip_reasons").items():
        print(f"skipped {day}: {why}", file=sys.stderr)
    return summary


def _reconstruct(
    req: Any, client: Any, overwrite: bool, append: bool, export_to: str | None = None, cog: bool = False
) -> dict[str, Any]:
    """Reconstruct (and export, overlapped) with a progress bar; a cube without rain is named on stderr."""
    import torch

    from .reconstruct import gpu_resources, reconstruct

    if client is not None and torch.cuda.is_available() and not gpu_resources(client):
        print(
            "note: this machine has a GPU but no worker declares one, so the model runs on the CPU; "
            "pass --cluster cluster/local-gpu.yaml to run it on the GPU (docs: README, GPU machines)",
            file=sys.stderr,
        )
    with _Progress(None, "reconstruct", unit="task") as bar:
        summary = reconstruct(
            req, client, overwrite=overwrite, append=append, progress=bar, export_to=export_to, cog=cog
        )
    if summary["days_with_precip"] == 0:
        print(
            f"warning: {req.staged} has no precipitation; the model ran with rain marked unavailable "
            "(not as dry days), which it was trained for, but fills are less sharp after storms",
            file=sys.stderr,
        )
    return summary


def _export(result: str, out: str, client: Any, cog: bool = False) -> dict[str, Any]:
    from .export import export

    with _Progress(None, "export", unit="day") as bar:
        summary = export(result, out, client, progress=bar, cog=cog)
    if summary["days_unfinished"]:
        print(
            f"warning: {summary['days_unfinished']} days of {result} are not reconstructed in every block yet "
            "and got no file; finish sgdsm reconstruct, then export again",
            file=sys.stderr,
        )
    return summary


def cmd_stage(args: argparse.Namespace) -> int:
    req = build_stage_request(args)
    with _client(args) as client:
        _announce(client)
        summary = _stage(req, client, args.overwrite)
    print(json.dumps(summary))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import hashlib

    from .model import checkpoint
    from .model.network import get_config
    from .model.samples import SampleRequest, Samples, extract
    from .model.train import TrainConfig, choose_device, train

    cfg = get_config(args.config)
    masks = args.masks or []
    if masks and len(masks) != len(args.store):
        raise SgdsmError(f"give --masks once per --store ({len(args.store)}), '-' for the store's own gaps")
    masks = [None if m in (None, "-") else m for m in masks] or [None] * len(args.store)
    device = choose_device(args.device)
    per_store = -(-args.samples // len(args.store))
    reqs = [
        SampleRequest(
            store=s,
            masks=m,
            n=per_store,
            mode=args.mode,
            region=args.region,
            seed=args.seed + i,
            days=args.days,
            decay=cfg.memory_decay,  # the warm memory of the samples decays as the model's does
        )
        for i, (s, m) in enumerate(zip(args.store, masks, strict=True))
    ]
    parts = []
    with _client(args) as client:
        _announce(client)
        for r in reqs:
            with _Progress(None, f"samples {Path(r.store).name}", unit="task") as bar:
                parts.append(extract(r, client, progress=bar))
            print(f"{r.store}: {len(parts[-1])} samples, {parts[-1].hidden_fraction():.0%} of known pixels hidden")
    samples = Samples.concat(parts)
    fp = hashlib.sha256("".join(r.fingerprint() for r in reqs).encode()).hexdigest()[:16]
    tcfg = TrainConfig(
        epochs=args.epochs, batch=args.batch, lr=args.lr, halve_every=args.halve_every, alpha=args.alpha, seed=args.seed
    )
    prov = checkpoint.provenance(
        command="sgdsm train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else "sgdsm train (library)",
        sources=[
            {"store": r.store, "masks": r.masks, "mode": r.mode, "region": args.region and args.region.to_text()}
            for r in reqs
        ],
        samples=len(samples),
        device=str(device),
    )
    print(f"training {cfg.name!r} on {len(samples)} samples ({device}) -> {args.out}", file=sys.stderr)
    with _Progress(args.epochs, "train", unit="epoch") as bar:
        history = train(
            samples,
            cfg,
            tcfg,
            args.out,
            samples_fp=fp,
            provenance=prov,
            device=device,
            overwrite=args.overwrite,
            log=bar.write,
            progress=bar,
        )
    last = history[-1] if history else {}
    print(json.dumps({"checkpoint": args.out, "config": cfg.name, "samples": len(samples), **last}))
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .reconstruct import ReconstructRequest

    req = ReconstructRequest(
        staged=args.store,
        out=args.out,
        checkpoint=args.checkpoint,
        time_chunk=args.time_chunk,
        space_chunk=args.space_chunk,
        overlap=args.overlap,
    )
    with _client(args) as client:
        _announce(client)
        summary = _reconstruct(req, client, args.overwrite, args.append, args.export, args.cog)
    print(json.dumps(summary))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _announce(client)
        summary = _export(args.store, args.out, client, args.cog)
    print(json.dumps(summary))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .config import StageConfig, load_run_config
    from .reconstruct import ReconstructRequest

    cfg = load_run_config(args.config)
    st = cfg.stage
    stage_args = argparse.Namespace(
        **st.model_dump(exclude={"region"}), region=_region(st.region) if st.region else None
    )
    settings = StageConfig.model_validate(st.model_dump(include=set(StageConfig.model_fields)))  # timeline too
    sreq = build_stage_request(stage_args, settings)
    args.scheduler = args.scheduler or cfg.scheduler
    args.cluster = args.cluster or cfg.cluster
    rc = cfg.reconstruct
    rreq = ReconstructRequest(
        staged=st.out, out=rc.out, checkpoint=rc.checkpoint, time_chunk=rc.time_chunk, overlap=rc.overlap
    )
    with _client(args) as client:
        _announce(client)
        out = {"staged": _stage(sreq, client, st.overwrite)["store"]}
        ex = cfg.export
        summary = _reconstruct(
            rreq, client, rc.overwrite, rc.append, ex.out if ex else None, ex.cog if ex else False
        )  # the files of each time chunk are written while later chunks are reconstructed
        out["reconstruction"] = summary["store"]
        if ex is not None:
            out["daily files"] = summary["out"]
    for what, where in out.items():
        print(f"{what}: {where}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .model.checkpoint import load
    from .model.fill import Filler
    from .validation.simulated import evaluate_store, table

    if args.ismn and not args.product:
        raise ConfigError("--ismn needs --product RESULT (the reconstruction to score against the stations)")
    if (args.ismn or args.product) and not args.report:
        raise ConfigError("--product and --ismn go into the report: add --report DIR")
    ck = load(args.checkpoint)
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
    text = table(ev.scores)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    if args.report:
        from .validation.report import write_report

        settings = {
            "checkpoint": f"{args.checkpoint or 'shipped'} (`{ck.config.name}`, SHA-256 `{ck.sha256[:12]}…`)",
            "truth": f"`{args.truth}`" if args.truth else "none (real data: hidden observations are the reference)",
            "region": args.region.bounds if args.region is not None else "whole store",
            "seed": args.seed,
            "spin-up days (filled, not scored)": args.spin_up,
            "patch overlap (cells)": args.overlap,
        }
        insitu = None
        if args.ismn:
            from .validation.insitu import validate

            insitu = validate(args.product, args.ismn, str(Path(args.report) / "ismn"))
        path = write_report(args.report, ev, args.store, settings, product=args.product, insitu=insitu)
        print(f"report: {path}")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    from .cluster import render, serve

    if args.action == "script":
        print(render(args.spec), end="")
        return 0
    serve(args.spec, n_workers=args.workers, announce=lambda line: print(line, flush=True))
    return 0


def cmd_series(args: argparse.Namespace) -> int:
    from .plots import product_series

    lon, lat = args.at
    out = Path(args.out or f"series_{lat:.3f}N_{lon:.3f}E.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    print(product_series(args.store, args.result, lon, lat, out))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .validation.insitu import validate

    summary = validate(args.product, args.ismn, args.out, max_depth=args.max_depth, sensor=args.sensor)
    print(Path(summary["markdown"]).read_text())
    for s in summary["skipped"]:
        print(f"left out: {s}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"}))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .download import download, plan_queries

    bbox = args.region.bounds if args.region is not None else None
    products = tuple(args.product or ("lprm", "imerg"))  # "append" cannot take a list default
    queries = plan_queries(args.start, args.end, products=products, bounding_box=bbox)
    for q in queries:
        print(f"{q.folder}: earthaccess.search_data({q.kwargs()})")
    if args.dry_run:
        return 0
    files = download(queries, args.out_dir)
    print(f"downloaded {len(files)} files into {args.out_dir}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .manifest import MANIFEST, verify

    with _Progress(None, "verify", unit="file") as bar:
        result = verify(args.dir, progress=bar)
    for name, problem in result["problems"]:
        print(f"{Path(args.dir) / name}: {problem}", file=sys.stderr)
    prov = result["provenance"].get("reconstruction")
    prov = prov if isinstance(prov, dict) else {}
    n, bad = result["files"], len(result["problems"])
    if bad:
        print(f"sgdsm: error: {args.dir}: {bad} problem(s) against {MANIFEST} ({n} files listed)", file=sys.stderr)
        return 1
    print(
        f"{args.dir}: all {n} files match {MANIFEST} "
        f"(checkpoint SHA-256 {str(prov.get('checkpoint_sha256', '?'))[:12]}..., staged {prov.get('staged', '?')})"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    with _client(args) as client:
        _announce(client)
        outputs = run_demo(Path(args.out_dir), client, days=args.days)
    for what, where in outputs.items():
        print(f"{what}: {where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sgdsm", description="Seamless global daily soil moisture (SGD-SM 2.0) on Dask.")
    p.add_argument("--version", action="version", version=f"sgdsm-dask {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic LPRM + IMERG archive with its truth")
    s.add_argument("out_dir")
    s.add_argument("--start", type=_date, required=True)
    s.add_argument("--days", type=int, required=True)
    s.add_argument("--region", type=_region, default=None, help="W,S,E,N in degrees (default: global)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--imerg-version", type=int, choices=(6, 7), default=7)
    s.add_argument("--missing-day", action="append", metavar="DATE", help="leave this day out of the LPRM archive")
    _cluster_args(s)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("stage", help="stage daily files or a cube into a chunked Zarr cube")
    s.add_argument("--lprm", metavar="PATH", help="LPRM L3 daily files: folder, glob or fsspec URL")
    s.add_argument("--imerg", metavar="PATH", help="IMERG Final daily files (optional)")
    s.add_argument("--cube", metavar="FILE_OR_STORE", help="a CF NetCDF/Zarr cube with sm [and precip]")
    s.add_argument("--out", required=True, metavar="STORE")
    s.add_argument("--start", type=_date)
    s.add_argument("--end", type=_date)
    s.add_argument("--region", type=_region, default=None, help="W,S,E,N in degrees (default: global / the cube's)")
    s.add_argument("--band", choices=("c1", "c2", "x"), default="c1")
    s.add_argument("--time-chunk", type=int, default=8)
    s.add_argument("--space-chunk", type=int, default=360)
    s.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    s.add_argument("--overwrite", action="store_true", help="replace a store staged from a different request")
    _cluster_args(s)
    s.set_defaults(func=cmd_stage)

    s = sub.add_parser("train", help="train the LSTM-CNN on staged cubes (paper sect. 3.2)")
    s.add_argument("--store", action="append", required=True, metavar="STORE", help="staged cube (repeatable)")
    s.add_argument("--out", required=True, metavar="CHECKPOINT")
    s.add_argument(
        "--config", default="default", metavar="NAME_OR_FILE", help="paper, default, paper-small, tiny or a YAML file"
    )
    s.add_argument(
        "--masks", action="append", metavar="STORE", help="gap masks for the matching --store ('-': its own)"
    )
    s.add_argument("--mode", choices=("complete", "incomplete"), default="complete")
    s.add_argument("--samples", type=int, default=30000)
    s.add_argument("--days", type=int, default=7, help="days per sample (k)")
    s.add_argument("--epochs", type=int, default=500)
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--lr", type=float, default=0.005)
    s.add_argument("--halve-every", type=int, default=100, metavar="EPOCHS")
    s.add_argument("--alpha", type=float, default=0.1)
    s.add_argument("--region", type=_region, default=None, help="take samples from this W,S,E,N box only")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1 ...")
    s.add_argument("--overwrite", action="store_true", help="replace a checkpoint of a different training run")
    _cluster_args(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("reconstruct", help="fill a staged cube with the LSTM-CNN, chains of tasks along time")
    s.add_argument("--store", required=True, metavar="STAGED")
    s.add_argument("--out", required=True, metavar="RESULT")
    _model_args(s)
    s.add_argument("--time-chunk", type=int, default=8, metavar="DAYS")
    s.add_argument("--space-chunk", type=int, default=None, metavar="CELLS", help="default: the staged cube's")
    s.add_argument("--overwrite", action="store_true", help="replace a store of a different request")
    s.add_argument("--append", action="store_true", help="the staged cube has new days: continue from the saved state")
    s.add_argument(
        "--export", default=None, metavar="DIR", help="also write the per-day files, overlapped with the reconstruction"
    )
    s.add_argument("--cog", action="store_true", help="with --export: a Cloud-Optimized GeoTIFF per day as well")
    _cluster_args(s)
    s.set_defaults(func=cmd_reconstruct)

    s = sub.add_parser("export", help="one CF NetCDF4 file per day from a reconstruction store")
    s.add_argument("--store", required=True, metavar="RESULT")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--cog", action="store_true", help="also a Cloud-Optimized GeoTIFF of sm per day, for GIS")
    _cluster_args(s)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("validate", help="score a reconstruction against ISMN in-situ stations (paper Table 1)")
    s.add_argument("--product", required=True, metavar="RESULT", help="a reconstruction store")
    s.add_argument("--ismn", required=True, metavar="ARCHIVE", help="an ISMN download (.zip or its folder)")
    s.add_argument("--out", default="ismn-validation", metavar="DIR", help="CSV, Markdown and scatter plots")
    s.add_argument("--max-depth", type=float, default=0.1, metavar="M", help="deepest sensor end kept (surface: 0.05)")
    s.add_argument("--sensor", choices=("AMSR2", "AMSR-E", "WindSat"), default="AMSR2", help="sets the overpass time")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("run", help="stage, reconstruct and export from one YAML file (see docs/run.md)")
    s.add_argument("config", metavar="CONFIG")
    _cluster_args(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("evaluate", help="hide observed pixels with other days' gaps; score model and baselines")
    s.add_argument("--store", required=True, metavar="STORE")
    _model_args(s)
    s.add_argument(
        "--truth", default=None, metavar="STORE", help="a synthetic archive's truth.zarr: also score real gaps"
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--region", type=_region, default=None, help="score this W,S,E,N box of the store only")
    s.add_argument("--spin-up", type=int, default=0, metavar="DAYS", help="fill but do not score the first days")
    s.add_argument("--no-dct-pls", action="store_true", help="leave out the DCT-PLS baseline (the slowest one)")
    s.add_argument("--out", default=None, metavar="FILE.md", help="also write the table here")
    s.add_argument("--report", default=None, metavar="DIR", help="write DIR/report.md with tables, error maps, series")
    s.add_argument(
        "--product", default=None, metavar="RESULT", help="add this reconstruction's time series to the report"
    )
    s.add_argument("--ismn", default=None, metavar="ARCHIVE", help="add in-situ scores of --product to the report")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("cluster", help="start a cluster from a spec and keep it (up), or print its job script (script)")
    s.add_argument("action", choices=("up", "script"))
    s.add_argument("spec", metavar="SPEC", help="a cluster spec YAML (see cluster/ and docs/clusters.md)")
    s.add_argument("--workers", type=int, metavar="N", help="worker processes (local kind)")
    s.set_defaults(func=cmd_cluster)

    s = sub.add_parser("series", help="observed, reconstructed and precipitation over time at a pixel (Fig. 9-11)")
    s.add_argument("--store", required=True, metavar="STAGED", help="the staged store (observations, rain)")
    s.add_argument("--result", required=True, metavar="RESULT", help="its reconstruction")
    s.add_argument("--at", required=True, type=_lonlat, metavar="LON,LAT", help="the nearest pixel is drawn")
    s.add_argument("--out", default=None, metavar="PNG", help="default: series_<lat>N_<lon>E.png here")
    s.set_defaults(func=cmd_series)

    s = sub.add_parser("download", help="download LPRM and IMERG days with earthaccess (Earthdata login)")
    s.add_argument("out_dir")
    s.add_argument("--start", type=_date, required=True)
    s.add_argument("--end", type=_date, required=True)
    s.add_argument("--region", type=_region, default=None)
    s.add_argument("--product", action="append", choices=("lprm", "imerg"), help="default: both")
    s.add_argument("--dry-run", action="store_true", help="print the searches only")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("verify", help="check an export folder against its manifest (SHA-256 of every file)")
    s.add_argument("dir", metavar="DIR", help="a folder written by sgdsm export or reconstruct --export")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser(
        "demo", help="synthetic archive -> staged cube -> reconstruction -> daily NetCDF + pictures, on a local cluster"
    )
    s.add_argument("out_dir", nargs="?", default="sgdsm-demo")
    s.add_argument("--days", type=int, default=30)
    _cluster_args(s)
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .io.zarr_store import quiet_zarr_leftovers

    quiet_zarr_leftovers()  # a failed store write is the one error line below, not asyncio's reports too
    try:
        return int(args.func(args))
    except SgdsmError as exc:
        print(f"sgdsm: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine, not the input: a disk, a permission, a network share
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sgdsm: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sgdsm: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
