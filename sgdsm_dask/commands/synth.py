"""``sgdsm synth``: a synthetic LPRM + IMERG archive with its truth."""

from __future__ import annotations

import argparse

from ._common import cluster_options, connected, date, options, region_option

HELP = "write a synthetic LPRM + IMERG archive with its truth"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", help="folder for lprm/, imerg/ and truth.zarr")
    p.add_argument("--start", type=date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, required=True, help="number of days")
    region_option(p)
    p.add_argument("--seed", type=int, default=0, help="random seed of the synthetic fields")
    p.add_argument("--imerg-version", type=int, choices=(6, 7), default=7, help="IMERG file layout to write")
    p.add_argument(
        "--missing-day",
        action="append",
        type=date,
        metavar="DATE",
        help="leave this day out of the LPRM archive (repeatable; default: none)",
    )
    cluster_options(p)


def run(args: argparse.Namespace) -> int:
    from ..grid import Region
    from ..pipeline import progress_bar
    from ..synth import SynthRequest, write_archive

    req = SynthRequest(
        region=args.region or Region(),
        missing_days=tuple(args.missing_day or ()),
        **options(args, "out_dir", "start", "days", "seed", "imerg_version"),
    )
    with connected(args) as client, progress_bar(req.days, "synth") as bar:
        out = write_archive(req, client, progress=bar.update)
    print(f"synthetic archive: {out}  (lprm/, imerg/, truth.zarr)")
    return 0
