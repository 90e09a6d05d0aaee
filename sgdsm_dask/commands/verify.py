"""``sgdsm verify DIR``: check an export folder against its manifest (SHA-256 of every file)."""

from __future__ import annotations

import argparse
import sys

HELP = "check an export folder against its manifest (SHA-256 of every file)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dir", metavar="DIR", help="a folder (or fsspec URL: s3://...) written by sgdsm export or reconstruct --export"
    )


def run(args: argparse.Namespace) -> int:
    from ..export.manifest import MANIFEST, verify
    from ..paths import join
    from ..pipeline import progress_bar

    with progress_bar(None, "verify", unit="file") as bar:
        result = verify(args.dir, progress=bar.update)
    for name, problem in result["problems"]:
        print(f"{join(result['out'], name)}: {problem}", file=sys.stderr)
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
