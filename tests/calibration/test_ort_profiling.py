"""ONNX Runtime profiling helpers (benchmarks/ort_profiling.py): op tables, latency rounds, per-layer speed-ups."""

import numpy as np
import onnx
from suite_helpers import load_benchmark

from xnet_edge.calibration.collect import collect_statistics
from xnet_edge.calibration.graph import GraphIndex, find_layers
from xnet_edge.calibration.observers import compute_amax
from xnet_edge.calibration.placement import plan_onnxruntime
from xnet_edge.calibration.qdq import write_qdq_model


_profiling = load_benchmark("ort_profiling")
layer_speedups, measure_latency, profile_ops = _profiling.layer_speedups, _profiling.measure_latency, \
    _profiling.profile_ops


def test_profiles_show_int8_kernels_and_match_layers(tiny_model, tmp_path):
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 16, 24)).astype(np.float32)
    stats = collect_statistics(tiny_model, [x])
    amax = {n: compute_amax(s, "max") for n, s in stats.items()}
    index = GraphIndex(tiny_model)
    layers = find_layers(tiny_model, index)
    plan = plan_onnxruntime(index, layers, amax, stats)
    fp32_path, int8_path = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    onnx.save(tiny_model, str(fp32_path))
    onnx.save(write_qdq_model(tiny_model, plan.activations, plan.layers, quantize_bias=True), str(int8_path))
    fp32, int8 = profile_ops(str(fp32_path), x, runs=2), profile_ops(str(int8_path), x, runs=2)
    assert "QLinearConv" in int8.int8_ops() and fp32.int8_ops() == []
    assert fp32.total_ms > 0 and abs(sum(fp32.by_op.values()) - fp32.total_ms) < 1e-9
    speed = layer_speedups(fp32, int8, layers, tiny_model)
    assert sum(v["layers"] for v in speed.values()) == len(plan.layers) == len(layers) - 1  # the stem stays float
    assert all(v["fp32_ms"] > 0 and v["int8_ms"] > 0 for v in speed.values())
    lat = measure_latency([str(fp32_path), str(int8_path)], x, threads=1, rounds=2, runs_per_round=2, warmup=1)
    assert all(v["runs"] == 4 and v["min_ms"] <= v["median_ms"] for v in lat.values())
