"""The ``sgdsm`` command line: the parser, assembled from :mod:`sgdsm_dask.commands`, and the exit codes.

Each subcommand is a module of :mod:`sgdsm_dask.commands` (``HELP``,
``add_arguments``, ``run``). ``main`` parses, runs the command and turns
the errors a user can act on into one line and an exit code: 2 for a bad
input or configuration (:class:`~sgdsm_dask.errors.SgdsmError`), 1 for
the machine (a disk, a permission, a network share), 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .commands import NAMES
from .commands._common import Parser
from .errors import SgdsmError


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="sgdsm", description="Seamless global daily soil moisture (SGD-SM 2.0) on Dask.")
    p.add_argument("--version", action="version", version=f"sgdsm-dask {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in NAMES:
        command = importlib.import_module(f".commands.{name}", __package__)
        s = sub.add_parser(name, help=command.HELP, description=command.HELP[:1].upper() + command.HELP[1:] + ".")
        command.add_arguments(s)
        s.set_defaults(func=command.run)
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
