"""``sgdsm series``: observed, reconstructed and precipitation over time at one pixel (Fig. 9-11)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import lonlat

HELP = "observed, reconstructed and precipitation over time at a pixel (Fig. 9-11); a day's uncertainty map"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="STAGED", help="the staged store (observations, rain)")
    p.add_argument("--result", required=True, metavar="RESULT", help="its reconstruction")
    p.add_argument("--at", required=True, type=lonlat, metavar="LON,LAT", help="the nearest pixel is drawn")
    p.add_argument(
        "--out",
        default=None,
        metavar="PNG",
        help="the time-series plot to write (default: series_<lat>N_<lon>E.png here)",
    )
    p.add_argument(
        "--map-day",
        default=None,
        metavar="YYYY-MM-DD",
        help="also draw that day's sm, sm_uncertainty and days_since_observed maps (default: none)",
    )
    p.add_argument(
        "--map-out",
        default=None,
        metavar="PNG",
        help="with --map-day: the uncertainty map to write (default: uncertainty_<day>.png here)",
    )


def run(args: argparse.Namespace) -> int:
    from ..plots import claim_png, product_series

    lon, lat = args.at
    out = Path(args.out or f"series_{lat:.3f}N_{lon:.3f}E.png")
    png = Path(args.map_out or f"uncertainty_{args.map_day}.png") if args.map_day else None
    claim_png(out, "--out")  # a file of the user's at either name is kept, before anything is drawn
    if png is not None:
        claim_png(png, "--map-out")
    out.parent.mkdir(parents=True, exist_ok=True)
    print(product_series(args.store, args.result, lon, lat, out))
    if png is not None:
        from ..uncertainty_plots import result_day_map

        png.parent.mkdir(parents=True, exist_ok=True)
        print(result_day_map(args.result, args.map_day, png))
    return 0
