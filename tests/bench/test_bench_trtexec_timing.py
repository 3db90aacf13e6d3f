"""trtexec: the summary parser on captured text, and the command it is run with."""

import pytest

from xnet_edge.bench.method import BenchSettings
from xnet_edge.bench.stats import LATENCY_KEYS
from xnet_edge.bench.trtexec_timing import parse_trtexec_summary, trtexec_timing_args
from xnet_edge.errors import XnetEdgeError

def test_parses_trt10_summary_into_our_fields(samples):
    out = parse_trtexec_summary(samples.TRT10_LOG, batch=2)
    lat = out["latency_ms"]
    assert list(lat) == list(LATENCY_KEYS)
    assert lat == {"min": 4.27838, "mean": 4.29966, "median": 4.29718, "p90": 4.30725, "p95": 4.31128,
                   "p99": 4.32874, "max": 5.82495, "std": None}
    assert out["throughput"] == {"inferences_per_s": 232.514, "images_per_s": pytest.approx(465.028)}
    assert set(out["stages_ms"]) == {"enqueue", "h2d", "compute", "d2h"}
    assert out["stages_ms"]["compute"]["median"] == 4.23926
    assert out["stages_ms"]["h2d"]["p99"] == 0.0546875
    assert out["stages_ms"]["enqueue"]["mean"] == 1.81459
    assert out["total_host_walltime_s"] == 3.00412 and out["total_gpu_compute_s"] == 2.96512
    assert len(out["warnings"]) == 2 and out["warnings"][0].startswith("GPU compute time is unstable")


def test_trace_lines_before_the_summary_are_ignored(samples):
    out = parse_trtexec_summary(samples.TRT10_LOG)
    assert out["latency_ms"]["mean"] != 4.29793  # the "Host latency" of the per-10-runs trace


def test_older_summary_without_p90_p95(samples):
    out = parse_trtexec_summary(samples.TRT84_SUMMARY)
    assert out["latency_ms"]["p99"] == 1.55853
    assert out["latency_ms"]["p90"] is None and out["latency_ms"]["p95"] is None
    assert set(out["stages_ms"]) == {"compute"}
    assert out["total_gpu_compute_s"] is None


def test_failed_run_without_summary_raises():
    text = "[I] Loading engine\n[E] Error[1]: Serialization assertion failed\n&&&& FAILED TensorRT.trtexec\n"
    with pytest.raises(XnetEdgeError, match="no performance summary"):
        parse_trtexec_summary(text)


def test_command_matches_our_settings():
    settings = BenchSettings(warmup_ms=150, duration_s=2.5, iterations=80)
    args = trtexec_timing_args("e/model.plan", settings, input_shape=(4, 3, 256, 320), cuda_graph=True,
                               spin_wait=True, dla_core=1)
    assert args == ["--loadEngine=e/model.plan", "--warmUp=150", "--duration=3", "--iterations=80",
                    "--shapes=image:4x3x256x320", "--useCudaGraph", "--useSpinWait", "--useDLACore=1"]
    assert trtexec_timing_args("p.plan", BenchSettings()) == ["--loadEngine=p.plan", "--warmUp=200", "--duration=3",
                                                              "--iterations=50"]
