"""The patch grid of a reconstruction: time chunks, spatial blocks and the patches each block runs.

The patches form one grid over the whole cube (:func:`~sgdsm_dask.model.fill.patch_origins`:
stride ``40 - overlap``, the last patch ending at the cube's edge), blended
where they overlap. A block reads a halo around its cells so that it runs
every patch touching them, and keeps the state of those patches (a patch on
a block border is run by both blocks, with the same inputs and so the same
values). Indices only: no data is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..grid import PATCH, check_overlap
from ..model.fill import patch_origins


@dataclass(frozen=True)
class Layout:
    """Sizes the client and the tasks agree on: the cube, its chunks, and the model's state."""

    days: int
    rows: int
    cols: int
    time_chunk: int
    space_chunk: int
    hidden: int  # the LSTM's state size
    memory: bool  # whether the model keeps a memory map of past observations
    overlap: int  # cells by which neighbouring patches overlap
    context_days: int = 0  # days before and after each day the model reads (the 'anomaly' network; 0: none)
    prior_sigma: float = 0.0  # > 0: the model corrects a per-pixel prior over the record (sm_prior; neighbours' width)
    prior_days: int = 0  # the prior is each pixel's mean over the first prior_days days (0: no prior)

    def provisional(self, t: np.ndarray) -> np.ndarray:
        """Whether the days ``t`` are filled with a look-ahead cut short by the record's end (refilled on append)."""
        return np.asarray(t) + self.context_days >= self.days if self.context_days else np.zeros(np.shape(t), bool)

    def first_to_redo(self, days_before: int) -> int:
        """The first time chunk an append to a record of ``days_before`` days redoes.

        The chunk that was short, and every chunk holding a provisional day
        (:meth:`provisional`), are filled again over the grown record, from
        the state stored before them: the values are those of one run.
        """
        return max(days_before - self.context_days, 0) // self.time_chunk

    @property
    def n_chunks(self) -> int:
        return -(-self.days // self.time_chunk)

    @property
    def n_blocks(self) -> tuple[int, int]:
        return -(-self.rows // self.space_chunk), -(-self.cols // self.space_chunk)

    @property
    def blocks(self) -> list[tuple[int, int]]:
        nby, nbx = self.n_blocks
        return [(bi, bj) for bi in range(nby) for bj in range(nbx)]

    def chunk_days(self, k: int) -> tuple[int, int]:
        """First and past-last day of time chunk ``k``."""
        return k * self.time_chunk, min(self.days, (k + 1) * self.time_chunk)

    def cells(self, bi: int, bj: int) -> tuple[slice, slice]:
        """The rows and columns block ``(bi, bj)`` writes."""
        sc = self.space_chunk
        return slice(bi * sc, min(self.rows, (bi + 1) * sc)), slice(bj * sc, min(self.cols, (bj + 1) * sc))

    def origins(self, n: int) -> np.ndarray:
        """First cells of the cube's patches along an axis of ``n`` cells."""
        return patch_origins(n, PATCH, self.overlap)

    def _span(self, b: int, n: int) -> tuple[int, int]:
        """The cube's patches [k0, k1) touching block ``b``'s cells along an axis of ``n`` cells."""
        r0, r1 = b * self.space_chunk, min(n, (b + 1) * self.space_chunk)
        touch = np.flatnonzero((self.origins(n) < r1) & (self.origins(n) + PATCH > r0))
        return int(touch[0]), int(touch[-1]) + 1

    def window(self, bi: int, bj: int) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """Cells the block reads (its own and the halo its patches cover) and its patches' origins in them."""
        out = []
        for b, n in ((bi, self.rows), (bj, self.cols)):
            k0, k1 = self._span(b, n)
            o = self.origins(n)[k0:k1]
            out.append((slice(int(o[0]), min(n, int(o[-1]) + PATCH)), o - o[0]))
        (rows, oy), (cols, ox) = out
        return rows, cols, oy, ox

    def own(self, bi: int, bj: int) -> tuple[slice, slice]:
        """The block's own cells (:meth:`cells`) within its :meth:`window`."""
        (rows, cols), (wr, wc, _, _) = self.cells(bi, bj), self.window(bi, bj)
        return slice(rows.start - wr.start, rows.stop - wr.start), slice(cols.start - wc.start, cols.stop - wc.start)

    @property
    def patches_per_block(self) -> tuple[int, int]:
        """The most patch positions any block has, per axis (the state arrays' block size)."""
        nby, nbx = self.n_blocks
        ky = max(k1 - k0 for k0, k1 in (self._span(b, self.rows) for b in range(nby)))
        kx = max(k1 - k0 for k0, k1 in (self._span(b, self.cols) for b in range(nbx)))
        return ky, kx

    def block_patches(self, bi: int, bj: int) -> tuple[int, int]:
        """How many patch positions block ``(bi, bj)`` has, per axis."""
        (y0, y1), (x0, x1) = self._span(bi, self.rows), self._span(bj, self.cols)
        return y1 - y0, x1 - x0


#: ``refuse(what, fact)``: the caller's exception for a cube or cut the model cannot take, worded for its user.
#: ``what`` is ``"cube"``, ``"time_chunk"`` or ``"space_chunk"``; ``fact`` says what is wrong (no option name).
Refuse = Callable[[str, str], Exception]


def checked_layout(
    shape: tuple[int, int, int],
    time_chunk: int,
    space_chunk: int,
    hidden: int,
    memory: bool,
    overlap: int,
    refuse: Refuse,
    **model: Any,
) -> Layout:
    """The :class:`Layout` of a (days, rows, cols) cube, once the model can take the cube and its cuts.

    The one check of ``sgdsm reconstruct`` (:func:`~.request.plan_layout`)
    and ``sgdsm_dask.fill`` (:func:`~.graph.layout_for`): a cube at least a
    patch on each side, time chunks of at least one day, spatial blocks of
    whole patches, an overlap patches can take. Each refusal is raised as
    ``refuse(what, fact)`` (:data:`Refuse`), so each caller names what its
    user typed. ``model``: the 'anomaly' network's ``context_days`` and
    ``prior_sigma``.
    """
    days, rows, cols = shape
    if min(rows, cols) < PATCH:
        raise refuse("cube", f"{rows} x {cols} cells, smaller than the model's {PATCH} x {PATCH}-cell patch")
    if time_chunk < 1:
        raise refuse("time_chunk", f"{time_chunk}: a time chunk must be at least one day")
    if space_chunk < PATCH or space_chunk % PATCH:
        raise refuse("space_chunk", f"{space_chunk}: a spatial block must be whole {PATCH}-cell patches")
    check_overlap(overlap)
    return Layout(days, rows, cols, time_chunk, space_chunk, hidden, memory, overlap, **model)
