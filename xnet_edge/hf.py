"""Hugging Face ``transformers`` depth models (extra ``[hf]``): build, load and export to ONNX.

``transformers`` is imported by these functions only. Run them from outside this repository's
root: ``transformers`` probes for an unrelated package named ``kernels`` and would import the
repository's top-level ``kernels/`` folder when it is on ``sys.path``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

from ._deps import require

#: Depth Anything V2 Small's backbone: ViT-S/14 (DINOv2), 384 wide, 12 blocks, 6 heads.
DEPTH_ANYTHING_SMALL = {"hidden": 384, "layers": 12, "heads": 6}


def random_depth_anything(hidden: int = 64, layers: int = 4, heads: int | None = None, seed: int = 0):
    """A ``DepthAnythingForDepthEstimation`` with random weights: DINOv2 blocks + DPT head.

    Args:
        hidden: ViT width (384 for Depth Anything Small).
        layers: ViT blocks (12 for Small); the DPT head reads four of them.
        heads: attention heads (default ``hidden // 64``, at least 1).
        seed: torch seed.

    Returns:
        The model in eval mode; its output ``predicted_depth`` (N, H, W) is relative inverse depth.
    """
    torch = require("torch")
    tf = require("transformers")
    torch.manual_seed(seed)
    stages = [f"stage{max(1, round(layers * i / 4))}" for i in range(1, 5)]
    backbone = tf.Dinov2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads or max(1, hidden // 64),
                               intermediate_size=hidden * 4, patch_size=14, image_size=518, out_features=stages,
                               reshape_hidden_states=False)
    config = tf.DepthAnythingConfig(backbone_config=backbone, fusion_hidden_size=max(16, hidden // 6),
                                    neck_hidden_sizes=[hidden // 8, hidden // 4, hidden // 2, hidden],
                                    reassemble_hidden_size=hidden, head_hidden_size=max(8, hidden // 12),
                                    depth_estimation_type="relative")
    return tf.DepthAnythingForDepthEstimation(config).eval()


def load_depth_model(folder: str | os.PathLike):
    """A ``save_pretrained`` depth model folder (DPT, Depth Anything, GLPN), offline."""
    tf = require("transformers")
    return tf.AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True).eval()


def export_depth_model(model, path: str | os.PathLike, input_size: Sequence[int], opset: int = 17) -> Path:
    """Export a ``transformers`` depth model to ONNX as its own project would: input
    ``pixel_values`` (1, 3, H, W), output ``predicted_depth``. ``xnet-edge adopt`` takes it from there.

    Args:
        model: a ``*ForDepthEstimation`` model.
        path: the ``.onnx`` to write.
        input_size: (H, W), multiples of the patch size (14) for ViT models.
        opset: ONNX opset.
    """
    torch = require("torch")

    class _Depth(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).predicted_depth

    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(_Depth(model.eval()), torch.zeros(1, 3, *input_size), str(path),
                          input_names=["pixel_values"], output_names=["predicted_depth"], opset_version=opset,
                          dynamo=False)
    return path
