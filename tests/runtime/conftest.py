"""Fixtures for the runtime tests: a tiny exported ONNX model, its PyTorch reference,
engine folders, and the fake TensorRT/CUDA modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from suite_helpers import load_module

HERE = Path(__file__).resolve().parent
MODEL = "test_xnet_effnet"
SIZE = (64, 96)


def export_onnx(model, path: Path) -> Path:
    """Export ``model`` per the ONNX contract, fast: the TorchScript tracer on the project's
    export-ready copy (``prepare_for_export``), with the project's metadata writer.

    ``xnet_edge.export.export_onnx`` (torch.export) takes tens of seconds even for the tiny
    model, which the test budget cannot afford; the slow-marked test in test_runtime_onnx.py
    runs the Runtime on its output.
    """
    import warnings

    import onnx
    import torch

    from xnet_edge.export import output_name, prepare_for_export, set_contract_metadata

    prepared = prepare_for_export(model)
    example = torch.zeros(1, 3, *model.config.input_size)
    out = output_name(model.config.task)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(prepared, (example,), str(path), input_names=["image"], output_names=[out],
                          dynamic_axes={"image": {0: "batch"}, out: {0: "batch"}}, opset_version=17,
                          dynamo=False)
    proto = onnx.load(str(path))
    set_contract_metadata(proto, model.config, model.config.input_size)
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model():
    import torch

    import xnet_edge

    torch.manual_seed(0)
    return xnet_edge.create_model(MODEL).eval()


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model, tmp_path_factory) -> Path:
    return export_onnx(tiny_model, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_seg_onnx(tmp_path_factory, randomize_norms) -> Path:
    """test_xnet_effnet_seg (5 classes) with moved BatchNorm statistics, exported per the contract.

    The head's biases are centred on a random image's mean logits, so that every class wins
    somewhere (a random head otherwise predicts one class everywhere).
    """
    import torch

    import xnet_edge

    torch.manual_seed(3)
    model = randomize_norms(xnet_edge.create_model("test_xnet_effnet_seg").eval())
    with torch.no_grad():
        model.head.proj.bias -= model(torch.randn(1, 3, *model.config.input_size)).mean(dim=(0, 2, 3))
        model.head.proj.weight *= 10.0
    return export_onnx(model, tmp_path_factory.mktemp("seg") / "seg.onnx")


@pytest.fixture(scope="session")
def tiny_onnx_no_metadata(tiny_onnx, tmp_path_factory) -> Path:
    import onnx

    proto = onnx.load(str(tiny_onnx))
    del proto.metadata_props[:]
    path = tmp_path_factory.mktemp("onnx_plain") / "plain.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_model, tmp_path_factory) -> Path:
    from xnet_edge import save_checkpoint

    return save_checkpoint(tiny_model, tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture
def rgb_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8)


@pytest.fixture
def fakes():
    """tests/runtime/trt_fakes.py"""
    return load_module(HERE / "trt_fakes.py")


@pytest.fixture
def folders():
    """tests/runtime/engine_folders.py"""
    return load_module(HERE / "engine_folders.py")


def _write_video(path, frames: int, size=(48, 64), fps: float = 10.0):
    """An MJPG .avi of moving gradient frames."""
    import cv2

    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    for i in range(frames):
        frame = np.broadcast_to((ramp + 7 * i) % 256, (h, w, 3)).astype(np.uint8)
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return path


@pytest.fixture
def write_video():
    """write_video(path, frames, size=(48, 64)) -> path of an MJPG .avi."""
    return _write_video


@pytest.fixture
def closed_cameras(monkeypatch):
    """``cv2.VideoCapture`` replaced by a camera that never opens (any index)."""
    import cv2

    class ClosedCapture:
        def __init__(self, index):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", ClosedCapture)
    return ClosedCapture
