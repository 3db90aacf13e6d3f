"""Fixtures for the ROS 2 tests: the tiny exported ONNX model (as in tests/runtime), camera
frames from the generated scenes, and small bags written with ``rosbags``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from suite_helpers import load_module

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """The tiny ×Net test model exported to ONNX (the runtime tests' exporter)."""
    import torch

    import xnet_edge

    runtime_conftest = load_module("runtime/conftest.py")
    torch.manual_seed(0)
    model = xnet_edge.create_model(runtime_conftest.MODEL).eval()
    return runtime_conftest.export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def scenes():
    """Four generated 96x128 scenes (rgb, K with ROS's integer pixel centres)."""
    from xnet_edge.data.synthetic import render_scene

    out = []
    for i in range(4):
        scene = render_scene(i, (96, 128), seed=3)
        k = scene.intrinsics.copy()
        k[0, 2] -= 0.5  # the generator puts pixel centres at +0.5, ROS at integers
        k[1, 2] -= 0.5
        out.append((scene.rgb, k))
    return out


@pytest.fixture(scope="session")
def bags():
    """tests/ros2/bag_files.py"""
    return load_module(HERE / "bag_files.py")


@pytest.fixture(scope="session")
def tiny_seg_checkpoint(tmp_path_factory) -> Path:
    """The tiny 5-class segmentation test model as a checkpoint (PyTorch backend)."""
    import torch

    import xnet_edge

    torch.manual_seed(0)
    model = xnet_edge.create_model("test_xnet_effnet_seg").eval()
    return xnet_edge.save_checkpoint(model, tmp_path_factory.mktemp("seg") / "seg.safetensors")
