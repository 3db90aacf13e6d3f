"""Latency benchmarking users can trust: trtexec's method, several artifacts side by side.

``xnet-edge bench`` is the command line; :func:`run_benchmark` the Python API::

    from xnet_edge.bench import BenchSettings, run_benchmark
    report = run_benchmark(["engines/cpu-fp32", "engines/cpu-int8"], BenchSettings(duration_s=3))
    print(report["results"][1]["speedup_vs_first"]["median"])

Modules: :mod:`.stats` (statistics), :mod:`.method` (warm-up, interleaved rounds,
stopping rule), :mod:`.subjects` (Runtime driving, model-only vs end-to-end),
:mod:`.inputs` (real frames), :mod:`.environment`, :mod:`.memory`,
:mod:`.trtexec_timing` (run and parse trtexec), :mod:`.report` (JSON layout, tables, plot).
Nothing here imports torch unless a PyTorch checkpoint is benchmarked.
"""

from .benchmark import check_options, run_benchmark
from .environment import capture_environment
from .method import BenchSettings, Measurement, Subject, measure
from .report import SCHEMA, SCHEMA_VERSION, plot_report, validate_report
from .stats import LATENCY_KEYS, latency_stats, percentile, throughput
from .trtexec_timing import parse_trtexec_summary

__all__ = ["BenchSettings", "LATENCY_KEYS", "Measurement", "SCHEMA", "SCHEMA_VERSION", "Subject",
           "capture_environment", "check_options", "latency_stats", "measure", "parse_trtexec_summary",
           "percentile", "plot_report", "run_benchmark", "throughput", "validate_report"]
