"""``sgdsm fit``: train the ``anomaly`` network on staged cubes, hiding observed pixels with other days' gaps.

This is learning on the record being filled, as the paper did with its
2002-2022 record: the cubes' own observations are hidden with the gap masks
of other days and the network learns to bring them back. Score the result
with ``sgdsm evaluate --store OTHER.zarr --checkpoint OUT`` on a region it
was not trained on, or let ``sgdsm evaluate --fit`` train on the scored cube
with the scored pixels hidden.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..config import FIT_OPTIONS
from ._common import region_option

HELP = "train the 'anomaly' network on staged cubes (their own observations hidden and brought back)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", action="append", required=True, metavar="STORE", help="staged cube (repeatable)")
    p.add_argument("--out", required=True, metavar="CHECKPOINT", help="the checkpoint file to write (a path or a URL)")
    region_option(p, "train on this W,S,E,N box of every store only (default: all of it)")
    fit_options(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint file")


def fit_options(p: argparse.ArgumentParser, seed: bool = True) -> None:
    """The training schedule (``sgdsm fit``, and ``sgdsm evaluate --fit`` with its own ``--seed``)."""
    p.add_argument("--steps", type=int, default=200, help="optimiser steps (default: 200)")
    p.add_argument("--batch", type=int, default=8, help="patches per step (default: 8)")
    p.add_argument("--days", type=int, default=20, help="consecutive days per patch sequence (default: 20)")
    p.add_argument("--lr", type=float, default=0.002, help="initial learning rate, cosine decay (default: 0.002)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="seed of the hidings, patches and weights (default: 0)")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..pipeline import progress_bar
    from ..training.anomaly import fit
    from ..training.checkpoint import exists

    options = {k: getattr(args, k) for k in FIT_OPTIONS}
    if exists(args.out) and not args.overwrite:  # an object on a store too, before a step is taken
        raise ConfigError(f"{args.out} exists; give --overwrite to replace it")
    with progress_bar(args.steps, "fit", unit="step") as bar:
        digest = fit(
            args.store,
            args.out,
            region=args.region,
            overwrite=args.overwrite,
            log=lambda step, loss: (bar.update(10), bar.set_postfix(loss=f"{loss:.3f}")),
            **options,
        )
    print(f"wrote {args.out}", file=sys.stderr)
    print(json.dumps({"checkpoint": args.out, "config": "anomaly", "sha256": digest, **options}))
    return 0
