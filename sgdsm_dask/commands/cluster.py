"""``sgdsm cluster up|script SPEC``: start a spec's cluster and keep it, or print its job script."""

from __future__ import annotations

import argparse

HELP = "start a cluster from a spec and keep it (up), or print its job script (script)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "script"), help="up: start and keep it; script: print the job script")
    p.add_argument("spec", metavar="SPEC", help="a cluster spec YAML (see cluster/ and docs/clusters.md)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes, local kind (default: the spec's)")


def run(args: argparse.Namespace) -> int:
    from ..runtime import render, serve

    if args.action == "script":
        print(render(args.spec), end="")
        return 0
    serve(args.spec, n_workers=args.workers, announce=lambda line: print(line, flush=True))
    return 0
