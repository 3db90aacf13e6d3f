"""The benchmark report: JSON layout (and its check), terminal tables and the PNG plot.

JSON layout (``schema_version`` 1; every time in milliseconds unless the key says ``_s``)::

    {
      "schema": "xnet-edge-bench", "schema_version": 1,
      "settings": {"mode", "batch", "warmup_ms", "duration_s", "iterations", "rounds", "switch_calls", "threads",
                   "cuda_graph", "spin_wait", "input_size", "frame_size", "inputs": [photo names]},
      "environment": {"created", "platform", "cpu": {...}, "gpu": {...}|null, "jetson": {...}|null,
                      "versions": {...}, "threads": {...}, "load_average": [1, 5, 15 min] (before measuring),
                      "load_average_after": [...]},
      "results": [                                  # one per artifact, in the order given
        {"artifact": path, "label": short name, "backend", "precision", "mode", "batch",
         "input_size": [H, W] run, "input_size_requested": the shared --input-size or null,
         "size_multiple": the model's size multiple or null,  # input_size = requested rounded to it
         "iterations", "measured_s", "rounds", "warmup_calls", "discarded_calls",
         "latency_ms": {"min", "mean", "median", "p90", "p95", "p99", "max", "std"},
         "throughput": {"inferences_per_s", "images_per_s"},
         "speedup_vs_first": {"median", "mean"},    # first result's latency / this one's (>1: faster)
         "stages_ms": {"<stage>": {<latency keys>, "count", "per_call"}, ..., "other": {"per_call"}},
         "memory": {"peak_rss_mb", "peak_rss_scope", "load_rss_mb", "run_extra_rss_mb", "gpu_mb", "gpu_source"},
         "settings": {backend settings from Runtime.describe()},
         "notes": [str], "trtexec": null | {"latency_ms", "throughput", "stages_ms", "command", ...},
         "samples": {"latency_ms": [...], "t_s": [...]}}   # every measured call, t_s from the first
      ]
    }
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import XnetEdgeError
from ..io_utils import atomic_path
from .method import BenchSettings, Measurement
from .stats import LATENCY_KEYS, coefficient_of_variation, latency_stats, speedups, throughput

SCHEMA = "xnet-edge-bench"
SCHEMA_VERSION = 1
TOP_KEYS = ("schema", "schema_version", "settings", "environment", "results")
RESULT_KEYS = ("artifact", "label", "backend", "precision", "mode", "batch", "input_size", "input_size_requested",
               "size_multiple", "iterations",
               "measured_s", "rounds", "warmup_calls", "discarded_calls", "latency_ms", "throughput",
               "speedup_vs_first", "stages_ms", "memory", "settings", "notes", "trtexec", "samples")
THROUGHPUT_KEYS = ("inferences_per_s", "images_per_s")
MEMORY_KEYS = ("peak_rss_mb", "peak_rss_scope", "load_rss_mb", "run_extra_rss_mb", "gpu_mb", "gpu_source")
#: coefficient of variation above which a result is flagged as noisy
NOISY_CV = 0.10


def unique_labels(paths: Sequence[str]) -> list[str]:
    """Short names for artifacts: the last path part, with more parts added until they differ.

    ``engines/a/model.opt.onnx`` and ``engines/b/model.opt.onnx`` become ``a/model.opt.onnx`` and
    ``b/model.opt.onnx``; the same path given twice becomes ``x`` and ``x #2``.
    """
    parts = [Path(str(p)).parts or (str(p),) for p in paths]
    depth = [1] * len(paths)
    for _ in range(max((len(p) for p in parts), default=1)):
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        clashes = {n for n in names if names.count(n) > 1}
        grow = [i for i, n in enumerate(names) if n in clashes and depth[i] < len(parts[i])]
        if not grow:
            break
        for i in grow:
            depth[i] += 1
    names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def result_notes(latency: dict, stages: dict, backend: str, mode: str, memory: dict) -> list[str]:
    """Plain-language warnings about a result (noise, host-bound GPU runs, pre/post cost)."""
    notes = []
    cv = coefficient_of_variation(latency)
    if cv is not None and cv > NOISY_CV:
        notes.append(f"latency varies a lot (std/mean {cv:.0%}): other load on the machine or unlocked clocks; "
                     "compare medians, or rerun with a longer --duration-s")
    enqueue, compute = stages.get("enqueue", {}).get("per_call"), stages.get("compute", {}).get("per_call")
    if backend == "tensorrt" and enqueue is not None and compute and enqueue >= compute:
        notes.append(f"host-bound: enqueue {enqueue:.3f} ms >= GPU compute {compute:.3f} ms per call; "
                     "--cuda-graph cuts the launch cost")
    if mode == "end-to-end":
        prepost = sum(stages.get(s, {}).get("per_call", 0.0) for s in ("preprocess", "postprocess"))
        if latency["mean"] > 0 and prepost / latency["mean"] > 0.5:
            notes.append(f"pre/post-processing is {prepost / latency['mean']:.0%} of the end-to-end time")
    if memory.get("peak_rss_scope") == "process":
        notes.append("peak RSS is the whole process's (this OS cannot reset it per artifact)")
    return notes


#: load (in cores) others may add beyond the cores the benchmark leaves free before a report warns
LOAD_MARGIN = 0.5


def environment_notes(environment: dict) -> list[str]:
    """Warnings about the machine: other work sharing the CPU, unlocked Jetson clocks."""
    notes = []
    cores = (environment.get("cpu") or {}).get("usable_cores") or 1
    before, after = environment.get("load_average"), environment.get("load_average_after")
    requested = (environment.get("threads") or {}).get("requested")
    used = min(cores, requested or cores)  # 0 / None: the libraries take every core
    free = cores - used
    # Others' load: the load before measuring, or after it less the benchmark's own threads.
    estimates = ([before[0]] if before else []) + ([after[0] - used] if after else [])
    others = max(estimates, default=None)
    if others is not None and others > free + LOAD_MARGIN:
        worst = max(la[0] for la in (before, after) if la)
        notes.append(f"the 1-minute load average reached {worst:.1f} on {cores} usable cores, of which the "
                     f"benchmark leaves {free} free: other programs shared the CPU, so absolute times are inflated "
                     "(ratios from interleaved rounds hold up better)")
    jetson = environment.get("jetson") or {}
    if jetson and jetson.get("clocks_locked") is False:
        notes.append("Jetson clocks are not locked: run `sudo jetson_clocks` for stable numbers")
    return notes


def build_result(*, artifact: str, label: str, describe: dict, mode: str, settings: BenchSettings,
                 measurement: Measurement, stages: dict, memory: dict, reference: Optional[dict] = None,
                 size: Optional[dict] = None, size_note: Optional[str] = None) -> dict:
    """One entry of ``results`` from a finished measurement.

    Args:
        reference: the first result's ``latency_ms`` (None for the first itself).
        size: ``{"input_size", "input_size_requested", "size_multiple"}`` (the size run, the
            shared ``--input-size`` and the model's multiple); None: the size from ``describe``.
        size_note: the first note when the shared size was rounded for this model.
    """
    size = size or {"input_size": describe.get("input_size")}
    samples_ms = np.asarray(measurement.samples_s) * 1e3
    latency = latency_stats(samples_ms)
    backend = describe.get("backend", "?")
    t0 = measurement.start_s[0] if measurement.start_s else 0.0
    return {
        "artifact": artifact,
        "label": label,
        "backend": backend,
        "precision": describe.get("precision") or ("fp32" if backend == "torch" else None),
        "mode": mode,
        "batch": settings.batch,
        "input_size": size.get("input_size"),
        "input_size_requested": size.get("input_size_requested"),
        "size_multiple": size.get("size_multiple"),
        "iterations": measurement.count,
        "measured_s": measurement.measured_s,
        "rounds": (max(measurement.rounds) + 1) if measurement.rounds else 0,
        "warmup_calls": measurement.warmup_calls,
        "discarded_calls": measurement.discarded_calls,
        "latency_ms": latency,
        "throughput": throughput(samples_ms, settings.batch),
        "speedup_vs_first": speedups(reference or latency, latency),
        "stages_ms": stages,
        "memory": memory,
        "settings": describe,
        "notes": ([size_note] if size_note else []) + result_notes(latency, stages, backend, mode, memory),
        "trtexec": None,
        "samples": {"latency_ms": [round(float(v), 5) for v in samples_ms],
                    "t_s": [round(float(t - t0), 5) for t in measurement.start_s]},
    }


def validate_report(report: dict) -> dict:
    """Check a report against the documented layout; returns it.

    Raises:
        XnetEdgeError: a key is missing or a statistic is not a number.
    """
    def need(mapping, keys, where):
        if not isinstance(mapping, dict):
            raise XnetEdgeError(f"{where}: expected an object")
        missing = [k for k in keys if k not in mapping]
        if missing:
            raise XnetEdgeError(f"{where}: missing {', '.join(missing)}")

    need(report, TOP_KEYS, "report")
    if report["schema"] != SCHEMA or report["schema_version"] != SCHEMA_VERSION:
        raise XnetEdgeError(f"not a {SCHEMA} v{SCHEMA_VERSION} report")
    for i, result in enumerate(report["results"]):
        where = f"results[{i}]"
        need(result, RESULT_KEYS, where)
        need(result["latency_ms"], LATENCY_KEYS, f"{where}.latency_ms")
        need(result["throughput"], THROUGHPUT_KEYS, f"{where}.throughput")
        need(result["memory"], MEMORY_KEYS, f"{where}.memory")
        for key in LATENCY_KEYS:
            if not isinstance(result["latency_ms"][key], (int, float)):
                raise XnetEdgeError(f"{where}.latency_ms.{key} is not a number")
    return report


# --------------------------------------------------------------------------- terminal


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def latency_rows(report: dict) -> list[dict]:
    """Rows of the main table: one per artifact, plus one per trtexec run under it."""
    rows = []
    for r in report["results"]:
        lat, thr = r["latency_ms"], r["throughput"]
        size = r.get("input_size")
        rows.append({"artifact": r["label"], "backend": r["backend"], "precision": r["precision"] or "-",
                     "input": f"{size[0]}x{size[1]}" if size else "-",
                     "mean": _fmt(lat["mean"]), "median": _fmt(lat["median"]), "p90": _fmt(lat["p90"]),
                     "p99": _fmt(lat["p99"]), "std": _fmt(lat["std"]), "img/s": _fmt(thr["images_per_s"], 1),
                     "speedup": f"{r['speedup_vs_first']['median']:.2f}x",
                     "load MiB": _fmt(r["memory"]["load_rss_mb"], 0), "n": str(r["iterations"])})
        if r.get("trtexec"):
            t = r["trtexec"]
            rows.append({"artifact": "  (trtexec)", "backend": "trtexec", "mean": _fmt(t["latency_ms"]["mean"]),
                         "median": _fmt(t["latency_ms"]["median"]), "p90": _fmt(t["latency_ms"]["p90"]),
                         "p99": _fmt(t["latency_ms"]["p99"]), "std": "-",
                         "img/s": _fmt((t["throughput"] or {}).get("images_per_s"), 1)})
    return rows


LATENCY_COLUMNS = ["artifact", "backend", "precision", "input", "mean", "median", "p90", "p99", "std", "img/s", "speedup",
                   "load MiB", "n"]
STAGE_COLUMNS = ["artifact", "preprocess", "h2d", "enqueue", "compute", "d2h", "postprocess", "other"]


def stage_rows(report: dict) -> list[dict]:
    """Rows of the stage table: milliseconds per call spent in each stage."""
    rows = []
    for r in report["results"]:
        row = {"artifact": r["label"]}
        for stage in STAGE_COLUMNS[1:]:
            row[stage] = _fmt(r["stages_ms"].get(stage, {}).get("per_call"), 3)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- plot


def plot_report(report: dict, path: str | Path, title: Optional[str] = None) -> Path:
    """Latency distributions (box plot) and latency over time (interleaved rounds) as a PNG.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    from .._deps import require

    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    sizes = [tuple(r.get("input_size") or ()) for r in results]
    labels = [r["label"] + (f" ({size[0]}x{size[1]})" if size and len(set(sizes)) > 1 else "")
              for r, size in zip(results, sizes)]
    data = [r["samples"]["latency_ms"] for r in results]
    fig, (ax_box, ax_time) = plt.subplots(1, 2, figsize=(12, 1.8 + 0.6 * len(results)),
                                          gridspec_kw={"width_ratios": [1, 1.4]})
    style = dict(whis=(1, 99), showfliers=True, flierprops={"markersize": 2})
    try:
        ax_box.boxplot(data, orientation="horizontal", **style)
    except TypeError:  # matplotlib < 3.10
        ax_box.boxplot(data, vert=False, **style)
    ax_box.set_yticks(range(1, len(labels) + 1), labels)
    ax_box.invert_yaxis()
    ax_box.set_xlabel("latency per call (ms); whiskers p1-p99")
    for i, r in enumerate(results, start=1):
        ax_box.annotate(f"median {r['latency_ms']['median']:.2f}", (r["latency_ms"]["median"], i),
                        textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8)
        if r.get("trtexec"):
            ax_box.plot([r["trtexec"]["latency_ms"]["median"]], [i], "kD", markersize=5,
                        label="trtexec median" if i == 1 else None)
    for r, label in zip(results, labels):
        ax_time.plot(r["samples"]["t_s"], r["samples"]["latency_ms"], ".", markersize=2, label=label)
    ax_time.set_xlabel("time since measurement start (s)")
    ax_time.set_ylabel("latency (ms)")
    ax_time.legend(fontsize=8, markerscale=4, loc="upper right")
    s = report["settings"]
    fig.suptitle(title or f"xnet-edge bench: {s['mode']}, batch {s['batch']}, "
                 f"{report['environment']['cpu'].get('model') or 'unknown CPU'}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
