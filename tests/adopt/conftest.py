"""Fixtures: models this project did not write, made at small size with random weights and exported to ONNX
the way their own projects do (``torch.onnx.export``, their own input/output names).

* torchvision LR-ASPP MobileNetV3 segmentation (``weights=None, weights_backbone=None``);
* a U-Net-style depth net on a timm ``features_only`` encoder, input ``rgb`` in 0..255, BGR;
* Hugging Face ``transformers`` ``DepthAnythingForDepthEstimation`` from a small config
  (DINOv2 blocks + DPT head), built in a subprocess run outside the repository: from the
  repository root, ``transformers`` would import its top-level ``kernels/`` folder as
  the unrelated ``kernels`` package it probes for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest


def _export(module, path: Path, size, input_name: str, output_names, dynamic_hw: bool = False) -> Path:
    import torch

    axes = None
    if dynamic_hw:
        axes = {input_name: {2: "height", 3: "width"}, **{n: {2: "height", 3: "width"} for n in output_names}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.zeros(1, 3, *size), str(path), input_names=[input_name],
                          output_names=list(output_names), opset_version=17, dynamic_axes=axes, dynamo=False)
    return path


def lraspp_onnx(path: Path, size=(64, 96), num_classes: int = 5) -> Path:
    """torchvision LR-ASPP MobileNetV3-Large, random weights; output 'out' (N, K, H, W)."""
    import torch
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    torch.manual_seed(0)
    model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes)
    return _export(model, path, size, "input", ["out"])


class TimmUNetDepth:
    """Factory for a small U-Net-style metric-depth net on a timm encoder (0..255 BGR input)."""

    @staticmethod
    def build(max_depth: float = 20.0):
        import timm
        import torch
        from torch import nn

        class UNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = timm.create_model("test_resnet", features_only=True, pretrained=False)
                chans = self.encoder.feature_info.channels()
                self.lateral = nn.ModuleList(nn.Conv2d(c, 16, 1) for c in chans)
                self.fuse = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 1, 1))
                self.register_buffer("mean", torch.tensor([0.406, 0.456, 0.485]).view(1, 3, 1, 1) * 255)
                self.register_buffer("std", torch.tensor([0.225, 0.224, 0.229]).view(1, 3, 1, 1) * 255)

            def forward(self, rgb):  # BGR 0..255, as OpenCV reads it
                feats = self.encoder((rgb - self.mean) / self.std)
                x = self.lateral[-1](feats[-1])
                for lateral, f in zip(reversed(self.lateral[:-1]), reversed(feats[:-1])):
                    x = nn.functional.interpolate(x, size=f.shape[-2:], mode="bilinear") + lateral(f)
                x = nn.functional.interpolate(self.fuse(x), size=rgb.shape[-2:], mode="bilinear")
                return torch.sigmoid(x) * max_depth

        torch.manual_seed(0)
        return UNet()


def timm_unet_onnx(path: Path, size=(64, 96)) -> Path:
    """The timm U-Net, input 'rgb' (0..255 BGR), output 'pred' (N, 1, H, W) metres."""
    return _export(TimmUNetDepth.build(), path, size, "rgb", ["pred"])


_HF_SCRIPT = """
from pathlib import Path
from xnet_edge.hf import export_depth_model, random_depth_anything
export_depth_model(random_depth_anything(hidden={hidden}, layers={layers}), Path({path!r}), ({h}, {w}))
"""


def have_transformers() -> bool:
    import importlib.util

    return importlib.util.find_spec("transformers") is not None


def depth_anything_onnx(path: Path, size=(70, 98), hidden: int = 64, layers: int = 4) -> Path:
    """transformers DepthAnythingForDepthEstimation (small random config); input 'pixel_values',
    output 'predicted_depth' (N, H, W) relative inverse depth. Sizes are multiples of 14."""
    script = textwrap.dedent(_HF_SCRIPT).format(hidden=hidden, layers=layers, h=size[0], w=size[1], path=str(path))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=path.parent, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the Depth Anything model failed: {done.stderr[-2000:]}")
    return path


def run_original(path: Path, pre, image: np.ndarray) -> np.ndarray:
    """The original file on ONNX Runtime, preprocessed and postprocessed the way the runtime does:
    the reference that every adopted artifact must reproduce."""
    import onnxruntime as ort

    from xnet_edge.preprocess import postprocess, resize_bilinear

    x, box = pre.apply(image)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0], np.float32)[0]
    if out.ndim == 2:
        out = out[None]
    if out.shape[-2:] != tuple(box.network):
        out = np.stack([resize_bilinear(c, box.network) for c in out])
    return np.stack([postprocess(c, box) for c in out])


@pytest.fixture
def foreign_model(tmp_path):
    """``foreign_model(name) -> original ONNX path`` for ``lraspp``, ``timm_unet``, ``depth_anything``
    (skipped without transformers)."""
    makers = {"lraspp": lraspp_onnx, "timm_unet": timm_unet_onnx, "depth_anything": depth_anything_onnx}

    def make(name: str) -> Path:
        if name == "depth_anything" and not have_transformers():
            pytest.skip("transformers is not installed (pip install 'xnet-edge[hf]')")
        return makers[name](tmp_path / f"{name}.onnx")

    return make


@pytest.fixture
def reference_prediction():
    """``reference_prediction(original, preprocessing, image)``: see :func:`run_original`."""
    return run_original
