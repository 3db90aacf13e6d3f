"""benchmarks/bench_e2e.py's report helpers: the RESULTS.md section and the goal check."""

import pytest
from suite_helpers import load_benchmark


@pytest.fixture(scope="module")
def e2e():
    return load_benchmark("bench_e2e")


def test_section_is_appended_then_replaced_in_place(e2e):
    other = "# Benchmark results\n\n## Quantization\n\nINT8 table by another script.\n"
    first = e2e.replace_section(other, "## End to end (CPU)\n\nrun 1\n")
    assert first == other + "\n## End to end (CPU)\n\nrun 1\n"
    middle = first + "\n## Later section\n\nkept\n"
    second = e2e.replace_section(middle, "## End to end (CPU)\n\nrun 2\n")
    assert "run 1" not in second and "run 2" in second
    assert second.index("## Quantization") < second.index("run 2") < second.index("## Later section")
    assert second.endswith("## Later section\n\nkept\n")
    assert e2e.replace_section("", "## End to end (CPU)\n\nx\n") == "## End to end (CPU)\n\nx\n"


def test_goal_lines_report_met_and_not_met(e2e):
    row = {"model": "xnet_lite0", "input": "256x320", "config": "ORT INT8", "speedup_vs_pytorch": "2.40",
           "speedup_vs_ort_fp32": "1.20", "speedup_vs_plain_onnx": "1.10"}
    lines = e2e.goal_lines([row])
    assert "**2.40x** (goal >= 2x: met)" in lines[0]
    assert "**1.20x** (goal >= 1.5x: not met)" in lines[1]
    assert "**1.10x**" in lines[2]
    assert e2e.goal_lines([dict(row, input="480x640")]) == []
