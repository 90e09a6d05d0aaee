"""Gap filling in physical units: tile a block into patches, step day by day, carry the state.

:class:`Filler` is what a Dask worker holds (one per process): the network
on its device plus the checkpoint's normalisation. :meth:`Filler.run` fills
days ``(T, H, W)`` of any block size: patches tile the block (a block
smaller than one patch is padded with sea, never observed), patches
without land are skipped, and the LSTM state of every patch position comes
in and goes out as NumPy arrays so that it can be stored between time chunks.

With ``overlap`` > 0 the patches overlap by that many cells (stride
``patch - overlap``) and their reconstructions are blended with weights that
ramp linearly from a patch's edge over the overlap, so that no seam shows
at patch borders. The last patch of a row or column is moved back to end
at the block's edge (:func:`patch_origins`) rather than reaching past it
into padding: a patch that is mostly padding fills badly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..flags import Flag
from ..grid import DEFAULT_OVERLAP, check_overlap
from ..runtime import malloc
from ..training.checkpoint import Checkpoint, load
from .anomaly import AnomalyConfig, CubeFiller
from .lstm import LSTMState
from .network import LSTMCNN, NO_RAIN_DATA, Normalisation, normalise_precip


@dataclass
class PatchState:
    """LSTM state of every patch position of a block: ``h`` and ``c`` of shape (ny, nx, hidden).

    ``y`` (ny, nx, 2, P, P) is, per pixel, the decayed mean of past observations
    (normalised) and its weight, kept for configurations with ``memory_map``
    (None before the first day).
    """

    h: np.ndarray
    c: np.ndarray
    y: np.ndarray | None = None

    @classmethod
    def zeros(cls, ny: int, nx: int, hidden: int) -> PatchState:
        return cls(np.zeros((ny, nx, hidden), np.float32), np.zeros((ny, nx, hidden), np.float32))


def patch_origins(n: int, p: int, overlap: int = 0) -> np.ndarray:
    """First cells of the patches covering ``n`` cells: every ``p - overlap`` cells, the last ending at ``n``.

    With fewer than ``p`` cells there is one patch at 0 (padded beyond ``n``).
    """
    if n <= p:
        return np.zeros(1, np.int64)
    stride = p - overlap
    k = 1 + -(-(n - p) // stride)
    origins = np.arange(k, dtype=np.int64) * stride
    origins[-1] = n - p
    return origins


def patch_edges(n: int, p: int, overlap: int = 0) -> np.ndarray:
    """Cells just after a patch border (a patch's first cell, or the cell after its last) inside ``n`` cells."""
    starts = patch_origins(n, p, overlap)
    edges = np.unique(np.concatenate([starts, starts + p]))
    return edges[(edges > 0) & (edges < n)]


def _patches(a: np.ndarray, p: int, oy: np.ndarray, ox: np.ndarray) -> np.ndarray:
    """(..., H, W) -> (..., ny, nx, p, p), the patches whose first cells are ``oy`` x ``ox`` (a copy)."""
    win = np.lib.stride_tricks.sliding_window_view(a, (p, p), axis=(-2, -1))
    return win[..., oy[:, None], ox[None, :], :, :]


def blend_weights(p: int, overlap: int) -> np.ndarray:
    """(p, p) weights: 1 inside, a linear ramp over ``overlap`` cells at each edge (all ones without overlap)."""
    if overlap == 0:
        return np.ones((p, p), np.float32)
    i = np.arange(p) + 0.5
    w1 = np.minimum(1.0, np.minimum(i, p - i) / overlap).astype(np.float32)
    return np.outer(w1, w1)


def blend_patches(
    out: np.ndarray, active: np.ndarray, oy: np.ndarray, ox: np.ndarray, size: tuple[int, int], overlap: int
) -> np.ndarray:
    """Patches (T, ny*nx, p, p) back to a (T, H, W) map; overlapping patches averaged with ramp weights."""
    p = out.shape[-1]
    t, nx = out.shape[0], ox.size
    acc = np.zeros((t, *size), np.float32)
    total = np.zeros(size, np.float32)
    weight = blend_weights(p, overlap)
    for k in active:  # every land cell lies in active patches only
        y0, x0 = oy[k // nx], ox[k % nx]
        acc[:, y0 : y0 + p, x0 : x0 + p] += out[:, k] * weight
        total[y0 : y0 + p, x0 : x0 + p] += weight
    return acc / np.maximum(total, np.float32(1e-12))


class Filler:
    """A loaded model that fills blocks of days."""

    def __init__(
        self,
        net: LSTMCNN,
        norm: Normalisation,
        device: torch.device | str = "cpu",
        batch: int = 256,
        overlap: int = DEFAULT_OVERLAP,
    ):
        malloc.tune()  # megabyte tensors allocated anew every day: keep them off mmap (sgdsm_dask/runtime/malloc.py)
        # channels-last: the 3 x 3 convolutions run about twice as fast on CPUs (benchmarks/model_bench.py)
        self.net = net.to(device).eval().to(memory_format=torch.channels_last)
        self.norm = norm
        self.device = torch.device(device)
        self.batch = batch
        self.patch = net.cfg.patch
        self.hidden = net.cfg.hidden
        self.lo, self.hi = net.cfg.sm_range
        self.overlap = check_overlap(overlap, self.patch)

    @classmethod
    def from_checkpoint(
        cls, ck: Checkpoint | str | None = None, device: str = "cpu", batch: int = 256, overlap: int = DEFAULT_OVERLAP
    ) -> Filler:
        ck = ck if isinstance(ck, Checkpoint) else load(ck)
        if isinstance(ck.config, AnomalyConfig):  # whole cubes in memory: what sgdsm evaluate hands it
            return CubeFiller(ck.model(device), overlap)  # type: ignore[return-value]
        return cls(ck.model(device), ck.normalisation, device, batch, overlap)

    def origins(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """First rows and first columns of the patches of an (h, w) block."""
        return patch_origins(h, self.patch, self.overlap), patch_origins(w, self.patch, self.overlap)

    @torch.inference_mode()
    def run(
        self,
        sm: np.ndarray,
        precip: np.ndarray | None,
        land: np.ndarray,
        state: PatchState | None = None,
        origins: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, PatchState]:
        """Fill ``sm`` (T, H, W; NaN = gap) with precipitation (T, H, W; NaN or None = unavailable).

        ``origins`` (first rows, first columns) places the patches, by
        default :meth:`origins` of the block; a block cut out of a larger
        grid passes that grid's patches. Returns ``(filled, flag, state)``:
        observed pixels exactly as given, land gaps filled, everything else
        NaN with flag 2.
        """
        t, h, w = sm.shape
        p = self.patch
        oy, ox = origins if origins is not None else self.origins(h, w)
        ny, nx = oy.size, ox.size
        ph, pw = max(0, int(oy[-1]) + p - h), max(0, int(ox[-1]) + p - w)
        pad3 = ((0, 0), (0, ph), (0, pw))
        obs = np.isfinite(sm)
        s = np.pad(np.where(obs, sm, 0.0).astype(np.float32) / self.norm.sm_scale, pad3)
        m = np.pad(obs, pad3).astype(np.float32)
        if precip is None:
            pr = np.full_like(s, NO_RAIN_DATA)
        else:
            pr = np.pad(normalise_precip(precip, self.norm.precip_scale), pad3, constant_values=NO_RAIN_DATA)
        lnd = np.pad(land.astype(bool), ((0, ph), (0, pw)))
        state = state if state is not None else PatchState.zeros(ny, nx, self.hidden)
        if state.h.shape != (ny, nx, self.hidden):
            raise ValueError(f"state of shape {state.h.shape} does not fit a block of {ny} x {nx} patches")

        lp = _patches(lnd, p, oy, ox)  # (ny, nx, p, p)
        active = np.flatnonzero(lp.any(axis=(-1, -2)).ravel())
        sp, mp, pp = (_patches(a, p, oy, ox).reshape(t, ny * nx, p, p) for a in (s, m, pr))
        out = np.zeros((t, ny * nx, p, p), np.float32)
        h_out, c_out = state.h.reshape(ny * nx, -1).copy(), state.c.reshape(ny * nx, -1).copy()
        memory = self.net.cfg.memory_map
        y_out = None
        if memory:
            y_out = np.zeros((ny * nx, 2, p, p), np.float32)
            if state.y is not None:
                y_out[:] = state.y.reshape(ny * nx, 2, p, p)
        land_t = torch.from_numpy(lp.reshape(ny * nx, 1, p, p).astype(np.float32))
        dev = self.device
        for i in range(0, active.size, self.batch):
            idx = active[i : i + self.batch]
            y0 = torch.from_numpy(y_out[idx]).to(dev) if memory and state.y is not None else None
            st = LSTMState(torch.from_numpy(h_out[idx]).to(dev), torch.from_numpy(c_out[idx]).to(dev), y0)
            ld = land_t[idx].to(dev)
            for k in range(t):
                _, raw, st = self.net.step(
                    torch.from_numpy(sp[k, idx, None]).to(dev),
                    torch.from_numpy(mp[k, idx, None]).to(dev),
                    torch.from_numpy(pp[k, idx, None]).to(dev),
                    ld,
                    st,
                )
                out[k, idx] = raw[:, 0].float().cpu().numpy()
            h_out[idx] = st.h.float().cpu().numpy()
            c_out[idx] = st.c.float().cpu().numpy()
            if memory and st.y is not None:
                y_out[idx] = st.y.float().cpu().numpy()

        rec = blend_patches(out, active, oy, ox, (h + ph, w + pw), self.overlap)[:, :h, :w] * np.float32(
            self.norm.sm_scale
        )
        rec = np.clip(rec, self.lo, self.hi)
        land_b = land.astype(bool)[None]
        filled = np.where(obs, sm, np.where(land_b, rec, np.nan)).astype(np.float32)
        flag = np.where(obs, Flag.OBSERVED, np.where(land_b, Flag.FILLED, Flag.NOT_FILLED)).astype(np.int8)
        y_state = y_out.reshape(ny, nx, 2, p, p) if y_out is not None and (t > 0 or state.y is not None) else None
        return filled, flag, PatchState(h_out.reshape(ny, nx, -1), c_out.reshape(ny, nx, -1), y_state)
