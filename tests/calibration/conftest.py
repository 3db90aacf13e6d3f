"""Fixtures for calibration tests: a small hand-built ONNX net and an exported ×Net test model."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

PRE = {"input_size": [16, 24], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
       "resize": "letterbox", "pad": "bottom-right"}


def _conv(name, x, w, b, out, module, group=1):
    k = w.shape[-1]
    node = helper.make_node("Conv", [x, name + ".weight", name + ".bias"], [out], name=f"{module}/Conv",
                            pads=[k // 2] * 4, group=group)
    node.metadata_props.add(key="xnet_edge.module", value=module)
    inits = [numpy_helper.from_array(w.astype(np.float32), name + ".weight"),
             numpy_helper.from_array(b.astype(np.float32), name + ".bias")]
    return node, inits


def tiny_net(seed=0) -> onnx.ModelProto:
    """stem 3x3 → ReLU6 → depthwise 3x3 → ReLU6 → pointwise (+ residual) → pool → 1x1 → Resize(+ 1x1) → head.

    Covers every pattern the planners handle: conv+Clip, depthwise, residual Add,
    AveragePool, Resize, a head with Sigmoid·max_depth.
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def add(node_and_inits):
        nodes.append(node_and_inits[0])
        inits.extend(node_and_inits[1])

    clip_min = numpy_helper.from_array(np.array(0.0, np.float32), "clip_min")
    clip_max = numpy_helper.from_array(np.array(6.0, np.float32), "clip_max")
    inits += [clip_min, clip_max]
    add(_conv("stem", "image", rng.normal(0, 0.4, (8, 3, 3, 3)), rng.normal(0, 0.1, 8), "stem_out", "encoder.stem"))
    nodes.append(helper.make_node("Clip", ["stem_out", "clip_min", "clip_max"], ["stem_act"], name="encoder.stem/Clip"))
    add(_conv("dw", "stem_act", rng.normal(0, 0.5, (8, 1, 3, 3)), rng.normal(0, 0.1, 8), "dw_out", "encoder.dw", 8))
    nodes.append(helper.make_node("Clip", ["dw_out", "clip_min", "clip_max"], ["dw_act"], name="encoder.dw/Clip"))
    add(_conv("pw", "dw_act", rng.normal(0, 0.3, (8, 8, 1, 1)), rng.normal(0, 0.1, 8), "pw_out", "encoder.pw"))
    nodes.append(helper.make_node("Add", ["pw_out", "stem_act"], ["res"], name="encoder/Add"))
    nodes.append(helper.make_node("AveragePool", ["res"], ["pooled"], name="graph/AveragePool",
                                  kernel_shape=[2, 2], strides=[2, 2]))
    add(_conv("low", "pooled", rng.normal(0, 0.3, (4, 8, 1, 1)), rng.normal(0, 0.1, 4), "low_out", "pyramid.low"))
    inits.append(numpy_helper.from_array(np.array([1, 4, 16, 24], np.int64), "up_size"))
    nodes.append(helper.make_node("Resize", ["low_out", "", "", "up_size"], ["low_up"], name="pyramid/Resize",
                                  mode="linear", coordinate_transformation_mode="half_pixel"))
    add(_conv("high", "res", rng.normal(0, 0.3, (4, 8, 1, 1)), rng.normal(0, 0.1, 4), "high_out", "pyramid.high"))
    nodes.append(helper.make_node("Add", ["low_up", "high_out"], ["merged"], name="pyramid/Add"))
    nodes.append(helper.make_node("Clip", ["merged", "clip_min", "clip_max"], ["merged_act"], name="pyramid/Clip"))
    add(_conv("head", "merged_act", rng.normal(0, 0.5, (1, 4, 1, 1)), rng.normal(0, 0.1, 1), "logit", "head.proj"))
    inits.append(numpy_helper.from_array(np.array(10.0, np.float32), "max_depth"))
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["sig"], name="head/Sigmoid"))
    nodes.append(helper.make_node("Mul", ["sig", "max_depth"], ["depth"], name="head/Mul"))
    for node in nodes[-2:]:
        node.metadata_props.add(key="xnet_edge.module", value="head")
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 24])],
                              [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, 16, 24])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    for key, value in (("xnet_edge.preprocessing", PRE),
                       ("xnet_edge.config", {"name": "tiny", "task": "depth", "max_depth": 10.0})):
        model.metadata_props.add(key=key, value=json.dumps(value, sort_keys=True))
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def tiny_model():
    return tiny_net()


@pytest.fixture
def tiny_path(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_net(), str(path))
    return path


@pytest.fixture(scope="session")
def xnet_onnx(tmp_path_factory):
    """test_xnet_effnet exported through the real export path (parity skipped: tests/export covers it)."""
    import torch

    import xnet_edge
    from xnet_edge.export import export_onnx

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("xnet") / "model.onnx"
    export_onnx(xnet_edge.create_model("test_xnet_effnet"), path, parity=False)
    return path
