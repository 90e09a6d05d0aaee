"""What the commands share: the parser class, value types and the option groups."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with ``(default: X)``, unless it has none or already says it in words."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.required:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that takes values led by a minus sign as typed: ``--region -10,35,20,60``.

    argparse reads ``-10,35,20,60`` as an unknown option (only ``-5`` or
    ``-.5`` count as negative numbers), so ``--region`` would say "expected
    one argument". Here anything a minus sign and a digit begin is a value,
    as Python 3.13's argparse also does; no option of ``sgdsm`` starts so.
    Subcommand parsers are of this class too (``add_subparsers`` makes them).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")


def date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def region(text: str):
    from ..grid import Region

    try:
        return Region.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LON,LAT in degrees (e.g. -60.5,-12.25)") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise argparse.ArgumentTypeError(f"{text!r}: longitude must lie in [-180, 180] and latitude in [-90, 90]")
    return lon, lat


def cluster_options(p: argparse.ArgumentParser) -> None:
    """Where the work runs: ``--scheduler``, ``--cluster`` or ``--workers`` (default: a local cluster)."""
    g = p.add_argument_group("cluster")
    g.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (default: none)")
    g.add_argument("--cluster", metavar="SPEC", help="cluster spec YAML, see cluster/ (default: a local cluster)")
    g.add_argument(
        "--workers", type=int, metavar="N", help="local worker processes (default: the spec's, else 1 per core, <= 8)"
    )


def region_option(p: argparse.ArgumentParser, text: str = "W,S,E,N in degrees (default: global)") -> None:
    """``--region W,S,E,N`` (``-10,35,20,60`` as typed: see :class:`Parser`); ``text`` says what it limits."""
    p.add_argument("--region", type=region, default=None, metavar="W,S,E,N", help=text)


def options(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named options, as keyword arguments of a request."""
    return {name: getattr(args, name) for name in names}


def model_options(p: argparse.ArgumentParser) -> None:
    """Which model fills the gaps, and how its patches tile the region (reconstruct and evaluate)."""
    from ..grid import DEFAULT_OVERLAP, PATCH

    p.add_argument(
        "--checkpoint",
        default=None,
        help="the model's weights: a checkpoint file, or a shipped one by name: default (the LSTM-CNN) or anomaly "
        "(the 'anomaly' network, better than the baselines on real cubes: docs/model-card.md) (default: the shipped default)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        metavar="CELLS",
        help=f"neighbouring patches overlap by this much, blended so no seams show (0 to {PATCH // 2}; "
        "0: edge to edge, as the paper)",
    )


@contextmanager
def connected(args: argparse.Namespace) -> Iterator[Any]:
    """A client of the cluster the options name; its dashboard address goes to stderr."""
    from ..runtime import connect, dashboard_link

    with connect(scheduler=args.scheduler, cluster=args.cluster, n_workers=args.workers) as client:
        print(f"dask dashboard: {dashboard_link(client)}", file=sys.stderr)
        yield client
