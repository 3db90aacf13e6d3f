"""inspect_onnx: I/O, metadata and the model kind (fp32 / fp16 / qdq) that drives the build plan."""

import json

import numpy as np
import pytest

from xnet_edge.engine.onnx_info import inspect_onnx, resolve_preprocessing
from xnet_edge.errors import UsageError


def _graph_model(path, dtype=np.float32, inputs=("image",), props=None, external=False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    weight = numpy_helper.from_array(np.ones((1, 3, 1, 1), dtype), "w")
    nodes = [helper.make_node("Conv", [inputs[0], "w"], ["depth"])]
    ins = [helper.make_tensor_value_info(n, elem, ["N", 3, 8, 8]) for n in inputs]
    graph = helper.make_graph(nodes, "g", ins, [helper.make_tensor_value_info("depth", elem, ["N", 1, 8, 8])],
                              [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if props:
        helper.set_model_props(model, props)
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location="w.bin", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def test_kinds_io_and_metadata(tiny_onnx, tiny_qdq_onnx, tmp_path):
    fp32 = inspect_onnx(tiny_onnx)
    assert fp32.kind == "fp32" and fp32.image_input.name == "image"
    assert fp32.image_input.shape == (-1, 3, 64, 96) and fp32.image_input.dynamic_axes == (0,)
    assert fp32.image_input.dtype == "float32" and fp32.config["name"] == "test_xnet_effnet"
    assert resolve_preprocessing(fp32)["input_size"] == [64, 96]
    qdq = inspect_onnx(tiny_qdq_onnx)
    assert qdq.kind == "qdq" and qdq.preprocessing == fp32.preprocessing
    fp16 = inspect_onnx(_graph_model(tmp_path / "h.onnx", np.float16))
    assert fp16.kind == "fp16" and fp16.image_input.dtype == "float16"
    assert inspect_onnx(_graph_model(tmp_path / "f.onnx")).kind == "fp32"


def test_refusals(tmp_path):
    with pytest.raises(UsageError, match="expected one image input"):
        inspect_onnx(_graph_model(tmp_path / "two.onnx", inputs=("image", "mask")))
    with pytest.raises(UsageError, match="external files"):
        inspect_onnx(_graph_model(tmp_path / "ext.onnx", external=True))
    bad_meta = _graph_model(tmp_path / "m.onnx", props={"xnet_edge.preprocessing": "{nope"})
    with pytest.raises(UsageError, match="not valid JSON"):
        inspect_onnx(bad_meta)
    wrong = _graph_model(tmp_path / "w.onnx", props={"xnet_edge.preprocessing": json.dumps(
        {"input_size": [16, 16], "mean": [0, 0, 0], "std": [1, 1, 1]})})
    with pytest.raises(UsageError, match="does not match the input shape"):
        resolve_preprocessing(inspect_onnx(wrong))
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(UsageError, match="not a valid ONNX model"):
        inspect_onnx(tmp_path / "empty.onnx")
