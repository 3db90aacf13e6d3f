"""tests/helpers/suite_helpers.py: one module per file, importable under its own name while it runs."""

import sys

import pytest
from suite_helpers import REPO, TESTS, load_benchmark, load_module


def test_one_module_per_file_by_relative_or_absolute_path():
    first = load_module("runtime/engine_folders.py")
    assert load_module(TESTS / "runtime" / "engine_folders.py") is first
    assert first.__name__ == "xnet_edge_tests_tests_runtime_engine_folders" and sys.modules[first.__name__] is first
    assert load_benchmark("bench_e2e").__file__ == str(REPO / "benchmarks" / "bench_e2e.py")


def test_a_file_that_fails_to_import_leaves_nothing_behind(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nsys.modules[__name__].seen = True\nraise RuntimeError('half-imported')\n")
    with pytest.raises(RuntimeError, match="half-imported"):
        load_module(broken, name="xnet_edge_tests_broken")
    assert "xnet_edge_tests_broken" not in sys.modules
    broken.write_text("value = 2\n")
    assert load_module(broken, name="xnet_edge_tests_broken").value == 2
