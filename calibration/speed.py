"""Which layers the ONNX Runtime CPU graph quantizes, chosen by measured speed.

INT8 does not pay everywhere on a CPU: a ViT's linear layers run in ``QLinearMatMul``,
its patch embedding and DPT head in ``QLinearConv``, and each can be slower than the
float kernel it replaces once the quantize/dequantize pairs around it are counted.
:func:`choose_cpu_layers` builds the CPU graph with every layer kind quantized, then
once more without each kind in turn, measures them beside the FP32 model on this
machine (ONNX Runtime, one thread, interleaved rounds, process CPU time) and keeps
the fastest. When no INT8 graph beats FP32, every layer stays float: INT8 that is
slower than FP32 is never what ``calibrate`` hands over for the CPU.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import onnx

from .graph import Layer
from .._deps import require

#: A graph with more layers in INT8 is kept unless another is faster by more than this (noise margin).
TIE_MARGIN = 0.03


def cpu_session(path: str, threads: int = 0, profile_prefix: Optional[str] = None):
    """An ONNX Runtime CPU session with all graph optimizations (what a CPU deployment runs)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure_latency(paths: Sequence[str], x: np.ndarray, *, threads: int = 0, rounds: int = 10,
                    runs_per_round: int = 5, warmup: int = 3, input_name: str = "image") -> dict[str, dict]:
    """Latency of several models, measured in interleaved rounds.

    Each round runs every model ``runs_per_round`` times, so a busy machine slows
    all models alike and their ratios stay comparable.

    Returns:
        ``{path: {"median_ms", "p10_ms", "min_ms", "cpu_median_ms", "runs"}}``: wall-clock
        figures, and the process CPU time per run (all threads; with one thread it is
        the compute time, robust to other processes competing for the cores).
    """
    sessions = {p: cpu_session(p, threads) for p in paths}
    for session in sessions.values():
        for _ in range(warmup):
            session.run(None, {input_name: x})
    wall: dict[str, list[float]] = {p: [] for p in paths}
    cpu: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(rounds):
        for path, session in sessions.items():
            for _ in range(runs_per_round):
                start, start_cpu = time.perf_counter(), time.process_time()
                session.run(None, {input_name: x})
                wall[path].append((time.perf_counter() - start) * 1e3)
                cpu[path].append((time.process_time() - start_cpu) * 1e3)
    return {p: {"median_ms": float(np.median(wall[p])), "p10_ms": float(np.percentile(wall[p], 10)),
                "min_ms": float(np.min(wall[p])), "cpu_median_ms": float(np.median(cpu[p])), "runs": len(wall[p])}
            for p in paths}


@dataclass
class SpeedChoice:
    """The measured CPU graphs and the one chosen.

    Attributes:
        layers: the layers the chosen graph quantizes (empty: INT8 did not pay).
        chosen: ``"all"``, ``"without <kind>"`` or ``"float"``.
        fp32_ms: FP32 CPU time per run (median, one thread).
        candidates: ``{name: {"kinds", "layers", "ms", "speedup"}}`` for every measured INT8 graph.
        notes: what was decided, in words.
    """

    layers: list[Layer]
    chosen: str
    fp32_ms: float
    candidates: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"chosen": self.chosen, "fp32_ms": self.fp32_ms, "candidates": self.candidates,
                "kept_float_kinds": sorted({k for c in self.candidates.values() for k in c["kinds"]}
                                           - {l.kind for l in self.layers}),
                "notes": list(self.notes), "method": "ONNX Runtime CPU, 1 thread, interleaved rounds, "
                                                     "median process CPU time"}


def candidate_sets(layers: Sequence[Layer]) -> dict[str, list[Layer]]:
    """Every layer, then every layer but one kind (for each kind present)."""
    kinds = sorted({l.kind for l in layers})
    sets = {"all": list(layers)}
    if len(kinds) > 1:
        for kind in kinds:
            sets[f"without {kind}"] = [l for l in layers if l.kind != kind]
    return sets


def choose_cpu_layers(fp32: onnx.ModelProto, layers: Sequence[Layer],
                      build_graph: Callable[[list[Layer]], onnx.ModelProto], x: np.ndarray, *,
                      rounds: int = 3, runs_per_round: int = 2) -> SpeedChoice:
    """Measure the CPU graph with each candidate layer set and keep the fastest that beats FP32.

    Args:
        fp32: the float model.
        layers: the layers calibration would quantize.
        build_graph: makes the ONNX Runtime CPU Q/DQ graph that quantizes the given layers.
        x: one network input (1, 3, H, W).
        rounds, runs_per_round: the interleaved measurement (see :func:`measure_latency`).

    Returns:
        A :class:`SpeedChoice`.
    """
    sets = candidate_sets(layers)
    with tempfile.TemporaryDirectory(prefix="xnet-edge-speed-") as tmp:
        paths = {"fp32": Path(tmp) / "fp32.onnx"}
        onnx.save(fp32, str(paths["fp32"]))
        for i, (name, chosen) in enumerate(sets.items()):
            paths[name] = Path(tmp) / f"int8_{i}.onnx"
            onnx.save(build_graph(chosen), str(paths[name]))
        input_name = fp32.graph.input[0].name
        timing = measure_latency([str(p) for p in paths.values()], x, threads=1, rounds=rounds,
                                 runs_per_round=runs_per_round, warmup=1, input_name=input_name)
    ms = {name: float(timing[str(path)]["cpu_median_ms"]) for name, path in paths.items()}
    fp32_ms = ms.pop("fp32")
    candidates = {name: {"kinds": sorted({l.kind for l in sets[name]}), "layers": len(sets[name]), "ms": ms[name],
                         "speedup": fp32_ms / ms[name] if ms[name] > 0 else float("inf")} for name in sets}
    best = min(ms, key=ms.get)
    if ms["all"] <= ms[best] * (1 + TIE_MARGIN):
        best = "all"
    if ms[best] >= fp32_ms:
        note = (f"INT8 did not pay on this CPU (best INT8 graph x{fp32_ms / ms[best]:.2f} of FP32 speed): "
                "the CPU graph keeps every layer float; build the FP32 model for cpu")
        return SpeedChoice([], "float", fp32_ms, candidates, [note])
    notes = [f"CPU graph: {best} (x{fp32_ms / ms[best]:.2f} FP32 speed, measured)"]
    if best != "all":
        notes.append(f"all layers INT8 measured x{fp32_ms / ms['all']:.2f}; {best.split(' ', 1)[1]} layers stay float")
    return SpeedChoice(sets[best], best, fp32_ms, candidates, notes)
