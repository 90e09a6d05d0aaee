"""Partial convolution with the paper's land-aware mask update (eq. 1 and 2).

Eq. 1: S'(m,n) = W^T (S x M) * ||1||_1 / ||M||_1 + b  where ||M||_1 > 0, else 0.
Eq. 2: M'(m,n) = L(m,n)                               where ||M||_1 > 0, else 0.

``||M||_1`` is the number of valid cells under the kernel window (summed over
input channels, as in Liu et al. 2018), ``||1||_1`` the window's size. Cells
under a gap contribute nothing, so the output does not depend on the values
hidden by the mask.

For speed, a layer may skip the "else 0" (``exact=False``) when its output
goes straight into another partial convolution whose mask (the new mask
M') zeroes those cells anyway; ``LSTMCNN`` does so for all but the last
layer of each stack, so every stack's output is eq. 1 exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def window_sum(x: torch.Tensor, k: int) -> torch.Tensor:
    """Sum over each k x k window ('same' size, zeros beyond the edge), as two 1-D passes of shifted adds.

    Exact for masks (small integers), and about four times faster on CPUs
    than a sum pool or a convolution with a ones kernel.
    """
    pad = k // 2
    p = F.pad(x, (pad, pad, pad, pad))
    h, w = x.shape[-2:]
    rows = sum(p[..., :, j : j + w] for j in range(k))
    return sum(rows[..., i : i + h, :] for i in range(k))


class PartialConv2d(nn.Module):
    """A 2-D partial convolution (stride 1, 'same' padding).

    Parameters
    ----------
    in_channels, out_channels
        Feature maps in and out.
    kernel_size
        Odd window size (the paper uses 3).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd for 'same' padding")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=True)
        self.in_channels = in_channels
        self.window = float(in_channels * kernel_size * kernel_size)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, land: torch.Tensor, *, owned: bool = False, exact: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply eq. 1 and 2.

        Parameters
        ----------
        x
            (N, C, H, W) features.
        mask
            (N, 1 or C, H, W) with 1 = valid, 0 = gap.
        land
            (N, 1, H, W) land mask L (1 = land).
        owned
            ``x`` is a temporary of the caller's that this layer may
            overwrite (used only when no gradient is kept): saves a copy.
        exact
            False leaves the windows with no valid cell holding the bias
            instead of 0, for a caller that hands the features straight to
            another partial convolution with the new mask (which zeroes
            them): saves a pass.

        Returns
        -------
        (features, new_mask), new_mask of shape (N, 1, H, W). With
        ``exact`` the features are eq. 1 exactly: 0 where the window holds
        no valid cell, defined (not masked by land) elsewhere.
        """
        k = self.conv.kernel_size[0]
        pad = k // 2
        with torch.no_grad():
            # ||M||_1 per window (times the channels when one mask serves all of them)
            if mask.shape[1] == 1:
                count = window_sum(mask, k) * self.in_channels
            else:
                count = window_sum(mask.sum(1, keepdim=True), k)
            valid = (count > 0.5).to(x.dtype)
            ratio = self.window / count.clamp(min=1.0)
        xm = x.mul_(mask) if owned and not x.requires_grad else x * mask
        out = F.conv2d(xm, self.conv.weight, None, padding=pad)
        # (W^T(S M) ||1||/||M|| + b) where valid: two passes over the features, in place without autograd
        bias = self.conv.bias.view(1, -1, 1, 1)
        if out.requires_grad:
            out = torch.addcmul(bias, out, ratio)
        else:
            torch.addcmul(bias, out, ratio, out=out)
        return (out.mul_(valid) if exact else out), land * valid
