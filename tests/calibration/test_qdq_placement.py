"""Q/DQ writing and per-engine placement, checked against PyTorch fake quantization and ORT's fused graph."""

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from xnet_edge.calibration.collect import collect_statistics, expose_tensors
from xnet_edge.calibration.graph import GraphIndex, find_layers
from xnet_edge.calibration.observers import compute_amax
from xnet_edge.calibration.placement import plan_onnxruntime, plan_tensorrt
from xnet_edge.calibration.qdq import quantize_weight, symmetric_int8, uint8_params, write_qdq_model


def _inputs(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (1, 3, 16, 24)).astype(np.float32) for _ in range(n)]


def _run(model, x, outputs=None):
    if outputs:
        model = expose_tensors(model, outputs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"image": x})))


def _calibrated(model):
    stats = collect_statistics(model, _inputs())
    return stats, {n: compute_amax(s, "max") for n, s in stats.items()}


def _fake_quant(x, scale, zero_point, qmin, qmax):
    return (torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax) - zero_point) * scale


def test_parameter_helpers_by_hand():
    assert symmetric_int8(12.7) == pytest.approx((0.1, 0))
    assert uint8_params(6.0, nonnegative=True) == (6.0 / 255, 0)
    assert uint8_params(12.7, nonnegative=False) == pytest.approx((0.1, 128))
    w = np.array([[[[1.0, -2.0]]], [[[0.5, 0.25]]], [[[0.0, 0.0]]]], np.float32)  # (3, 1, 1, 2)
    q, scale = quantize_weight(w, axis=0)
    np.testing.assert_allclose(scale, [2.0 / 127, 0.5 / 127, 1.0], rtol=1e-6)
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q[:, 0, 0], [[64, -127], [127, 64], [0, 0]])
    q7, scale7 = quantize_weight(w, axis=0, max_level=63)
    assert np.abs(q7).max() == 63 and scale7[0] == pytest.approx(2.0 / 63)


def test_tensorrt_single_layer_matches_torch_fake_quant(tiny_model):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    pw = next(l for l in find_layers(tiny_model, index) if l.module == "encoder.pw")
    plan = plan_tensorrt(index, [pw], amax)
    qmodel = write_qdq_model(tiny_model, plan.activations, plan.layers)
    x = _inputs(1, seed=7)[0]
    got = _run(qmodel, x, ["pw_out"])["pw_out"]
    act = torch.from_numpy(_run(tiny_model, x, ["dw_act"])["dw_act"])
    inits = {t.name: numpy_helper.to_array(t) for t in tiny_model.graph.initializer}
    w, b = torch.tensor(inits["pw.weight"]), torch.tensor(inits["pw.bias"])
    x_scale = amax["dw_act"] / 127
    w_scale = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
    want = F.conv2d(_fake_quant(act, x_scale, 0, -128, 127), _fake_quant(w, w_scale, 0, -127, 127), b)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5, rtol=1e-5)


def test_tensorrt_plan_follows_nvidia_placement(tiny_model):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    layers = find_layers(tiny_model, index)
    plan = plan_tensorrt(index, layers, amax)
    # inputs of weighted layers, plus the other input of each Add that follows a quantized conv
    assert set(plan.activations) == {"image", "stem_act", "dw_act", "pooled", "res", "merged_act", "low_up"}
    assert "encoder/Add" in plan.activations["stem_act"].consumers
    assert plan.activations["low_up"].consumers == ("pyramid/Add",)
    qmodel = write_qdq_model(tiny_model, plan.activations, plan.layers)
    onnx.checker.check_model(qmodel)
    inits = {t.name: numpy_helper.to_array(t) for t in qmodel.graph.initializer}
    for node in qmodel.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any()  # symmetric INT8, zero point 0
    produced = {o for n in qmodel.graph.node if n.op_type == "Conv" for o in n.output}
    quantized = {n.input[0] for n in qmodel.graph.node if n.op_type == "QuantizeLinear"}
    assert not (produced & quantized)  # never quantize conv outputs
    biases = [n.input[2] for n in qmodel.graph.node if n.op_type == "Conv"]
    assert all(inits[b].dtype == np.float32 for b in biases)  # TensorRT keeps float biases


def _ort_optimized_ops(model, tmp_path):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node)


def test_onnxruntime_plan_runs_every_conv_as_qlinearconv(tiny_model, tmp_path):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    layers = find_layers(tiny_model, index)
    plan = plan_onnxruntime(index, layers, amax, stats, float_input_layers=False)
    qmodel = write_qdq_model(tiny_model, plan.activations, plan.layers, quantize_bias=True)
    assert {q.dtype for q in plan.activations.values()} == {"uint8"}
    assert plan.activations["stem_act"].zero_point == 0  # ReLU6 output: all 256 levels on [0, amax]
    assert "depth" not in plan.activations
    # Add → Clip: the Clip's output is quantized, not the Add's, so no requantize pair sits between them
    assert "merged" not in plan.activations and "merged_act" in plan.activations
    ops = _ort_optimized_ops(qmodel, tmp_path)
    assert ops["QLinearConv"] == len(layers) == 6 and ops["Conv"] == 0
    assert ops["QLinearAdd"] == 2 and ops["Clip"] == 0 and ops["Add"] == 0  # Clip absorbed into the UINT8 range
    x = _inputs(1, seed=3)[0]
    ref, out = _run(tiny_model, x)["depth"], _run(qmodel, x)["depth"]
    assert np.abs(out - ref).mean() / np.abs(ref).mean() < 0.03


def test_onnxruntime_plan_keeps_the_stem_float_by_default(tiny_model, tmp_path):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    layers = find_layers(tiny_model, index)
    plan = plan_onnxruntime(index, layers, amax, stats)
    assert [l.module for l in plan.layers] == [l.module for l in layers[1:]] and layers[0].input == "image"
    assert "image" not in plan.activations
    ops = _ort_optimized_ops(write_qdq_model(tiny_model, plan.activations, plan.layers, quantize_bias=True), tmp_path)
    assert ops["QLinearConv"] == 5 and ops["Conv"] + ops["FusedConv"] == 1  # FusedConv: the stem's Conv + Clip


def _residual_chain() -> onnx.ModelProto:
    """stem → Clip → a → Add1(a, stem) → b → Add2(b, Add1) → head: Add1 is read by conv b *and* by Add2."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0.0), ("hi", 6.0))]
    nodes = []
    for name, cin, x, out in (("stem", 3, "image", "s"), ("a", 8, "s_act", "a"), ("b", 8, "add1", "b"),
                              ("head", 8, "add2", "depth")):
        cout = 1 if name == "head" else 8
        inits += [numpy_helper.from_array(rng.normal(0, 0.3, (cout, cin, 1, 1)).astype(np.float32), name + ".w"),
                  numpy_helper.from_array(rng.normal(0, 0.1, cout).astype(np.float32), name + ".b")]
        nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [out], name=f"{name}/Conv"))
        if name == "stem":
            nodes.append(helper.make_node("Clip", ["s", "lo", "hi"], ["s_act"], name="stem/Clip"))
        if name in ("a", "b"):
            other = "s_act" if name == "a" else "add1"
            nodes.append(helper.make_node("Add", [out, other], ["add1" if name == "a" else "add2"], name=f"{name}/Add"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return onnx.shape_inference.infer_shapes(model)


def test_onnxruntime_plan_keeps_residual_chains_quantized(tmp_path):
    model = _residual_chain()
    stats = collect_statistics(model, [np.random.default_rng(i).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
                                       for i in range(3)])
    amax = {n: compute_amax(s, "max") for n, s in stats.items()}
    index = GraphIndex(model)
    plan = plan_onnxruntime(index, find_layers(model, index), amax, stats)
    assert plan.activations["add1"].consumers is None  # conv b and the next Add both read the quantized sum
    ops = _ort_optimized_ops(write_qdq_model(model, plan.activations, plan.layers, quantize_bias=True), tmp_path)
    assert ops["QLinearAdd"] == 2 and ops["Add"] == 0


def test_int32_bias_uses_input_times_weight_scale(tiny_model):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    stem = find_layers(tiny_model, index)[0]
    plan = plan_onnxruntime(index, [stem], amax, stats, float_input_layers=False)
    qmodel = write_qdq_model(tiny_model, plan.activations, plan.layers, quantize_bias=True)
    inits = {t.name: numpy_helper.to_array(t) for t in qmodel.graph.initializer}
    bias_q = inits[f"{stem.node}_bias_quantized"]
    w = numpy_helper.to_array(index.initializers["stem.weight"])
    b = numpy_helper.to_array(index.initializers["stem.bias"])
    x_scale = plan.activations["image"].scale
    w_scale = np.abs(w).reshape(8, -1).max(axis=1) / 127
    assert bias_q.dtype == np.int32
    np.testing.assert_array_equal(bias_q, np.round(b / (x_scale * w_scale.astype(np.float32))).astype(np.int32))


def test_writer_is_deterministic_and_keeps_the_original(tiny_model):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    before = tiny_model.SerializeToString()
    plan = plan_tensorrt(index, find_layers(tiny_model, index), amax)
    a = write_qdq_model(tiny_model, plan.activations, plan.layers).SerializeToString()
    b = write_qdq_model(tiny_model, plan.activations, plan.layers).SerializeToString()
    assert a == b and tiny_model.SerializeToString() == before


def test_fp16_keeps_layernorm_and_head_in_float32(tiny_model):
    from xnet_edge.calibration.fp16 import convert_fp16

    # put a LayerNorm over channels between the residual Add and the pool
    model = onnx.ModelProto()
    model.CopyFrom(tiny_model)
    graph = model.graph
    scale = numpy_helper.from_array(np.ones(24, np.float32), "ln.weight")
    bias = numpy_helper.from_array(np.zeros(24, np.float32), "ln.bias")
    graph.initializer.extend([scale, bias])
    pool = next(n for n in graph.node if n.op_type == "AveragePool")
    ln = onnx.helper.make_node("LayerNormalization", ["res", "ln.weight", "ln.bias"], ["res_ln"], name="ln/LN", axis=-1)
    pool.input[0] = "res_ln"
    nodes = list(graph.node)
    nodes.insert(nodes.index(pool), ln)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    half = convert_fp16(model)
    onnx.checker.check_model(half, full_check=True)
    types = {vi.name: vi.type.tensor_type.elem_type for vi in (*half.graph.value_info, *half.graph.output)}
    inits = {t.name: t.data_type for t in half.graph.initializer}
    node = {n.name: n for n in half.graph.node}
    assert types["res_ln"] == onnx.TensorProto.FLOAT and types["depth"] == onnx.TensorProto.FLOAT
    assert types["stem_out"] == onnx.TensorProto.FLOAT16
    assert inits[node["head.proj/Conv"].input[1]] == onnx.TensorProto.FLOAT  # exact float32 head weights
    assert inits[node["encoder.stem/Conv"].input[1]] == onnx.TensorProto.FLOAT16
    x = _inputs(1)[0]
    ref, out = _run(model, x)["depth"], _run(half, x)["depth"]
    assert out.dtype == np.float32 and np.abs(out - ref).max() < 0.02


def test_bias_correction_removes_the_mean_shift_of_weight_rounding(tiny_model):
    stats, amax = _calibrated(tiny_model)
    index = GraphIndex(tiny_model)
    pw = next(l for l in find_layers(tiny_model, index) if l.module == "encoder.pw")
    means = {pw.input: stats[pw.input].channel_mean}
    inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in tiny_model.graph.initializer}
    w, b = inits["pw.weight"], inits["pw.bias"]
    wq, ws = quantize_weight(w.astype(np.float32), 0)
    expected = b - ((wq * ws.reshape(-1, 1, 1, 1) - w).sum(axis=(2, 3)) @ means[pw.input])
    # weights only, so the only error is weight rounding; no activation quantization
    plain = write_qdq_model(tiny_model, {}, [pw])
    corrected = write_qdq_model(tiny_model, {}, [pw], input_means=means)
    got = {t.name: numpy_helper.to_array(t) for t in corrected.graph.initializer}[f"{pw.node}_bias_corrected"]
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=1e-6, atol=1e-7)
    shift = {}
    for label, model in (("plain", plain), ("corrected", corrected)):
        diffs = [(_run(model, x, ["pw_out"])["pw_out"] - _run(tiny_model, x, ["pw_out"])["pw_out"]).mean(axis=(0, 2, 3))
                 for x in _inputs()]
        shift[label] = np.abs(np.mean(diffs, axis=0)).mean()
    assert shift["corrected"] < 0.5 * shift["plain"]
