"""The cpu target end to end (FP32 and INT8), `xnet-edge build/inspect`, usage errors and interrupted builds."""

import json
from collections import Counter

import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.engine import manifest as mf
from xnet_edge.engine.build import build_engine
from xnet_edge.errors import MissingDependencyError, UsageError

H, W = 64, 96


def _run(path, x, level="ORT_DISABLE_ALL"):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]


def _ops(path):
    import onnx

    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def test_cpu_fp32_engine_matches_pytorch_and_manifest_verifies(tiny_model, tiny_onnx, tmp_path):
    import torch

    out = tmp_path / "engine"
    result = build_engine(tiny_onnx, "cpu", out, threads=2)
    m = mf.read_manifest(out)
    assert m == result.manifest
    assert m["artifact"]["kind"] == "onnx" and m["artifact"]["file"] == "model.opt.onnx"
    assert m["precision"] == "fp32" and m["target"]["name"] == "cpu"
    assert m["inputs"] == [{"name": "image", "shape": [-1, 3, H, W], "dtype": "float32"}]
    assert m["outputs"] == [{"name": "depth", "shape": [-1, 1, H, W], "dtype": "float32"}]
    assert m["preprocessing"]["input_size"] == [H, W] and m["model"]["name"] == "test_xnet_effnet"
    assert m["runtime"] == {"onnxruntime": {"intra_op_num_threads": 2, "graph_optimization_level": "ORT_ENABLE_ALL",
                                            "offline_optimization_level": "ORT_ENABLE_EXTENDED",
                                            "providers": ["CPUExecutionProvider"]}}
    assert m["sources"]["calibration_cache"] is None and m["build_machine"]["onnxruntime"]
    assert [c.status for c in mf.verify_hashes(out)] == ["ok", "ok"]
    assert (out / "model.onnx").read_bytes() == tiny_onnx.read_bytes()
    assert sum(_ops(out / "model.opt.onnx").values()) < sum(_ops(tiny_onnx).values())  # graph was optimized
    x = np.random.default_rng(1).standard_normal((2, 3, H, W), dtype=np.float32)
    with torch.no_grad():
        reference = tiny_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_run(out / "model.opt.onnx", x), reference, atol=1e-4, rtol=1e-4)


def test_cpu_int8_engine_from_qdq_model(tiny_model, tiny_onnx, tiny_qdq_onnx, tmp_path):
    out = tmp_path / "engine8"
    m = build_engine(tiny_qdq_onnx, "cpu", out).manifest
    assert m["precision"] == "int8" and [c.status for c in mf.verify_hashes(out)] == ["ok", "ok"]
    ops = _ops(out / "model.opt.onnx")
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0  # still runs INT8 arithmetic
    x = np.random.default_rng(2).standard_normal((1, 3, H, W), dtype=np.float32)
    fp32 = _run(tiny_onnx, x)
    qdq_reference = _run(tiny_qdq_onnx, x)
    engine = _run(out / "model.opt.onnx", x, level="ORT_ENABLE_ALL")
    max_depth = m["model"]["max_depth"]
    # fusions change where rounding happens; stay within 1% of the depth range of the Q/DQ graph
    assert np.abs(engine - qdq_reference).max() < 0.01 * max_depth
    assert np.abs(engine - fp32).mean() < 0.01 * max_depth
    assert not np.array_equal(engine, fp32)  # it is not silently the FP32 model


def test_build_and_inspect_commands(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "cli-engine"
    assert main(["build", str(tiny_onnx), "--target", "cpu", "-o", str(out), "--opt-level", "1", "-q"]) == 0
    assert "precision fp32" in capsys.readouterr().out
    assert mf.read_manifest(out)["runtime"]["onnxruntime"]["graph_optimization_level"] == "ORT_ENABLE_BASIC"
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "model.opt.onnx" in text and "ok" in text and "this machine: can run it" in text
    assert main(["inspect", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "xnet-edge-engine"
    engine = out / "model.opt.onnx"
    engine.write_bytes(engine.read_bytes()[:-1] + b"\x00")
    assert main(["inspect", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "model.opt.onnx (artifact) sha256" in err[0]
    # a tampered engine is never reported as runnable
    assert "can run it" not in captured.out.replace("cannot run it", "")
    assert "this machine: cannot run it: model.opt.onnx does not match its sha256" in captured.out
    assert main(["inspect", str(tmp_path / "missing")]) == 2


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


@pytest.mark.parametrize("case, argv_extra, message", [
    ("missing", [], "ONNX model not found"),
    ("corrupt", [], "is not a valid ONNX model"),
    ("no-metadata", [], "no 'xnet_edge.preprocessing' metadata"),
    ("trt-qdq", [], "is the TensorRT Q/DQ graph; for --target cpu build model.int8.cpu.onnx"),
    ("cpu-qdq", ["--target", "jetson-orin-nano"], "ONNX Runtime CPU Q/DQ graph; for --target jetson-orin-nano "
                                                  "build model.int8.onnx"),
    ("three-channel-depth", [], "has 3 channels but is declared metric-depth"),
    ("ok", ["--target", "jetson-nano"], "unknown target 'jetson-nano'"),
    ("ok", ["--precision", "int8"], "cpu INT8 needs a Q/DQ model"),
    ("ok", ["--target", "jetson-orin-nano", "--dla", "0"], "has no DLA cores"),
])
def test_usage_errors_exit_2_with_one_line_and_no_output(case, argv_extra, message, tiny_onnx, tiny_qdq_onnx,
                                                         tmp_path, capsys):
    import onnx

    from xnet_edge.contract import QUANT_KEY, write_metadata

    model = {"missing": tmp_path / "absent.onnx", "ok": tiny_onnx}.get(case)
    if case.endswith("-qdq"):  # what calibrate records in each engine's Q/DQ graph
        proto = onnx.load(str(tiny_qdq_onnx))
        write_metadata(proto, {QUANT_KEY: json.dumps({"engine": "tensorrt" if case == "trt-qdq" else "onnxruntime"})})
        model = tmp_path / "graph.onnx"
        onnx.save(proto, str(model))
    if case == "three-channel-depth":  # a colour output declared as depth
        proto = onnx.load(str(tiny_onnx))
        out = proto.graph.output[0]
        proto.graph.node.append(onnx.helper.make_node("Concat", [out.name] * 3, ["rgb"], axis=1))
        proto.graph.output.append(onnx.helper.make_tensor_value_info("rgb", onnx.TensorProto.FLOAT, ["N", 3, 64, 96]))
        proto.graph.output.remove(out)
        model = tmp_path / "colour.onnx"
        onnx.save(proto, str(model))
    if case == "corrupt":
        model = tmp_path / "corrupt.onnx"
        model.write_bytes(tiny_onnx.read_bytes()[:5000])
    if case == "no-metadata":
        proto = onnx.load(str(tiny_onnx))
        del proto.metadata_props[:]
        model = tmp_path / "plain.onnx"
        onnx.save(proto, str(model))
    out = tmp_path / "never"
    argv = ["build", str(model), "-o", str(out), "-q"] + argv_extra
    if "--target" not in argv_extra:
        argv += ["--target", "cpu"]
    assert main(argv) == 2
    line = _one_line_error(capsys)
    assert line.startswith("xnet-edge: error: ") and message in line
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_gpu_target_without_tensorrt_names_the_install_and_leaves_nothing(tiny_onnx, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails as if not installed
    out = tmp_path / "gpu"
    with pytest.raises(MissingDependencyError, match=r"xnet-edge\[trt\].*JetPack"):
        build_engine(tiny_onnx, "jetson-orin-nano", out)
    assert main(["build", str(tiny_onnx), "--target", "gpu-sm86", "-o", str(out), "-q"]) == 1
    assert "tensorrt" in _one_line_error(capsys) and not out.exists()


def test_interrupted_build_leaves_no_partial_engine(tiny_onnx, tmp_path, monkeypatch):
    from xnet_edge.engine import cpu_builder

    def interrupted(onnx_path, out_path, plan):
        out_path.write_bytes(b"half an engine")
        raise KeyboardInterrupt

    out = tmp_path / "engine"
    build_engine(tiny_onnx, "cpu", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(cpu_builder, "optimize_for_cpu", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_engine(tiny_onnx, "cpu", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous engine is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine"]  # no temporary folder left
    with pytest.raises(KeyboardInterrupt):
        build_engine(tiny_onnx, "cpu", tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_refuses_to_replace_a_folder_that_is_not_an_engine(tiny_onnx, tmp_path):
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not an engine folder"):
        build_engine(tiny_onnx, "cpu", precious)
    assert (precious / "notes.txt").read_text() == "keep me"
