"""Held-out evaluation of a trained depth model: generated scenes and the real Motorcycle scene."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from .scene_set import build_scene_set
from .trainer import predict_scenes, scene_metrics

#: alignments reported for every evaluation set
ALIGNMENTS = (None, "median")


def heldout_scene_metrics(model: torch.nn.Module, count: int = 64, seed: int = 20_000,
                          size: Optional[Sequence[int]] = None, *, min_depth: float = 1e-3,
                          aligns: Sequence[Optional[str]] = ALIGNMENTS) -> dict[str, dict[str, float]]:
    """Metrics on ``count`` generated scenes drawn with ``seed`` (keep it apart from training seeds).

    Args:
        model: a depth XNet.
        count, seed: the held-out scenes.
        size: scene (= network input) size; default the model's ``input_size``.
        min_depth: smallest evaluated depth; the largest is the model's ``max_depth``.
        aligns: alignments to report ("none" is the key for None).

    Returns:
        ``{align_name: metrics}``.
    """
    size = tuple(size or model.config.input_size)
    scenes = build_scene_set(f"synthetic:{count}", size, seed, progress=False)
    pred, gt = predict_scenes(model, scenes)
    return {str(a or "none"): scene_metrics(pred, gt, min_depth=min_depth, max_depth=model.config.max_depth,
                                            align=a)
            for a in aligns}


def motorcycle_metrics(model, *, min_depth: float = 1e-3, input_size: Optional[Sequence[int]] = None,
                       aligns: Sequence[Optional[str]] = ALIGNMENTS) -> dict[str, dict[str, float]]:
    """Metrics on the real Middlebury 2014 Motorcycle scene (ships with scikit-image).

    The image goes through ``model.predict`` (letterbox to the network size and back), so
    this is what a user of the model gets.

    Returns:
        ``{align_name: metrics}`` (max depth: the model's ``max_depth``).
    """
    from ..data import open_dataset
    from ..eval import score_sample

    size = tuple(input_size) if input_size else None
    _, scores = score_sample(lambda rgb: model.predict(rgb, input_size=size), open_dataset("motorcycle"),
                             aligns=aligns, min_depth=min_depth, max_depth=model.config.max_depth)
    return {name: {k: float(v) for k, v in metrics.items()} for name, metrics in scores.items()}
