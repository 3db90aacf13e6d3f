"""Task heads on top of the Post Feature Pyramid."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DepthHead(nn.Module):
    """conv3×3 → ReLU → conv1×1 → sigmoid × max_depth, bilinear to the input size.

    Output is metric depth in (0, max_depth].
    """

    def __init__(self, in_channels: int, max_depth: float):
        super().__init__()
        mid = max(in_channels // 2, 8)
        self.conv = nn.Conv2d(in_channels, mid, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.proj = nn.Conv2d(mid, 1, 1)
        self.max_depth = float(max_depth)

    def forward(self, p: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        d = torch.sigmoid(self.proj(self.act(self.conv(p)))) * self.max_depth
        if tuple(d.shape[-2:]) != tuple(size):
            d = F.interpolate(d, size=size, mode="bilinear", align_corners=False)
        return d


class SegmentationHead(nn.Module):
    """conv1×1 → class logits, bilinear to the input size."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, p: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        logits = self.proj(p)
        if tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits
