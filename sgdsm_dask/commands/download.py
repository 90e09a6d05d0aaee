"""``sgdsm download``: LPRM and IMERG days with earthaccess (an Earthdata login)."""

from __future__ import annotations

import argparse

from ._common import date, region_option

HELP = "download LPRM and IMERG days with earthaccess (Earthdata login)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", help="folder for lprm/ and imerg/")
    p.add_argument("--start", type=date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--end", type=date, required=True, help="last day (YYYY-MM-DD)")
    p.add_argument("--product", action="append", choices=("lprm", "imerg"), help="repeatable (default: both)")
    region_option(p)
    p.add_argument("--dry-run", action="store_true", help="print the searches only")


def run(args: argparse.Namespace) -> int:
    from ..download import download, plan_queries

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
