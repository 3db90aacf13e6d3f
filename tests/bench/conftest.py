"""Fixtures for the benchmark tests: a tiny ONNX depth model built by hand (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from suite_helpers import load_module

HERE = Path(__file__).resolve().parent
SIZE = (32, 48)


def make_depth_onnx(path: Path, size=SIZE, max_depth: float = 10.0, seed: int = 0) -> Path:
    """A model that honours the ONNX contract: image (N,3,H,W) -> depth (N,1,H,W) = sigmoid(conv1x1) * max_depth."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.normal(size=(1, 3, 1, 1)).astype(np.float32), "w")
    scale = numpy_helper.from_array(np.array(max_depth, dtype=np.float32), "scale")
    nodes = [helper.make_node("Conv", ["image", "w"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["s"]),
             helper.make_node("Mul", ["s", "scale"], ["depth"])]
    graph = helper.make_graph(
        nodes, "tiny_depth",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, *size])],
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, ["N", 1, *size])],
        initializer=[weight, scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    pre = {"input_size": list(size), "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
           "resize": "letterbox", "pad": "bottom-right"}
    cfg = {"name": "tiny_depth", "task": "depth", "max_depth": max_depth, "input_size": list(size)}
    for key, value in (("xnet_edge.preprocessing", pre), ("xnet_edge.config", cfg)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    return make_depth_onnx(tmp_path_factory.mktemp("bench") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_onnx_pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bench_pair")
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    return (make_depth_onnx(folder / "a" / "model.onnx", seed=1),
            make_depth_onnx(folder / "b" / "model.onnx", seed=2))


@pytest.fixture(scope="session")
def make_onnx():
    """make_depth_onnx(path, size=..., seed=...) for tests that need their own model."""
    return make_depth_onnx


@pytest.fixture(scope="session")
def samples():
    """Captured trtexec output (tests/bench/trtexec_samples.py)."""
    return load_module(HERE / "trtexec_samples.py")


@pytest.fixture(scope="session")
def runtime_fakes():
    """The runtime tests' fake tensorrt / cuda-python modules and engine-folder builder."""
    return load_module("runtime/trt_fakes.py"), load_module("runtime/engine_folders.py")
