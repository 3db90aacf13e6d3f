"""The demo pipeline, run on a tiny model: every step's files exist and the numbers are consistent.

The full pipeline takes about a minute here (the ONNX export alone ~30 s), so it is marked slow;
the figure and summary helpers are checked quickly on hand-made inputs.
"""

import json
from pathlib import Path

import numpy as np
import pytest


def fake_report(medians):
    results = []
    for label, median in zip(("ORT FP32", "ORT INT8"), medians):
        results.append({"label": label, "latency_ms": {"median": median, "p90": median * 1.1},
                        "speedup_vs_first": {"median": medians[0] / median}})
    return {"results": results, "environment": {"cpu": {"model": "Test CPU", "usable_cores": 2}},
            "settings": {"mode": "model-only"}}


def test_figure_and_summary_rows(tmp_path):
    from xnet_edge.demo import draw_figure, summary_rows
    from xnet_edge.eval.metrics import depth_metrics

    rng = np.random.default_rng(0)
    gt = rng.uniform(1.0, 5.0, (40, 60)).astype(np.float32)
    gt[:5] = 0.0  # unknown
    depth = {"fp32": gt * 1.1, "int8": gt * 0.8}
    metrics = {p: {"metric": depth_metrics(d, gt), "median_aligned": depth_metrics(d, gt, align="median")}
               for p, d in depth.items()}
    scene = {"rgb": rng.integers(0, 255, (40, 60, 3), dtype=np.uint8), "gt": gt, "depth": depth,
             "fp32_median_aligned": gt, "metrics": metrics}
    report = fake_report([20.0, 8.0])
    path = draw_figure(scene, report, tmp_path / "f.png", "test weights", "tiny 40x60")
    assert path.read_bytes()[:4] == b"\x89PNG"
    rows = summary_rows(scene, report)
    assert [r["engine"] for r in rows] == ["ORT FP32", "ORT INT8"]
    assert rows[0]["abs_rel"] == f"{0.1:.3f}"            # 10 % too far everywhere
    assert rows[1]["abs_rel"] == f"{0.2:.3f}"            # 20 % too near
    assert rows[1]["abs_rel (median-aligned)"] == "0.000"  # a pure scale error vanishes after alignment
    assert rows[1]["speedup"] == "2.50x"


@pytest.mark.parametrize("first_choice", ["float", "without pointwise"])
def test_calibrate_step_reports_the_speed_check_and_overrides_float(tmp_path, monkeypatch, first_choice):
    """calibrate_step on calibrate's recorded decisions (calibrate itself is replaced here; the slow
    demo run exercises it): a partial pick is kept and described; an all-float pick is recalibrated
    with every layer in INT8, because the demo compares FP32 with INT8, and the log says so."""
    from xnet_edge import demo

    files = demo.DemoFiles(tmp_path)
    calls = []

    def fake_calibrate(onnx_path, out_dir, num_images=None, speed_check=True):
        calls.append(speed_check)
        cpu_speed = None if not speed_check else {
            "chosen": first_choice, "fp32_ms": 30.0, "kept_float_kinds": ["pointwise"] if first_choice != "float"
            else ["conv", "pointwise"], "notes": [f"decision {first_choice}"],
            "candidates": {"all": {"speedup": 0.8}, "without pointwise": {"speedup": 1.25}}}
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "calibration.json").write_text(json.dumps({"method": "entropy", "cpu_speed": cpu_speed}))
        return files.int8_onnx

    monkeypatch.setattr(demo, "calibrate_int8", fake_calibrate)
    lines = []
    result = demo.calibrate_step(files, 8, lines.append)
    speed = result["speed_check"]
    assert f"      speed check: decision {first_choice}" in lines
    if first_choice == "float":
        assert calls == [True, False] and "speed check overridden" in speed["demo_int8"]
        assert any("calibrates again with every layer in INT8" in line for line in lines)
        assert demo.describe_speed_check(speed) == speed["demo_int8"]
    else:
        assert calls == [True] and "demo_int8" not in speed and speed["x_fp32"] == 1.25
        assert demo.describe_speed_check(speed) == ("all but pointwise (kept float), measured x1.25 of FP32 speed "
                                                    "in calibrate's check")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    import torch

    import xnet_edge
    from xnet_edge.demo import run_demo

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("demo") / "out"
    lines = []
    model = xnet_edge.create_model("test_xnet_effnet").eval()
    summary = run_demo(out, model=model, input_size=(64, 96), calibration_images=8, duration_s=0.05,
                       iterations=3, figure_copy=out.parent / "copy" / "demo.png", log=lines.append)
    return out, summary, lines


@pytest.mark.slow
def test_every_file_is_written(demo_run):
    out, summary, lines = demo_run
    for name, path in summary["files"].items():
        assert Path(path).exists(), name
    assert (out / "engines/cpu-fp32/manifest.json").is_file() and (out / "engines/cpu-int8/manifest.json").is_file()
    manifest = json.loads((out / "engines/cpu-int8/manifest.json").read_text())
    assert manifest["precision"] == "int8"
    assert (out.parent / "copy/demo.png").read_bytes()[:4] == b"\x89PNG"
    assert any("finished in" in line for line in lines)


@pytest.mark.slow
def test_the_speed_check_decision_is_reported_and_built(demo_run):
    """What calibrate's speed check decided is in the log, the summary and calibration.json, and the
    INT8 engine quantizes what it says (every layer when INT8 did not pay and the demo overrode it)."""
    import onnx

    out, summary, lines = demo_run
    speed = summary["calibration"]["speed_check"]
    report = json.loads((out / "int8" / "calibration.json").read_text())
    assert any(line.strip().startswith("speed check:") for line in lines)
    assert any(line.startswith("INT8 layers (calibrate's speed check):") for line in lines)
    qdq_ops = {"QuantizeLinear", "DequantizeLinear"}
    graph = onnx.load(str(out / "engines/cpu-int8/model.onnx"), load_external_data=False).graph
    assert qdq_ops & {n.op_type for n in graph.node}  # an INT8 engine either way
    if speed["chosen"] == "float":  # INT8 did not pay: the demo recalibrated every layer and said so
        assert "speed check overridden" in speed["demo_int8"] and report["cpu_speed"] is None
        assert any("calibrates again with every layer in INT8" in line for line in lines)
    else:
        assert speed["chosen"] == report["cpu_speed"]["chosen"] and speed["x_fp32"] > 1.0
        assert speed["kept_float_kinds"] == report["cpu_speed"]["kept_float_kinds"]


@pytest.mark.slow
def test_depth_and_metrics_are_consistent(demo_run):
    from xnet_edge.data import middlebury_motorcycle
    from xnet_edge.eval.metrics import depth_metrics

    out, summary, _ = demo_run
    rgb, gt = middlebury_motorcycle()
    for precision in ("fp32", "int8"):
        depth = np.load(out / f"motorcycle_depth_{precision}.npy")
        assert depth.shape == gt.shape and depth.dtype == np.float32
        # the summary's metrics are the ones of the saved depth map against the ground truth
        expected = depth_metrics(depth, gt, max_depth=10.0)
        got = summary["motorcycle"]["metrics"][precision]["metric"]
        assert got["abs_rel"] == pytest.approx(expected["abs_rel"], rel=1e-5)
    bench = json.loads((out / "bench.json").read_text())
    assert [r["label"] for r in bench["results"]] == ["ORT FP32", "ORT INT8"]
    assert summary["speedup_int8_vs_fp32"] == bench["results"][1]["speedup_vs_first"]
