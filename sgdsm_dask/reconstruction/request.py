"""What to reconstruct (:class:`ReconstructRequest`), and the checks of its staged cube before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..grid import DEFAULT_OVERLAP, PATCH
from ..io import outputs, zarr_store
from ..paths import absolute
from ..staging.status import DayStatus
from ..training.checkpoint import resolve
from .layout import Layout, checked_layout


@dataclass(frozen=True)
class ReconstructRequest:
    """What to reconstruct, with which model, cut how."""

    staged: str
    out: str
    checkpoint: str | None = None  # None: the shipped default
    time_chunk: int = 8
    space_chunk: int | None = None  # None: the staged cube's spatial chunk
    overlap: int = DEFAULT_OVERLAP  # cells by which neighbouring patches overlap (blended); 0: edge to edge
    uncertainty: bool = True  # False: no sm_uncertainty nor gap depths (and no calibration of sigma)
    prior_days: int | None = None  # the 'anomaly' network's prior: the first days' mean (None: all, or the store's)

    def __post_init__(self) -> None:
        # the workers open these paths: each must mean there what it means where the command was typed
        if self.checkpoint is not None:  # a shipped checkpoint's name, as its file
            object.__setattr__(self, "checkpoint", resolve(self.checkpoint))
        for name in ("staged", "out", "checkpoint"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, absolute(getattr(self, name)))

    def checkpoint_path(self) -> str:
        return resolve(self.checkpoint)


def check_staged(staged: str) -> Any:
    """The staged cube's group, once it is known to be a whole staged cube; one line otherwise.

    A cube whose staging stopped half-way would be filled with its
    unstaged days left empty, and a rerun after the staging finished
    would find nothing to do: those days would stay unfilled for good.
    """
    if not zarr_store.exists(staged):
        raise InputError(staged, "not a staged cube (no Zarr format 3 store here): run sgdsm stage first")
    g = zarr_store.open_group(staged, mode="r")
    kind = outputs.kind_of(dict(g.attrs))
    if kind != "staged" or not all(name in g for name in ("sm", "precip", "land", "day_status")):
        what = f"a {outputs.NAMES[kind]}" if kind else "a Zarr store sgdsm did not stage"
        raise InputError(staged, f"is {what}, not a staged cube: give --store the output of sgdsm stage")
    status = zarr_store.read_chunks_safely(
        staged, "day_status", g["day_status"].chunks[0], g["day_status"].shape[0], DayStatus.PENDING
    )
    pending = int(np.count_nonzero(status == DayStatus.PENDING))
    if pending:
        raise InputError(
            staged,
            f"staging is not finished ({pending} of {status.size} days still pending): "
            "run the same sgdsm stage command again to finish it, then reconstruct",
        )
    return g


def plan_layout(req: ReconstructRequest, hidden: int, memory: bool) -> Layout:
    """The layout of ``req`` over its staged cube, for a model of ``hidden`` state (and a memory map)."""
    g = check_staged(req.staged)

    def refuse(what: str, fact: str) -> Exception:
        if what == "cube":
            return InputError(
                req.staged,
                f"its region is {fact} ({PATCH * 0.25:g} degrees): stage a region at least that large around "
                "your area (the model needs the context) and cut the result afterwards",
            )
        if what == "space_chunk" and req.space_chunk is None:
            return InputError(req.staged, f"its spatial chunk {fact}")
        return ConfigError(f"--{what.replace('_', '-')} {fact}")

    # by default the staged cube's spatial chunk, whole patches (a region smaller than a chunk has one chunk)
    sc = req.space_chunk if req.space_chunk is not None else -(-max(g["sm"].chunks[1:]) // PATCH) * PATCH
    # before anything is written
    return checked_layout(g["sm"].shape, req.time_chunk, sc, hidden, memory, req.overlap, refuse)
