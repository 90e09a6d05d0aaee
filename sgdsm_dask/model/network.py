"""The SGD-SM 2.0 LSTM-CNN (paper sect. 3.1, Fig. 4): encoder, LSTM module, decoder.

One day of one 40 x 40 patch goes through

    S_T, M_T --4 partial conv--> map --FC--> S_T (vector)
    P_T      --------------------FC--> P_T (vector)
    (S_T, P_T, h, C) --LSTM (eq. 4-11)--> S'_T, (h, C)
    S'_T --FC--> 40 x 40 map --4 partial conv (mask = land)--> S_rec

and observed pixels are then put back unchanged. "4" is ``cfg.layers``.
With ``skip`` and ``memory_map`` (the ``default`` configuration) the
decoder's first layer also takes today's observed map (mask M_T) and each
pixel's decayed mean of past observations (mask: land where it has one),
which the state carries beside (h, C). Every size is in
:class:`ModelConfig`; ``paper`` is the configuration of sect. 3.1, the
others are documented in ``docs/model.md``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from ..config import Strict
from ..grid import PATCH
from .lstm import LSTMState, PaperLSTMCell
from .partial_conv import PartialConv2d


class ModelConfig(Strict):
    """Sizes of the LSTM-CNN; anything the paper leaves open is a field here."""

    name: str = "custom"
    patch: int = Field(PATCH, ge=8)
    kernel: int = Field(3, ge=1)
    width: int = Field(64, ge=1, description="feature maps of every partial conv but the last")
    layers: int = Field(4, ge=2, description="partial convs in the encoder, and again in the decoder")
    feature: int = Field(2048, ge=1, description="length of the vector S_T")
    hidden: int = Field(2048, ge=1, description="length of h_T and C_T (and of P_T, which gates S'_T)")
    cell: Literal["paper"] = "paper"
    skip: bool = Field(False, description="decoder also sees today's observed map (a U-Net style skip)")
    memory_map: bool = Field(False, description="decoder also sees each pixel's decayed mean of past observations")
    memory_decay: float = Field(0.95, gt=0, le=1, description="daily weight decay of that mean (1: plain mean)")
    sm_range: tuple[float, float] = (0.0, 1.0)

    @model_validator(mode="after")
    def _range(self) -> ModelConfig:
        lo, hi = self.sm_range
        if not 0.0 <= lo < hi:
            raise ValueError(f"sm_range {self.sm_range} must satisfy 0 <= low < high")
        return self


#: Named configurations. ``paper`` is sect. 3.1 word for word; ``default``
#: is the CPU configuration, its sizes chosen by the measurements in docs/model.md.
CONFIGS: dict[str, ModelConfig] = {
    "paper": ModelConfig(name="paper", width=64, feature=2048, hidden=2048),
    "default": ModelConfig(name="default", width=16, feature=256, hidden=256, skip=True, memory_map=True),
    "paper-small": ModelConfig(name="paper-small", width=16, feature=256, hidden=256),
    "tiny": ModelConfig(name="tiny", width=4, feature=16, hidden=16, skip=True, memory_map=True),
}


NO_RAIN_DATA = -1.0


def normalise_precip(mm: np.ndarray, scale: float) -> np.ndarray:
    """``log1p(mm/day) / scale``; NaN (unavailable) becomes :data:`NO_RAIN_DATA`."""
    with np.errstate(invalid="ignore"):
        out = np.log1p(np.clip(mm, 0.0, None)) / scale
    return np.where(np.isfinite(mm), out, NO_RAIN_DATA).astype(np.float32)


class Normalisation(Strict):
    """How physical values become network inputs (stored in every checkpoint).

    ``sm / sm_scale`` keeps 0 m3/m3 at 0, so the last decoder ReLU is the
    physical lower bound; precipitation goes through ``log1p(mm/day) /
    precip_scale`` because daily rain is heavy-tailed. Unavailable
    precipitation (NaN) enters as :data:`NO_RAIN_DATA` (-1), a value no
    rain can take, so that "unknown" is not read as "dry".
    """

    sm_scale: float = Field(0.25, gt=0)
    precip_scale: float = Field(2.0, gt=0)


def _stack(cfg: ModelConfig, first_in: int) -> nn.ModuleList:
    chans = [first_in] + [cfg.width] * (cfg.layers - 1) + [1]
    return nn.ModuleList(PartialConv2d(a, b, cfg.kernel) for a, b in zip(chans[:-1], chans[1:], strict=True))


class LSTMCNN(nn.Module):
    """The network on normalised inputs; see :mod:`sgdsm_dask.model.fill` for physical units."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = cfg.patch * cfg.patch
        self.encoder = _stack(cfg, 1)
        self.fc_s = nn.Linear(n, cfg.feature)
        self.fc_p = nn.Linear(n, cfg.hidden)
        self.cell = PaperLSTMCell(cfg.feature, cfg.hidden)
        self.fc_out = nn.Linear(cfg.hidden, n)
        self.decoder = _stack(cfg, 1 + int(cfg.skip) + int(cfg.memory_map))
        with torch.no_grad():  # start the output at the normalised mean (1), not at the ReLU's dead zero
            self.decoder[-1].conv.bias.fill_(1.0)

    def zero_state(self, n: int) -> LSTMState:
        p = next(self.parameters())
        return LSTMState.zeros(n, self.cfg.hidden, device=p.device, dtype=p.dtype)

    @staticmethod
    def _history(state: LSTMState, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean of past observations, its weight) per pixel; zero weight before any observation."""
        if state.y is None:
            z = torch.zeros_like(like)
            return z, z
        return state.y[:, :1], state.y[:, 1:2]

    def step(
        self, s: torch.Tensor, m: torch.Tensor, p: torch.Tensor, land: torch.Tensor, state: LSTMState
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """One day: ``(S_T, M_T, P_T, L, state) -> (filled, raw, new state)``.

        All maps are (N, 1, patch, patch) and normalised; ``s`` may hold
        anything where ``m`` is 0. ``raw`` is the decoder output everywhere
        (what eq. 12 scores); ``filled`` is ``raw`` with observed pixels put
        back and non-land set to 0.
        """
        hist, weight = self._history(state, s) if self.cfg.memory_map else (None, None)  # memory before today
        x, mk = s * m, m
        last = self.cfg.layers - 1
        for i, pc in enumerate(self.encoder):  # inner layers hand over unzeroed features, masked by the next
            x, mk = pc(x, mk, land, owned=i > 0, exact=i == last)
            x = torch.relu_(x)
        s_vec = self.fc_s(x.flatten(1))
        p_vec = self.fc_p(p.flatten(1))
        s_out, state = self.cell(s_vec, p_vec, state)
        y = self.fc_out(s_out).view_as(s)
        mk = land
        if self.cfg.skip or self.cfg.memory_map:
            maps, masks = [y], [land]
            if self.cfg.skip:
                maps.append(s * m)
                masks.append(m)
            if self.cfg.memory_map:
                maps.append(hist)
                masks.append((weight > 0).to(s.dtype) * land)
            y, mk = torch.cat(maps, 1), torch.cat(masks, 1)
        for i, pc in enumerate(self.decoder):
            y, mk = pc(y, mk, land, owned=i > 0, exact=i == last)
            y = torch.relu_(y)
        filled = torch.where(m > 0, s, y) * land
        if self.cfg.memory_map:
            lam = self.cfg.memory_decay
            w_new = lam * weight + m
            h_new = torch.where(w_new > 0, (lam * weight * hist + m * s) / w_new.clamp(min=1e-6), hist)
            state = LSTMState(state.h, state.c, torch.cat([h_new, w_new], 1))
        return filled, y, state

    def forward(
        self, s: torch.Tensor, m: torch.Tensor, p: torch.Tensor, land: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """The sequence interface: maps are (N, T, patch, patch); ``land`` is (N, patch, patch).

        Returns ``(filled, raw, state)`` with ``filled`` and ``raw`` of shape
        (N, T, patch, patch) and the state after the last day.
        """
        n, t = s.shape[:2]
        state = state if state is not None else self.zero_state(n)
        lnd = land.unsqueeze(1)
        filled, raw = [], []
        for k in range(t):
            f, r, state = self.step(s[:, k : k + 1], m[:, k : k + 1], p[:, k : k + 1], lnd, state)
            filled.append(f)
            raw.append(r)
        return torch.cat(filled, 1), torch.cat(raw, 1), state


def get_config(name_or_path: str) -> ModelConfig:
    """A named configuration, or a YAML file holding :class:`ModelConfig` fields."""
    from ..config import invalid, load_yaml
    from ..errors import ConfigError

    if name_or_path in CONFIGS:
        return CONFIGS[name_or_path]
    if not name_or_path.endswith((".yaml", ".yml")):
        raise ConfigError(f"unknown model configuration {name_or_path!r}; named ones: {', '.join(CONFIGS)}")
    data = load_yaml(name_or_path)
    try:
        return ModelConfig(**data)
    except ValueError as exc:
        raise invalid(name_or_path, exc) from None


def count_flops(cfg: ModelConfig) -> int:
    """Multiply-adds x 2 of one patch-day: the convolutions (as dense 'same' convolutions, each with its
    ``||M||_1`` window count on one map), the FC layers and the cell, read off the modules themselves."""
    net = LSTMCNN(cfg)
    n, k2 = cfg.patch * cfg.patch, cfg.kernel**2
    macs = 0
    for pc in (*net.encoder, *net.decoder):
        macs += (pc.conv.in_channels * pc.conv.out_channels + 1) * k2 * n  # + the window count of one mask map
    macs += sum(fc.in_features * fc.out_features for fc in (net.fc_s, net.fc_p, net.fc_out))
    macs += (cfg.hidden + cfg.feature) * 5 * cfg.hidden  # the cell's five gates (eq. 4-11)
    return 2 * macs
