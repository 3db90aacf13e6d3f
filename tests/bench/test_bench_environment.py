"""Environment capture: parsers on captured text, and the live capture's layout."""

import numpy as np
import pytest

from xnet_edge.bench.environment import capture_environment, parse_cpuinfo, parse_nvidia_smi, parse_nvpmodel
from xnet_edge.bench.memory import PeakRss

CPUINFO = """\
processor\t: 0
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 0

processor\t: 2
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 1
"""

# Jetson (aarch64) cpuinfo has no "model name"; the model comes from the device tree.
CPUINFO_ARM = "processor\t: 0\nBogoMIPS\t: 62.50\nCPU implementer\t: 0x41\n"


def test_cpuinfo():
    assert parse_cpuinfo(CPUINFO) == {"model": "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "physical_cores": 2}
    assert parse_cpuinfo(CPUINFO_ARM) == {"model": None, "physical_cores": None}


def test_nvpmodel_output():
    assert parse_nvpmodel("NV Power Mode: MAXN\n0\n") == {"mode": "MAXN", "id": 0}
    assert parse_nvpmodel("NV Fan Mode:quiet\nNV Power Mode: 15W\n2\n") == {"mode": "15W", "id": 2}
    assert parse_nvpmodel("nvpmodel: command not permitted\n") == {"mode": None, "id": None}


def test_nvidia_smi_query():
    gpu = parse_nvidia_smi("NVIDIA GeForce RTX 3090, 550.54.15, 24576, 210, 2100\n")
    assert gpu == {"name": "NVIDIA GeForce RTX 3090", "driver": "550.54.15", "memory_mb": 24576.0,
                   "sm_clock_mhz": 210.0, "sm_clock_max_mhz": 2100.0, "count": 1}
    assert parse_nvidia_smi("NVIDIA A100, 535.1, [N/A], 1410, 1410\nNVIDIA A100, 535.1, 1, 1, 1\n")["count"] == 2
    assert parse_nvidia_smi("") is None


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
