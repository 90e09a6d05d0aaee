"""The LSTM module of the paper (eq. 4-11), with precipitation entering eq. 10.

f_T  = sig(W_f [h_{T-1}, S_T] + b_f)                 (4)
i_T  = sig(W_i [h_{T-1}, S_T] + b_i)                 (6)
C~_T = tanh(W_C [h_{T-1}, S_T] + b_C)                (7)
C_T  = f_T * C_{T-1} + i_T * C~_T                    (9)
S'_T = sig(W_S' [h_{T-1}, S_T] + b_S') * tanh(P_T)   (10)
h_T  = tanh(o_T * C_T)                               (11)

The paper uses o_T without defining it; it is the usual output gate,
o_T = sig(W_o [h_{T-1}, S_T] + b_o). All five gates share one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LSTMState:
    """(h, C) of every patch, and with ``memory_map`` each pixel's past-observation mean and its weight: what travels day to day."""

    h: torch.Tensor  # (N, hidden)
    c: torch.Tensor  # (N, hidden)
    y: torch.Tensor | None = None  # (N, 2, P, P) past-observation mean and weight (configurations with memory_map)

    @classmethod
    def zeros(
        cls, n: int, hidden: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> LSTMState:
        z = torch.zeros(n, hidden, device=device, dtype=dtype)
        return cls(h=z, c=z.clone())


class PaperLSTMCell(nn.Module):
    """One day of the paper's cell: ``(S_T, P_T, state) -> (S'_T, state)``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.gates = nn.Linear(hidden_size + input_size, 5 * hidden_size)

    def forward(self, s: torch.Tensor, p: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        z = self.gates(torch.cat([state.h, s], dim=1))
        f, i, c_tilde, s_gate, o = z.chunk(5, dim=1)
        f = torch.sigmoid(f)
        i = torch.sigmoid(i)
        c_tilde = torch.tanh(c_tilde)
        o = torch.sigmoid(o)
        c = f * state.c + i * c_tilde
        s_out = torch.sigmoid(s_gate) * torch.tanh(p)
        h = torch.tanh(o * c)
        return s_out, LSTMState(h=h, c=c)
