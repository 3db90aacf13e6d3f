"""The report of a real (tiny) ONNX Runtime benchmark: documented layout, stage split, plot."""

import json

import numpy as np
import pytest

from xnet_edge.bench import BenchSettings, run_benchmark, validate_report
from xnet_edge.bench.report import (LATENCY_COLUMNS, MEMORY_KEYS, RESULT_KEYS, TOP_KEYS, latency_rows,
                                    plot_report, unique_labels)
from xnet_edge.bench.stats import LATENCY_KEYS
from xnet_edge.bench.subjects import rotation
from xnet_edge.errors import XnetEdgeError

QUICK = BenchSettings(warmup_ms=5, duration_s=0.05, iterations=4, rounds=2)
SETTINGS_KEYS = {"mode", "batch", "warmup_ms", "duration_s", "iterations", "rounds", "switch_calls", "threads",
                 "cuda_graph", "spin_wait", "cuda_sync", "input_size", "frame_size", "inputs"}


@pytest.fixture(scope="module")
def model_only(tiny_onnx_pair):
    return run_benchmark(tiny_onnx_pair, QUICK, threads=1, frame_size=(48, 64))


@pytest.fixture(scope="module")
def end_to_end(tiny_onnx):
    return run_benchmark([tiny_onnx], BenchSettings(warmup_ms=5, duration_s=0.05, iterations=4, rounds=2, batch=2),
                         end_to_end=True, frame_size=(48, 64), photos=("chelsea", "coffee", "rocket"))


def test_layout_is_the_documented_one(model_only):
    report = json.loads(json.dumps(model_only))  # plain JSON types only
    validate_report(report)
    assert tuple(report) == TOP_KEYS
    assert set(report["settings"]) == SETTINGS_KEYS
    assert report["settings"]["mode"] == "model-only" and report["settings"]["threads"] == 1
    assert len(report["settings"]["inputs"]) == 8
    assert [r["label"] for r in report["results"]] == ["a/model.onnx", "b/model.onnx"]
    for r in report["results"]:
        assert tuple(r) == RESULT_KEYS
        assert tuple(r["latency_ms"]) == LATENCY_KEYS
        assert tuple(r["memory"]) == MEMORY_KEYS
        assert r["iterations"] >= 4 and r["measured_s"] >= 0.05
        assert r["backend"] == "onnxruntime" and r["settings"]["threads"] == 1
        assert r["memory"]["peak_rss_mb"] > 0
        assert len(r["samples"]["latency_ms"]) == r["iterations"] == len(r["samples"]["t_s"])
        # blocks after a switch start with one discarded call, which leaves no stage time either
        assert report["settings"]["switch_calls"] == 1 and r["discarded_calls"] >= 1
        assert r["stages_ms"]["compute"]["count"] == r["iterations"]
        stats = r["latency_ms"]
        assert stats["min"] <= stats["median"] <= stats["p90"] <= stats["p99"] <= stats["max"]
        # samples are stored rounded to 1e-5 ms: at ~0.02 ms calls that alone exceeds rel=1e-4
        assert stats["mean"] == pytest.approx(np.mean(r["samples"]["latency_ms"]), rel=1e-4, abs=5e-6)


def test_ratios_are_against_the_first(model_only):
    first, second = model_only["results"]
    assert first["speedup_vs_first"] == {"median": 1.0, "mean": 1.0}
    assert second["speedup_vs_first"]["median"] == pytest.approx(
        first["latency_ms"]["median"] / second["latency_ms"]["median"])


def test_model_only_stages_add_up(model_only):
    for r in model_only["results"]:
        stages = r["stages_ms"]
        assert set(stages) == {"compute", "other"}  # no pre/post in model-only mode; CPU has no copies
        assert stages["compute"]["count"] == r["iterations"]
        assert stages["compute"]["per_call"] + stages["other"]["per_call"] == pytest.approx(r["latency_ms"]["mean"])


def test_end_to_end_includes_pre_and_post(end_to_end):
    (r,) = end_to_end["results"]
    assert r["mode"] == "end-to-end" and r["batch"] == 2
    stages = r["stages_ms"]
    assert {"preprocess", "compute", "postprocess", "other"} <= set(stages)
    assert stages["preprocess"]["count"] == 2 * r["iterations"]  # one per image
    total = sum(stages[s]["per_call"] for s in ("preprocess", "compute", "postprocess", "other"))
    assert total == pytest.approx(r["latency_ms"]["mean"])
    assert r["throughput"]["images_per_s"] == pytest.approx(2 * r["throughput"]["inferences_per_s"])


def test_plot_and_table(model_only, tmp_path):
    path = plot_report(model_only, tmp_path / "bench.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = latency_rows(model_only)
    assert [row["speedup"] for row in rows][0] == "1.00x"
    assert set(rows[0]) == set(LATENCY_COLUMNS)


def test_validate_rejects_a_broken_report(model_only):
    broken = json.loads(json.dumps(model_only))
    del broken["results"][0]["latency_ms"]["p95"]
    with pytest.raises(XnetEdgeError, match="p95"):
        validate_report(broken)


def test_labels_and_rotation():
    assert unique_labels(["e/a/model.onnx", "e/b/model.onnx"]) == ["a/model.onnx", "b/model.onnx"]
    assert unique_labels(["x.onnx", "x.onnx", "engines/cpu"]) == ["x.onnx", "x.onnx #2", "cpu"]
    assert rotation([1, 2, 3], 2) == [[1, 2], [3, 1], [2, 3]]
    assert rotation(["a"], 1) == [["a"]]
