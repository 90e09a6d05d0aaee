"""Partial convolution with the paper's land-aware mask update (eq. 1 and 2).

Eq. 1: S'(m,n) = W^T (S x M) * ||1||_1 / ||M||_1 + b  where ||M||_1 > 0, else 0.
Eq. 2: M'(m,n) = L(m,n)                               where ||M||_1 > 0, else 0.

``||M||_1`` is the number of valid cells under the kernel window (summed over
input channels, as in Liu et al. 2018), ``||1||_1`` the window's size. Cells
under a gap contribute nothing, so the output does not depend on the values
hidden by the mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor, land: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply eq. 1 and 2.

        Parameters
        ----------
        x
            (N, C, H, W) features.
        mask
            (N, 1 or C, H, W) with 1 = valid, 0 = gap.
        land
            (N, 1, H, W) land mask L (1 = land).

        Returns
        -------
        (features, new_mask), new_mask of shape (N, 1, H, W).
        """
        k = self.conv.kernel_size[0]
        pad = k // 2
        with torch.no_grad():
            # ||M||_1 per window: a sum pool of the mask (times the channels when one mask serves all)
            count = F.avg_pool2d(mask, k, stride=1, padding=pad, count_include_pad=True) * (k * k)
            if mask.shape[1] == 1:
                count = count * self.in_channels
            else:
                count = count.sum(1, keepdim=True)
            valid = (count > 0.5).to(x.dtype)
            scale = self.window / count.clamp(min=1.0) * valid
        out = F.conv2d(x * mask, self.conv.weight, None, padding=pad)
        out = out.mul_(scale).add_(self.conv.bias.view(1, -1, 1, 1) * valid)  # in place: no saved input needs it
        new_mask = land * valid
        return out, new_mask
