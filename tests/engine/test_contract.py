"""The ONNX contract: I/O, metadata blocks, output semantics, model kind and refusals, read in one place."""

import json

import numpy as np
import pytest

from xnet_edge.contract import (OUTPUT_KEY, PREPROCESSING_KEY, QUANT_KEY, OutputSemantics, Preprocessing,
                                TensorSpec, check_qdq_target, contract_from_parts, read_contract)
from xnet_edge.errors import ContractError, UsageError

PRE = {"input_size": [8, 8], "mean": [0, 0, 0], "std": [1, 1, 1]}


def _graph_model(path, dtype=np.float32, inputs=("image",), props=None, external=False, out_channels=1,
                 out_name="depth", out_shape=None):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    weight = numpy_helper.from_array(np.ones((out_channels, 3, 1, 1), dtype), "w")
    nodes = [helper.make_node("Conv", [inputs[0], "w"], ["y"])]
    if out_shape is not None:
        nodes.append(helper.make_node("Flatten", ["y"], [out_name]))
    else:
        nodes.append(helper.make_node("Identity", ["y"], [out_name]))
    ins = [helper.make_tensor_value_info(n, elem, ["N", 3, 8, 8]) for n in inputs]
    out = helper.make_tensor_value_info(out_name, elem, out_shape or ["N", out_channels, 8, 8])
    graph = helper.make_graph(nodes, "g", ins, [out], [weight])
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
    fp32 = read_contract(tiny_onnx)
    assert fp32.kind == "fp32" and fp32.image_input.name == "image" and fp32.input_name == "image"
    assert fp32.image_input.shape == (-1, 3, 64, 96) and fp32.image_input.dynamic_axes == (0,)
    assert fp32.image_input.dtype == np.float32 and fp32.config["name"] == "test_xnet_effnet"
    assert fp32.input_size == (64, 96) and fp32.preprocessing.multiple is None  # written before "multiple"
    assert (fp32.output_kind, fp32.output_name, fp32.task) == ("metric-depth", "depth", "depth")
    assert fp32.max_depth == fp32.config["max_depth"] and fp32.num_classes is None
    qdq = read_contract(tiny_qdq_onnx)
    assert qdq.kind == "qdq" and qdq.preprocessing == fp32.preprocessing and qdq.qdq_engine is None
    fp16 = read_contract(_graph_model(tmp_path / "h.onnx", np.float16))
    assert fp16.kind == "fp16" and fp16.image_input.dtype == np.float16 and fp16.preprocessing is None
    assert read_contract(_graph_model(tmp_path / "f.onnx")).kind == "fp32"


def test_files_without_output_block_read_from_their_config(tmp_path):
    """Files exported before the output block: metric depth with the config's range, or segmentation."""
    old_depth = _graph_model(tmp_path / "d.onnx", props={
        PREPROCESSING_KEY: json.dumps(PRE), "xnet_edge.config": json.dumps({"task": "depth", "max_depth": 10.0})})
    c = read_contract(old_depth)
    assert (c.output_kind, c.max_depth) == ("metric-depth", 10.0)
    old_seg = _graph_model(tmp_path / "s.onnx", out_channels=5, out_name="logits", props={
        PREPROCESSING_KEY: json.dumps(PRE), "xnet_edge.config": json.dumps({"task": "segmentation",
                                                                             "num_classes": 5})})
    c = read_contract(old_seg)
    assert (c.output_kind, c.num_classes, c.task) == ("segmentation", 5, "segmentation")


def test_output_block_and_preprocessing_fields(tmp_path):
    path = _graph_model(tmp_path / "r.onnx", props={
        PREPROCESSING_KEY: json.dumps({**PRE, "scale": 255, "channels": "bgr", "multiple": 4}),
        OUTPUT_KEY: json.dumps({"kind": "inverse-depth"})})
    c = read_contract(path)
    assert c.output_kind == "inverse-depth" and c.max_depth is None
    assert (c.preprocessing.scale, c.preprocessing.channels, c.preprocessing.multiple) == (255.0, "bgr", 4)
    assert json.loads(c.metadata()[OUTPUT_KEY]) == {"kind": "inverse-depth"}


def test_preprocessing_apply_scale_and_channel_order():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 128, 0
    base = Preprocessing((4, 4), (0.5, 0.5, 0.5), (0.5, 0.25, 1.0))
    x, _ = base.apply(rgb)
    np.testing.assert_allclose(x[0, :, 0, 0], [1.0, (128 / 255 - 0.5) / 0.25, -0.5], atol=1e-6)
    y, _ = Preprocessing((4, 4), base.mean, base.std, scale=255.0, channels="bgr").apply(rgb)
    np.testing.assert_allclose(y[0, :, 0, 0], x[0, ::-1, 0, 0] * 255, atol=1e-4)
    with pytest.raises(UsageError, match="not divisible by the model stride 14"):
        Preprocessing((14, 14), base.mean, base.std, multiple=14).with_input_size((20, 28))


@pytest.mark.parametrize("spec, match", [
    (dict(out_channels=3), "has 3 channels but is declared metric-depth"),
    (dict(out_shape=["N", 192]), "is not a dense map"),
])
def test_output_shape_must_fit_its_kind(tmp_path, spec, match):
    path = _graph_model(tmp_path / "o.onnx", props={PREPROCESSING_KEY: json.dumps(PRE)}, **spec)
    with pytest.raises(ContractError, match=match):
        read_contract(path)


def test_segmentation_needs_class_channels():
    outputs = [TensorSpec("logits", (1, 1, 8, 8), np.float32, False)]
    with pytest.raises(ContractError, match="needs one logit channel per class"):
        contract_from_parts("m", [TensorSpec("image", (1, 3, 8, 8))], outputs, preprocessing=PRE,
                            output={"kind": "segmentation"})
    with pytest.raises(ContractError, match="not one of"):
        OutputSemantics.from_dict({"kind": "depth-ish"})


def test_qdq_graph_is_built_only_for_its_engine(tiny_qdq_onnx, tmp_path):
    import onnx

    from xnet_edge.contract import write_metadata

    model = onnx.load(str(tiny_qdq_onnx))
    write_metadata(model, {QUANT_KEY: json.dumps({"engine": "tensorrt"})})
    onnx.save(model, str(tmp_path / "model.int8.onnx"))
    trt_graph = read_contract(tmp_path / "model.int8.onnx")
    check_qdq_target(trt_graph, True, "jetson-orin-nx")
    with pytest.raises(ContractError, match="TensorRT Q/DQ graph; for --target cpu build model.int8.cpu.onnx"):
        check_qdq_target(trt_graph, False, "cpu")
    write_metadata(model, {QUANT_KEY: json.dumps({"engine": "onnxruntime"})})
    onnx.save(model, str(tmp_path / "model.int8.cpu.onnx"))
    with pytest.raises(ContractError, match="ONNX Runtime CPU Q/DQ graph; .* build model.int8.onnx"):
        check_qdq_target(read_contract(tmp_path / "model.int8.cpu.onnx"), True, "jetson-orin-nx")


def test_refusals(tmp_path):
    with pytest.raises(UsageError, match="expected one image input"):
        read_contract(_graph_model(tmp_path / "two.onnx", inputs=("image", "mask")))
    with pytest.raises(UsageError, match="external files"):
        read_contract(_graph_model(tmp_path / "ext.onnx", external=True))
    bad_meta = _graph_model(tmp_path / "m.onnx", props={PREPROCESSING_KEY: "{nope"})
    with pytest.raises(UsageError, match="not valid JSON"):
        read_contract(bad_meta)
    wrong = _graph_model(tmp_path / "w.onnx", props={PREPROCESSING_KEY: json.dumps(
        {"input_size": [16, 16], "mean": [0, 0, 0], "std": [1, 1, 1]})})
    with pytest.raises(UsageError, match="does not match the input shape"):
        read_contract(wrong)
    with pytest.raises(UsageError, match="xnet-edge adopt"):
        read_contract(_graph_model(tmp_path / "bare.onnx")).require_preprocessing()
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(UsageError, match="not a valid ONNX model"):
        read_contract(tmp_path / "empty.onnx")
    with pytest.raises(UsageError, match="not found"):
        read_contract(tmp_path / "missing.onnx")
