"""The patch grid of a reconstruction: time chunks, spatial blocks and the patches each block runs.

The patches form one grid over the whole cube (:func:`~sgdsm_dask.model.fill.patch_origins`:
stride ``40 - overlap``, the last patch ending at the cube's edge), blended
where they overlap. A block reads a halo around its cells so that it runs
every patch touching them, and keeps the state of those patches (a patch on
a block border is run by both blocks, with the same inputs and so the same
values). Indices only: no data is read here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..grid import PATCH
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
