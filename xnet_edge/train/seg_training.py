"""Segmentation training: cross-entropy with an ignore label, mIoU validation, the head's classes.

The trainer picks these when the model's task is ``segmentation`` (``xnet-edge train --task
segmentation``); targets are the generated scenes' semantic labels (see
``xnet_edge.data.synthetic.CLASS_NAMES``), 255 marks pixels to ignore.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from ..errors import UsageError
from ..eval.metrics import IGNORE_INDEX, ConfusionMeter
from .augment import make_batch
from .scene_set import SceneSet, _is_generated
from .state import unwrap


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor,
                      ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean pixel-wise cross-entropy over the pixels whose label is not ``ignore_index``.

    Args:
        logits: (N, K, H, W) class scores.
        target: (N, H, W) or (N, 1, H, W) class ids (any numeric dtype).
        ignore_index: label to skip.

    Returns:
        Scalar loss; zero (still attached to the graph) when every pixel is ignored.

    Raises:
        ValueError: the spatial shapes differ.
    """
    if target.ndim == 4:
        target = target[:, 0]
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(target.shape)} do not match")
    target = target.long()
    if not bool((target != ignore_index).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target, ignore_index=ignore_index)


def head_overrides(model: str, task: Optional[str], num_classes: Optional[int], data: str) -> dict[str, Any]:
    """``create_model`` overrides for a training run, after checking the task.

    A segmentation model trained on generated scenes gets a head with one output per
    generator class (and their names in ``config.extra["class_names"]``) unless
    ``num_classes`` says otherwise.

    Args:
        model: the registered variant.
        task: the task asked for ("depth", "segmentation"), or None for the model's own.
        num_classes: classes of the segmentation head (None: see above).
        data: the training data spec.

    Raises:
        UsageError: the model does not do ``task``; ``num_classes`` for a depth model or
            fewer classes than the data's labels.
    """
    from ..models import model_config

    own = model_config(model).task
    if task is not None and task != own:
        hint = " (e.g. --model xnet_lite0_seg)" if task == "segmentation" else ""
        raise UsageError(f"--task {task} needs a {task} model; {model} is a {own} model{hint}")
    if own != "segmentation":
        if num_classes is not None:
            raise UsageError(f"--num-classes is for segmentation models; {model} is a {own} model")
        return {}
    if not _is_generated(data):
        raise UsageError(f"segmentation training reads the labels of generated scenes (synthetic:N), not {data!r}")
    from ..data.synthetic import CLASS_NAMES

    if num_classes is None or num_classes == len(CLASS_NAMES):
        return {"num_classes": len(CLASS_NAMES), "extra": {"class_names": list(CLASS_NAMES)}}
    if num_classes < len(CLASS_NAMES):
        raise UsageError(f"--num-classes {num_classes} is fewer than the {len(CLASS_NAMES)} classes of the "
                         f"generated scenes ({', '.join(CLASS_NAMES)})")
    return {"num_classes": int(num_classes)}


@torch.inference_mode()
def validate_segmentation(model: torch.nn.Module, scenes: SceneSet, *, batch_size: int = 4,
                          crop: Optional[tuple[int, int]] = None,
                          device: Optional[torch.device] = None) -> dict[str, Any]:
    """mIoU, pixel accuracy, per-class IoU and cross-entropy of ``model`` on ``scenes``.

    Args:
        model: a segmentation XNet (a DDP wrapper is unwrapped); its train/eval mode is restored.
        scenes: scenes with ``labels``.
        batch_size: scenes per forward pass.
        crop: centre crop; None evaluates whole scenes.
        device: where to run (default: the model's device).

    Returns:
        ``xnet_edge.eval.segmentation_scores`` keys (over the whole set) plus ``loss``.

    Raises:
        UsageError: the scenes carry no labels.
    """
    if scenes.labels is None:
        raise UsageError(f"validation data {scenes.spec!r} has no semantic labels")
    module = unwrap(model)
    was_training = module.training
    module.eval()
    device = device or next(module.parameters()).device
    meter = ConfusionMeter(module.config.num_classes)
    loss_sum, pixels = 0.0, 0
    try:
        for start in range(0, len(scenes), batch_size):
            idx = range(start, min(start + batch_size, len(scenes)))
            x, y = make_batch(scenes.rgb, scenes.labels, idx, crop, module.mean, module.std, None)
            logits = module(x.to(device)).float().cpu()
            target = y[:, 0].long()
            counted = int((target != IGNORE_INDEX).sum())
            loss_sum += float(segmentation_loss(logits, target)) * counted
            pixels += counted
            meter.update(logits.argmax(1).numpy(), target.numpy())
    finally:
        module.train(was_training)
    scores = meter.scores()
    scores["loss"] = loss_sum / pixels if pixels else float("nan")
    return scores


def scores_line(scores: dict[str, Any]) -> str:
    """One progress line: ``val ce 0.41 mIoU 0.62 pixel-acc 0.88``."""
    return (f"val ce {scores['loss']:.4f} mIoU {scores['miou']:.4f} "
            f"pixel-acc {scores['pixel_accuracy']:.4f}")

