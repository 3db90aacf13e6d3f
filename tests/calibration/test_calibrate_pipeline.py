"""End-to-end calibration of an exported ×Net: the five outputs, accuracy, determinism, bad input, atomicity."""

import collections
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from xnet_edge.calibration import read_trt_cache
from xnet_edge.calibration.pipeline import FILES, calibrate
from xnet_edge.cli import main
from xnet_edge.errors import UsageError


@pytest.fixture(scope="module")
def calibrated(xnet_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrated")
    result = calibrate(xnet_onnx, "builtin", out, num_images=8, keep_fp=2, sensitivity_images=2, evaluate=True,
                       speed_check=False)  # every layer in both graphs: the placement rules are checked below
    return result, out


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_writes_the_five_outputs_and_a_complete_report(calibrated, xnet_onnx):
    result, out = calibrated
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    report = json.loads((out / "calibration.json").read_text())
    assert report == result.report
    assert report["method"] == "max" and report["data"]["num_images"] == 8
    assert report["method_options"]["bias_correction"] is True
    assert len(report["data"]["fingerprint"]) == 64 and report["data"]["source"] == "builtin"
    assert {"onnx", "onnxruntime", "numpy", "xnet_edge"} <= set(report["versions"])
    assert report["tensors"]["image"]["amax"] > 0
    for name, entry in report["artifacts"].items():
        assert len(entry["sha256"]) == 64 and (out / name).is_file()
    header, scales = read_trt_cache(out / "calibration.cache")
    assert header == "TRT-100300-EntropyCalibration2"
    assert set(scales) == set(report["tensors"])
    for name, scale in scales.items():
        assert scale == np.float32(report["tensors"][name]["amax"] / 127)


def test_keep_fp_leaves_the_most_sensitive_layers_in_float(calibrated):
    result, out = calibrated
    report = result.report
    errors = [r["relative_error"] for r in report["sensitivity"]]
    assert errors == sorted(errors, reverse=True) and [r["rank"] for r in report["sensitivity"]][:2] == [1, 2]
    kept = report["keep_fp"]
    assert kept == [r["node"] for r in report["sensitivity"][:2]]
    for name, engine in (("model.int8.onnx", "tensorrt"), ("model.int8.cpu.onnx", "onnxruntime")):
        model = onnx.load(str(out / name))
        nodes = {n.name: n for n in model.graph.node}
        inits = _inits(model)
        for node in kept:
            assert inits[nodes[node].input[1]].dtype == np.float32  # weight not quantized
        quantized = [n for n in model.graph.node if n.op_type == "Conv" and n.input[1].endswith("_dequantized")]
        assert len(quantized) == sum(l["quantized"][engine] for l in report["layers"])
    stem = report["layers"][0]
    assert stem["input"] == "image" and stem["quantized"] == {"tensorrt": stem["node"] not in kept, "onnxruntime": False}


def test_engine_graphs(calibrated, tmp_path):
    _, out = calibrated
    trt = onnx.load(str(out / "model.int8.onnx"))
    inits = _inits(trt)
    zero_points = [inits[n.input[2]] for n in trt.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(out / "model.int8.cpu.onnx"), options, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node)
    report = json.loads((out / "calibration.json").read_text())
    assert ops["QLinearConv"] == sum(l["quantized"]["onnxruntime"] for l in report["layers"])
    meta = {p.key: p.value for p in trt.metadata_props}
    assert json.loads(meta["xnet_edge.quantization"])["engine"] == "tensorrt"
    assert "xnet_edge.preprocessing" in meta


def test_int8_and_fp16_stay_close_to_fp32(calibrated):
    result, out = calibrated
    ev = result.report["eval"]
    errors = ev["heldout"]["errors"]
    assert errors["int8_tensorrt"]["relative_error"] < 0.05
    assert errors["int8_cpu"]["relative_error"] < 0.05
    assert errors["fp16"]["relative_error"] < 0.01
    metrics = ev["motorcycle"]["metrics"]
    assert set(metrics) == {"fp32", "int8_tensorrt", "int8_cpu", "fp16"}
    for label in ("int8_tensorrt", "int8_cpu"):
        assert abs(metrics[label]["abs_rel"] - metrics["fp32"]["abs_rel"]) < 0.05
    fp16 = onnx.load(str(out / "model.fp16.onnx"))
    dtypes = {t.data_type for t in fp16.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in dtypes
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    inits = {t.name: t for t in fp16.graph.initializer}
    head_convs = [n for n in fp16.graph.node if n.op_type == "Conv" and n.name.startswith("head")]
    assert head_convs and all(inits[n.input[1]].data_type == onnx.TensorProto.FLOAT for n in head_convs)


def test_same_inputs_give_byte_identical_outputs(xnet_onnx, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        calibrate(xnet_onnx, "builtin", folder, num_images=8, method="percentile", speed_check=False)
    for name in FILES.values():
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_every_method_on_a_small_net(tiny_path, tmp_path, method):
    result = calibrate(tiny_path, "builtin", tmp_path / method, num_images=4, method=method, fp16=False)
    amax = [t["amax"] for t in result.report["tensors"].values()]
    assert all(np.isfinite(amax)) and min(amax) > 0
    assert "fp16" not in result.files and not (tmp_path / method / "model.fp16.onnx").exists()


def test_interrupted_run_leaves_no_partial_output(tiny_path, tmp_path, monkeypatch):
    import xnet_edge.calibration.pipeline as pipeline

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "format_trt_cache", boom)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        calibrate(tiny_path, "builtin", out, num_images=4)
    assert not out.exists()  # created only when the work succeeds
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left beside it


def test_cli_bad_input_is_one_line_and_exit_2(tiny_path, tmp_path, capsys):
    out = str(tmp_path / "out")
    (tmp_path / "empty").mkdir()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not onnx")
    bare = onnx.load(str(tiny_path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    cases = [
        ([str(tiny_path), "--images", str(tmp_path / "empty")], "no images"),
        ([str(junk), "--images", "builtin"], "not a valid ONNX model"),
        ([str(tmp_path / "bare.onnx"), "--images", "builtin"], "xnet-edge adopt"),
        ([str(tmp_path / "missing.onnx"), "--images", "builtin"], "not found"),
        ([str(tiny_path), "--images", "builtin", "--num-images", "2", "--min-images", "3"], "at least 3"),
        ([str(tiny_path), "--images", "builtin", "--trt-version", "x"], "bad TensorRT version"),
    ]
    for args, message in cases:
        assert main(["calibrate", *args, "--no-progress", "-o", out]) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_quantized_model_is_rejected(calibrated, tmp_path):
    _, out = calibrated
    with pytest.raises(UsageError, match="already quantized"):
        calibrate(out / "model.int8.onnx", "builtin", tmp_path / "again", num_images=4)


def test_cli_happy_path_prints_tables(tiny_path, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["calibrate", str(tiny_path), "--images", "builtin", "--num-images", "4", "--sensitivity",
                 "--eval", "--method", "percentile", "--trt-version", "8.5.2", "--no-progress", "--no-speed-check",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "most sensitive layers" in text and "Middlebury Motorcycle" in text and "held-out" in text
    assert "model.int8.onnx  (6/6 layers INT8)" in text
    assert "model.int8.cpu.onnx  (5/6 layers INT8; float: encoder.stem)" in text
    header, scales = read_trt_cache(out / "calibration.cache")
    assert header == "TRT-8502-EntropyCalibration2" and "image" in scales


def _fake_latency(times: dict):
    """measure_latency stand-in: CPU ms by the number of quantized layers in each graph (0 = FP32)."""
    def measure(paths, x, **kwargs):
        out = {}
        for path in paths:
            model = onnx.load(path)
            weights = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8}
            quantized = sum(n.op_type == "DequantizeLinear" and n.input[0] in weights for n in model.graph.node)
            out[path] = {"cpu_median_ms": times.get(quantized, times["other"])}
        return out
    return measure


def test_cpu_graph_keeps_in_float_the_layer_kinds_that_do_not_pay(tiny_path, tmp_path, monkeypatch):
    """The choice follows measured speed: all INT8 when fastest, one kind float when that is faster,
    everything float when no INT8 graph beats FP32 (and the report says which)."""
    import xnet_edge.calibration.speed as speed

    from xnet_edge.calibration.graph import find_layers

    layers = [l for l in find_layers(onnx.load(str(tiny_path))) if l.input != "image"]  # the stem stays float
    kinds = {l.kind for l in layers}
    assert len(kinds) > 1
    counted = {name: len(subset) for name, subset in speed.candidate_sets(layers).items()}
    assert len(set(counted.values())) == len(counted)  # the fake tells the graphs apart by their layer count

    def run(times, folder):
        monkeypatch.setattr(speed, "measure_latency", _fake_latency(times))
        return calibrate(tiny_path, "builtin", tmp_path / folder, num_images=4, fp16=False).report["cpu_speed"]

    fast_all = run({0: 10.0, counted["all"]: 5.0, "other": 8.0}, "fast")
    assert fast_all["chosen"] == "all" and fast_all["kept_float_kinds"] == []
    kind = sorted(kinds)[0]
    without = f"without {kind}"
    one_float = run({0: 10.0, counted["all"]: 9.0, counted[without]: 6.0, "other": 9.5}, "one")
    assert one_float["chosen"] == without and one_float["kept_float_kinds"] == [kind]
    assert one_float["candidates"][without]["speedup"] == pytest.approx(10.0 / 6.0)
    slower = run({0: 5.0, "other": 9.0}, "slower")
    assert slower["chosen"] == "float" and "did not pay" in slower["notes"][0]
    cpu_graph = onnx.load(str(tmp_path / "slower" / "model.int8.cpu.onnx"))
    assert not any(n.op_type == "QuantizeLinear" for n in cpu_graph.graph.node)
