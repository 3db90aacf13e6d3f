"""Depth training losses."""

from __future__ import annotations

from typing import Optional

import torch

from ..eval.metrics import valid_depth_mask  # the loss supervises the pixels the metrics score


def silog_loss(pred: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None, *,
               variance_focus: float = 0.85, scale: float = 10.0, eps: float = 1e-3) -> torch.Tensor:
    """Scale-invariant log loss (Eigen et al. 2014, in the form BTS and AdaBins train with).

    With ``d = log(pred) - log(target)`` over the valid pixels of the whole batch::

        loss = scale * sqrt( mean(d^2) - variance_focus * mean(d)^2 )

    ``variance_focus = 1`` makes it fully scale-invariant; 0.85 keeps some weight
    on the absolute scale so that a metric model learns metres.

    Args:
        pred: predicted depth (N, 1, H, W) in metres; clamped to ``eps`` before the log.
        target: ground truth, same shape.
        mask: boolean valid-pixel mask, same shape; None uses every finite positive pixel.
        variance_focus: lambda in the formula above, in [0, 1].
        scale: output multiplier (10 in BTS).
        eps: lower clamp for the prediction.

    Returns:
        Scalar loss; zero (still attached to the graph) when no pixel is valid.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if mask is None:
        mask = valid_depth_mask(target, min_depth=0.0)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    d = torch.log(pred[mask].clamp_min(eps)) - torch.log(target[mask])
    value = (d * d).mean() - variance_focus * d.mean() ** 2
    # clamp: rounding can push a perfect prediction's value a hair below zero
    return scale * torch.sqrt(value.clamp_min(1e-12))


def log_gradient_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, scales: int = 4,
                      eps: float = 1e-3) -> torch.Tensor:
    """Scale-invariant gradient matching on log depth (MegaDepth / MiDaS form), over ``scales`` scales.

    With ``d = log(pred) - log(target)``, the loss is the mean absolute difference
    of ``d`` between horizontal and vertical neighbours where both pixels are
    valid, summed over the image and its 2x, 4x, ... subsamplings. A global scale
    error adds a constant to ``d`` and so costs nothing; what is penalised is
    wrong relative depth: missing or blurred edges and wrong slopes.

    Args:
        pred, target: (N, 1, H, W) depth in metres; ``pred`` is clamped to ``eps``.
        mask: boolean valid-pixel mask, same shape.
        scales: number of scales (each subsamples by 2).
        eps: lower clamp for the prediction.

    Returns:
        Scalar loss (0, attached to the graph, when no neighbour pair is valid).
    """
    d = torch.where(mask, torch.log(pred.clamp_min(eps)) - torch.log(target.clamp_min(eps)), torch.zeros_like(pred))
    total = pred.sum() * 0.0
    for k in range(scales):
        step = 2 ** k
        dk, mk = d[..., ::step, ::step], mask[..., ::step, ::step]
        for axis in (-1, -2):
            n = dk.shape[axis]
            if n < 2:
                continue
            a, b = dk.narrow(axis, 1, n - 1), dk.narrow(axis, 0, n - 1)
            both = mk.narrow(axis, 1, n - 1) & mk.narrow(axis, 0, n - 1)
            count = both.sum()
            if bool(count > 0):
                total = total + ((a - b).abs() * both).sum() / count
    return total
