"""Environment capture: the live capture's layout, peak RSS, notes on a busy machine."""

import numpy as np
import pytest

from xnet_edge.bench.environment import capture_environment
from xnet_edge.bench.memory import PeakRss

def test_live_capture_has_the_documented_sections():
    env = capture_environment(threads=2)
    assert set(env) == {"created", "platform", "cpu", "gpu", "jetson", "versions", "threads", "load_average"}
    assert env["load_average"] is None or len(env["load_average"]) == 3
    assert env["cpu"]["logical_cores"] >= 1 and env["cpu"]["usable_cores"] >= 1
    assert env["threads"]["requested"] == 2
    for package in ("onnxruntime", "torch", "tensorrt", "numpy", "xnet_edge", "python"):
        assert package in env["versions"]
    assert env["versions"]["numpy"] == np.__version__


def test_peak_rss_window_sees_a_temporary_allocation():
    peak = PeakRss()
    if peak.scope != "window":
        pytest.skip("this OS cannot reset the peak RSS")
    peak.reset()
    base = peak.peak_mb()
    block = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, touched
    del block
    grown = peak.peak_mb()
    assert grown - base > 56
    peak.reset()
    assert peak.peak_mb() < grown - 56


def test_environment_notes_flag_a_busy_machine():
    from xnet_edge.bench.report import environment_notes

    quiet = {"cpu": {"usable_cores": 4}, "load_average": [0.5, 0.4, 0.3], "load_average_after": [1.2, 0.5, 0.3]}
    busy = dict(quiet, load_average_after=[7.8, 6.0, 4.0])
    assert environment_notes(quiet) == []
    (note,) = environment_notes(busy)
    assert "7.8 on 4 usable cores" in note
    assert "jetson_clocks" in environment_notes(dict(quiet, jetson={"clocks_locked": False}))[0]


def test_two_busy_loops_on_the_cores_the_benchmark_uses_are_flagged():
    from xnet_edge.bench.report import environment_notes

    # 2 cores, the benchmark takes both (no --threads): two busy loops before it means sharing
    busy = {"cpu": {"usable_cores": 2}, "threads": {"requested": None}, "load_average": [2.0, 1.5, 1.0],
            "load_average_after": [2.9, 1.8, 1.1]}
    (note,) = environment_notes(busy)
    assert "2.9 on 2 usable cores, of which the benchmark leaves 0 free" in note
    # with --threads 1 one core is free: one busy loop fits beside it, two do not
    assert environment_notes(dict(busy, threads={"requested": 1}, load_average=[1.0, 1, 1],
                                  load_average_after=[1.9, 1, 1])) == []
    assert environment_notes(dict(busy, threads={"requested": 1}))
