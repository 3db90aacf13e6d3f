"""Batch assembly and augmentation: random crop, horizontal flip, colour jitter.

All randomness comes from a ``torch.Generator`` seeded from (seed, step, rank),
so a batch depends only on where the run is, never on how it got there: a
resumed run draws exactly the crops and colours an uninterrupted run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths (BTS-style photometric jitter).

    Attributes:
        hflip: probability of a horizontal flip.
        brightness: brightness factor drawn from [1-b, 1+b].
        contrast: contrast factor drawn from [1-c, 1+c] around the image mean.
        colour: per-channel gain drawn from [1-c, 1+c].
        gamma: gamma drawn from [1-g, 1+g].
    """

    hflip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    colour: float = 0.1
    gamma: float = 0.1


NO_AUGMENT = AugmentConfig(hflip=0.0, brightness=0.0, contrast=0.0, colour=0.0, gamma=0.0)


def batch_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """A generator whose stream depends only on (seed, step, rank)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 131 + rank)


def _uniform(gen: torch.Generator, n: int, spread: float, shape: Sequence[int] = ()) -> torch.Tensor:
    return 1.0 + spread * (2.0 * torch.rand((n, *shape), generator=gen) - 1.0)


def random_crop_indices(height: int, width: int, crop: tuple[int, int], n: int,
                        gen: torch.Generator) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` random ``crop`` windows inside an image of (height, width).

    Raises:
        ValueError: the crop is larger than the image.
    """
    ch, cw = crop
    if ch > height or cw > width:
        raise ValueError(f"crop {ch}x{cw} is larger than the scenes ({height}x{width})")
    tops = torch.randint(0, height - ch + 1, (n,), generator=gen).tolist()
    lefts = torch.randint(0, width - cw + 1, (n,), generator=gen).tolist()
    return list(zip(tops, lefts))


def photometric(rgb: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Colour jitter on a (N, 3, H, W) batch in [0, 1]; returns a new tensor in [0, 1]."""
    n = rgb.shape[0]
    gamma = _uniform(gen, n, cfg.gamma, (1, 1, 1))
    bright = _uniform(gen, n, cfg.brightness, (1, 1, 1))
    contrast = _uniform(gen, n, cfg.contrast, (1, 1, 1))
    colour = _uniform(gen, n, cfg.colour, (3, 1, 1))
    out = rgb.clamp_min(0) ** gamma
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * contrast + mean
    return (out * bright * colour).clamp(0.0, 1.0)


def make_batch(rgb: np.ndarray, depth: np.ndarray, indices: Sequence[int], crop: Optional[tuple[int, int]],
               mean: Sequence[float], std: Sequence[float], gen: Optional[torch.Generator],
               cfg: AugmentConfig = NO_AUGMENT) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather scenes into a normalized, augmented training batch.

    Args:
        rgb: (N, H, W, 3) uint8 scenes (a memory map is fine).
        depth: (N, H, W) float32 depth in metres, or (N, H, W) uint8 class labels for
            segmentation (cropped and flipped alike; returned as float32 ids).
        indices: which scenes form the batch.
        crop: (h, w) random crop; None keeps whole scenes (or centre-crops when gen is None).
        mean, std: normalization of the model input (0-1 RGB scale).
        gen: randomness for crops, flips and colour; None means deterministic centre crops
            and no augmentation (validation).
        cfg: augmentation strengths.

    Returns:
        (images (B, 3, h, w) float32 normalized, depth (B, 1, h, w) float32).
    """
    idx = list(indices)
    height, width = rgb.shape[1:3]
    crop = crop or (height, width)
    if gen is None:
        corners = [((height - crop[0]) // 2, (width - crop[1]) // 2)] * len(idx)
    else:
        corners = random_crop_indices(height, width, crop, len(idx), gen)
    img = np.stack([rgb[i, t:t + crop[0], l:l + crop[1]] for i, (t, l) in zip(idx, corners)])
    dep = np.stack([depth[i, t:t + crop[0], l:l + crop[1]] for i, (t, l) in zip(idx, corners)])
    x = torch.from_numpy(img).permute(0, 3, 1, 2).float().div_(255.0)
    y = torch.from_numpy(dep.astype(np.float32, copy=False)).unsqueeze(1)
    if gen is not None:
        flip = torch.rand(len(idx), generator=gen) < cfg.hflip
        if bool(flip.any()):
            x[flip] = x[flip].flip(-1)
            y[flip] = y[flip].flip(-1)
        x = photometric(x, cfg, gen)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s, y.contiguous()
