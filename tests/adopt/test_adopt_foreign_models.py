"""Models this project did not write (made by ``conftest.py``): adopt -> calibrate -> build cpu (fp32, int8) -> infer -> bench.

Each model is made at small size with random weights (``conftest.py``). ``infer`` on the
FP32 engine must reproduce ONNX Runtime on the original file; INT8 must run and stay finite.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.contract import read_contract

CASES = {
    "lraspp": dict(adopt=["--output-kind", "segmentation", "--multiple", "32"],
                   kind="segmentation"),
    "timm_unet": dict(adopt=["--output-kind", "metric-depth", "--scale", "255",
                                                  "--channels", "bgr", "--mean", "0,0,0", "--std", "1,1,1",
                                                  "--max-depth", "20", "--multiple", "32"],
                      kind="metric-depth"),
    "depth_anything": dict(adopt=["--output-kind", "inverse-depth", "--multiple", "14"],
                           kind="inverse-depth"),
}


def _photo():
    from xnet_edge.images import skimage_photo

    return skimage_photo("astronaut")[::4, ::4]  # 128x128: a real photo, small


@pytest.mark.parametrize("name", list(CASES))
def test_adopt_calibrate_build_infer_bench(name, tmp_path, capsys, foreign_model, reference_prediction):
    case = CASES[name]
    original = foreign_model(name)
    adopted = tmp_path / "adopted.onnx"
    assert main(["adopt", str(original), "-o", str(adopted), *case["adopt"]]) == 0
    contract = read_contract(adopted)
    assert contract.output_kind == case["kind"] and contract.input_name == "image"
    # every layer INT8 (--no-speed-check): on these tiny random models INT8 rarely pays, and the
    # measured choice would leave the CPU graph float (tests/calibration checks that choice)
    assert main(["calibrate", str(adopted), "--images", "builtin", "--num-images", "4", "--no-fp16",
                 "--no-progress", "--no-speed-check", "-o", str(tmp_path / "int8")]) == 0
    for precision, model in (("fp32", adopted), ("int8", tmp_path / "int8" / "model.int8.cpu.onnx")):
        assert main(["build", str(model), "--target", "cpu", "-q", "-o", str(tmp_path / f"engine_{precision}")]) == 0
    photo = _photo()
    from xnet_edge.io_utils import write_bytes_atomic
    from xnet_edge.runtime.outputs import encode_png

    write_bytes_atomic(tmp_path / "photo.png", encode_png(photo))
    expected = reference_prediction(original, contract.preprocessing, photo)
    results = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"out_{precision}"
        assert main(["infer", str(tmp_path / f"engine_{precision}"), "--input", str(tmp_path / "photo.png"), "--output", str(out),
                     "--format", "labels-npy" if case["kind"] == "segmentation" else "npy"]) == 0
        (npy,) = out.glob("*.npy")
        results[precision] = np.load(npy)
        assert results[precision].shape == photo.shape[:2] and np.all(np.isfinite(results[precision]))
    if case["kind"] == "segmentation":
        np.testing.assert_array_equal(results["fp32"], expected.argmax(0))
    else:
        np.testing.assert_allclose(results["fp32"], expected[0], rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
    capsys.readouterr()
    report = tmp_path / "bench.json"
    assert main(["bench", str(tmp_path / "engine_fp32"), str(tmp_path / "engine_int8"), "--warmup-ms", "0", "--duration-s", "0",
                 "--iterations", "3", "--rounds", "1", "--quiet", "--json", str(report)]) == 0
    results = json.loads(report.read_text())["results"]
    assert [r["precision"] for r in results] == ["fp32", "int8"]


def _two_inputs(path):
    import onnx
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 32, 32]) for n in ("a", "b")]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g", ins, [out]),
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _tokens(path):
    import onnx
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 16])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    nodes = [helper.make_node("Cast", ["ids"], ["y"], to=TensorProto.FLOAT)]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", ins, [out]), opset_imports=[helper.make_opsetid("", 17)]),
              str(path))
    return path


def _classifier(path):
    import onnx
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("Identity", ["m"], ["y"])]
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", ins, [out]), opset_imports=[helper.make_opsetid("", 17)]),
              str(path))
    return path


def _dynamic_conv(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "h", "w"])
    w = numpy_helper.from_array(np.ones((1, 3, 1, 1), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", ins, [out], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("make, flags, message", [
    (_two_inputs, ["--output-kind", "relative-depth"], "has 2 inputs (a[1, 3, 32, 32], b[1, 3, 32, 32]); adopt takes"),
    (_tokens, ["--output-kind", "relative-depth"], "is not an image"),
    (_classifier, ["--output-kind", "segmentation"], "is not a dense map"),
    (_dynamic_conv, ["--output-kind", "relative-depth", "--input-size", "100x150", "--multiple", "14"],
     "not divisible by the model stride 14"),
    (_dynamic_conv, ["--output-kind", "relative-depth"], "has a dynamic size: give the network size with --input-size"),
    (lambda p: _dynamic_conv(p), ["--output-kind", "segmentation", "--input-size", "32x32"],
     "has one channel but is declared segmentation"),
])
def test_models_adopt_cannot_take_get_one_line_exit_2_and_no_file(make, flags, message, tmp_path, capsys):
    model = make(tmp_path / "model.onnx")
    out = tmp_path / "adopted.onnx"
    assert main(["adopt", str(model), "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_adopted_copy_computes_what_the_original_does(tmp_path):
    import onnxruntime as ort

    original = _dynamic_conv(tmp_path / "m.onnx")
    assert main(["adopt", str(original), "-o", str(tmp_path / "a.onnx"), "--output-kind", "relative-depth",
                 "--input-size", "28x42", "--multiple", "14"]) == 0
    x = np.random.default_rng(0).standard_normal((1, 3, 28, 42)).astype(np.float32)
    want = ort.InferenceSession(str(original)).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(tmp_path / "a.onnx")).run(["depth"], {"image": x})[0]
    np.testing.assert_array_equal(got, want)
    contract = read_contract(tmp_path / "a.onnx")
    assert contract.input_size == (28, 42) and contract.preprocessing.multiple == 14
    assert contract.config["adopted_from"] == "m.onnx"


def test_relative_depth_outputs_and_ground_truth_alignment(tmp_path, capsys):
    """Inverse depth: raw .npy and a colour image; no millimetres or points without a scale; --gt is
    scored after the least-squares scale and shift in inverse-depth space, and says so."""
    from xnet_edge.io_utils import write_bytes_atomic
    from xnet_edge.runtime import Runtime
    from xnet_edge.runtime.outputs import depth_to_png16, encode_png, to_metric

    model = _dynamic_conv(tmp_path / "m.onnx")  # output = R + G + B in 0..3: larger is nearer
    adopted = tmp_path / "inv.onnx"
    assert main(["adopt", str(model), "-o", str(adopted), "--output-kind", "inverse-depth", "--input-size", "28x42",
                 "--mean", "0,0,0", "--std", "1,1,1"]) == 0
    photo = _photo()
    write_bytes_atomic(tmp_path / "photo.png", encode_png(photo))
    with Runtime(adopted) as rt:
        inverse = rt.predict(photo)
    assert rt.output_kind == "inverse-depth" and inverse.max() > 0
    capsys.readouterr()
    assert main(["infer", str(adopted), "--input", str(tmp_path / "photo.png"), "--output", str(tmp_path / "a")]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["photo_color.png", "photo_depth.npy"]
    np.testing.assert_allclose(np.load(tmp_path / "a" / "photo_depth.npy"), inverse, rtol=1e-5)
    assert "inverse-depth model: png16 skipped" in capsys.readouterr().out
    assert main(["infer", str(adopted), "--input", str(tmp_path / "photo.png"), "--output", str(tmp_path / "b"),
                 "--format", "png16,ply", "--intrinsics", "100,100,64,64", "--depth-scale", "2"]) == 0
    import cv2

    png = cv2.imread(str(tmp_path / "b" / "photo_depth16.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, depth_to_png16(to_metric(inverse, "inverse-depth", 2.0)))
    assert (tmp_path / "b" / "photo.ply").is_file()
    np.save(tmp_path / "gt.npy", (0.5 / (inverse + 0.25)).astype(np.float32))  # depth of an affine inverse depth
    capsys.readouterr()
    assert main(["infer", str(adopted), "--input", str(tmp_path / "photo.png"), "--output", str(tmp_path / "c"),
                 "--gt", str(tmp_path / "gt.npy")]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("lstsq-shift-inverse"))
    assert float(row.split()[2]) < 1e-3  # abs_rel after the fit
    assert "\nnone " not in table and "\nmedian " not in table
