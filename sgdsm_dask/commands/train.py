"""``sgdsm train``: the LSTM-CNN on staged cubes (paper sect. 3.2).

The samples are planned here, one :class:`SampleRequest` per store, then
extracted on the cluster and trained on in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import cluster_options, connected, region_option

HELP = "train the LSTM-CNN on staged cubes (paper sect. 3.2)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", action="append", required=True, metavar="STORE", help="staged cube (repeatable)")
    p.add_argument(
        "--out", required=True, metavar="CHECKPOINT", help="the checkpoint file to write or resume (a path or a URL)"
    )
    p.add_argument(
        "--config", default="default", metavar="NAME_OR_FILE", help="paper, default, paper-small, tiny or a YAML file"
    )
    p.add_argument(
        "--masks",
        action="append",
        metavar="STORE",
        help="gap masks for the matching --store ('-': its own; default: each store's own gaps)",
    )
    p.add_argument(
        "--mode",
        choices=("complete", "incomplete"),
        default="complete",
        help="complete: windows known on every land pixel (the paper); incomplete: sparse real data",
    )
    p.add_argument("--samples", type=int, default=30000, help="samples in all, shared over the stores")
    p.add_argument("--days", type=int, default=7, help="days per sample (k)")
    p.add_argument("--epochs", type=int, default=500, help="passes over the samples")
    p.add_argument("--batch", type=int, default=128, help="samples per optimiser step")
    p.add_argument("--lr", type=float, default=0.005, help="initial learning rate")
    p.add_argument("--halve-every", type=int, default=100, metavar="EPOCHS", help="halve the learning rate this often")
    p.add_argument("--alpha", type=float, default=0.1, help="weight of the loss over all known land pixels (eq. 12)")
    region_option(p, "take samples from this W,S,E,N box only (default: everywhere)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling and the weights")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, cuda:1 ...")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint of a different training run")
    cluster_options(p)


def sample_requests(args: argparse.Namespace, decay: float) -> list[Any]:
    """One sample request per ``--store``, the samples shared out; ``decay``: the model's memory decay."""
    from ..errors import SgdsmError
    from ..training.samples import SampleRequest

    masks = args.masks or []
    if masks and len(masks) != len(args.store):
        raise SgdsmError(f"give --masks once per --store ({len(args.store)}), '-' for the store's own gaps")
    masks = [None if m in (None, "-") else m for m in masks] or [None] * len(args.store)
    per_store = -(-args.samples // len(args.store))
    return [
        SampleRequest(
            store=s,
            masks=m,
            n=per_store,
            mode=args.mode,
            region=args.region,
            seed=args.seed + i,
            days=args.days,
            decay=decay,  # the warm memory of the samples decays as the model's does
        )
        for i, (s, m) in enumerate(zip(args.store, masks, strict=True))
    ]


def extract_all(reqs: list[Any], client: Any) -> Any:
    """The samples of every request, one progress bar each, concatenated."""
    from ..pipeline import progress_bar
    from ..training.samples import Samples, extract

    parts = []
    for r in reqs:
        with progress_bar(None, f"samples {Path(r.store).name}", unit="task") as bar:
            parts.append(extract(r, client, progress=bar.update))
        print(f"{r.store}: {len(parts[-1])} samples, {parts[-1].hidden_fraction():.0%} of known pixels hidden")
    return Samples.concat(parts)


def provenance(args: argparse.Namespace, reqs: list[Any], n_samples: int, device: Any) -> dict[str, Any]:
    """What the checkpoint records about the run that trained it."""
    from ..training import checkpoint

    return checkpoint.provenance(
        command="sgdsm train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else "sgdsm train (library)",
        sources=[
            {"store": r.store, "masks": r.masks, "mode": r.mode, "region": args.region and args.region.to_text()}
            for r in reqs
        ],
        samples=n_samples,
        device=str(device),
    )


def run(args: argparse.Namespace) -> int:
    import hashlib

    from ..model.network import get_config
    from ..pipeline import progress_bar
    from ..training.checkpoint import claim_out, working_copy
    from ..training.train import TrainConfig, choose_device, train

    claim_out(args.out, args.overwrite)  # before the samples are read: a file of the user's is never replaced
    cfg = get_config(args.config)
    reqs = sample_requests(args, cfg.memory_decay)
    device = choose_device(args.device)
    with connected(args) as client:
        samples = extract_all(reqs, client)
    fp = hashlib.sha256("".join(r.fingerprint() for r in reqs).encode()).hexdigest()[:16]
    tcfg = TrainConfig(
        epochs=args.epochs, batch=args.batch, lr=args.lr, halve_every=args.halve_every, alpha=args.alpha, seed=args.seed
    )
    prov = provenance(args, reqs, len(samples), device)
    print(f"training {cfg.name!r} on {len(samples)} samples ({device}) -> {args.out}", file=sys.stderr)
    # on an object store: trained into a local copy (what --out holds, to resume), uploaded after every epoch
    with working_copy(args.out) as (local, publish), progress_bar(args.epochs, "train", unit="epoch") as bar:
        history = train(
            samples,
            cfg,
            tcfg,
            local,
            samples_fp=fp,
            provenance=prov,
            device=device,
            overwrite=args.overwrite,
            log=lambda line: bar.write(line.replace(local, args.out)),  # the local copy named as --out
            progress=lambda n: (publish(), bar.update(n)),
        )
        publish()
    last = history[-1] if history else {}
    print(json.dumps({"checkpoint": args.out, "config": cfg.name, "samples": len(samples), **last}))
    return 0
