"""ONNX Runtime CPU latency and per-operator profiles: which ops run in INT8, and what they cost.

Used to decide where INT8 pays on a CPU (see docs/quantization.md) by
``benchmarks/bench_quant.py``; benchmark tooling, so it lives here and not in the package. Latency follows the trtexec method in small:
warm-up, then interleaved rounds so that several models share the same machine
conditions, and the median of all timed runs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from xnet_edge._deps import require
from xnet_edge.calibration.speed import cpu_session, measure_latency  # noqa: F401  (calibrate measures with them too)


@dataclass
class OpProfile:
    """Kernel time of one model in ONNX Runtime, per op type and per node (ms per inference).

    Attributes:
        by_op: ``{op type after ORT's graph optimization: ms}``, largest first.
        by_node: ``{node name: (op type, ms)}``.
        total_ms: sum of kernel times.
    """

    by_op: dict[str, float] = field(default_factory=dict)
    by_node: dict[str, tuple[str, float]] = field(default_factory=dict)
    total_ms: float = 0.0

    def int8_ops(self) -> list[str]:
        """Op types that compute in integers (QLinear*, *Integer)."""
        return [op for op in self.by_op if op.startswith("QLinear") or op.endswith("Integer")]

    def to_dict(self) -> dict:
        return {"total_ms": self.total_ms, "by_op": self.by_op}


def profile_ops(path: str, x: np.ndarray, *, runs: int = 10, threads: int = 1,
                input_name: str = "image") -> OpProfile:
    """Per-op and per-node kernel time from ONNX Runtime's profiler (after a warm-up run)."""
    with tempfile.TemporaryDirectory() as tmp:
        session = cpu_session(path, threads, profile_prefix=os.path.join(tmp, "ort"))
        session.run(None, {input_name: x})
        for _ in range(runs):
            session.run(None, {input_name: x})
        trace = session.end_profiling()
        with open(trace) as f:
            events = json.load(f)
    model_runs = sorted((e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    warm_end = model_runs[0] if model_runs else -1
    by_op: dict[str, float] = {}
    by_node: dict[str, tuple[str, float]] = {}
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time") or event["ts"] <= warm_end:
            continue
        name, op = event["name"][: -len("_kernel_time")], event["args"]["op_name"]
        ms = event["dur"] / 1e3 / runs
        by_op[op] = by_op.get(op, 0.0) + ms
        by_node[name] = (op, by_node.get(name, (op, 0.0))[1] + ms)
    by_op = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))
    return OpProfile(by_op, by_node, float(sum(by_op.values())))


_FUSABLE_ACTIVATIONS = ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "Add")


def _fp32_layer_time(profile: OpProfile, layer, index=None) -> float | None:
    # ORT's NCHWc rewrite names a fused conv after its last fused output: "<tensor>_nchwc"
    names = [layer.output, layer.activation_output]
    if index is not None:  # follow activations / a residual Add that ORT fuses into the conv
        tensor = layer.output
        for _ in range(2):
            user = index.single_consumer(tensor)
            if user is None or user.op_type not in _FUSABLE_ACTIVATIONS:
                break
            tensor = user.output[0]
            names.append(tensor)
    for key in [f"{n}_nchwc" for n in reversed(names)] + [layer.node]:
        if key in profile.by_node:
            return profile.by_node[key][1]
    return None


def _int8_layer_time(profile: OpProfile, layer) -> float | None:
    # the QDQ fusion names QLinearConv after the Conv node: "<node>" or "<node>_token_<n>"
    times = [ms for name, (_, ms) in profile.by_node.items()
             if name == layer.node or name.startswith(f"{layer.node}_token")]
    return sum(times) if times else None


def layer_speedups(fp32: OpProfile, int8: OpProfile, layers, model=None) -> dict[str, dict]:
    """Kernel time of the quantized layers in FP32 vs INT8, summed per layer kind.

    Args:
        fp32, int8: :func:`profile_ops` of the FP32 model and of a quantized model of it.
        layers: the :class:`~xnet_edge.calibration.graph.Layer` list of the FP32 model.
        model: the FP32 ModelProto (lets fused activations be followed to ORT's node names).

    Returns:
        ``{kind: {"layers", "fp32_ms", "int8_ms", "speedup"}}`` (layers found in both profiles).
    """
    from xnet_edge.calibration.graph import GraphIndex

    index = GraphIndex(model) if model is not None else None
    out: dict[str, dict] = {}
    for layer in layers:
        a, b = _fp32_layer_time(fp32, layer, index), _int8_layer_time(int8, layer)
        if a is None or b is None:
            continue
        entry = out.setdefault(layer.kind, {"layers": 0, "fp32_ms": 0.0, "int8_ms": 0.0})
        entry["layers"] += 1
        entry["fp32_ms"] += a
        entry["int8_ms"] += b
    for entry in out.values():
        entry["speedup"] = entry["fp32_ms"] / entry["int8_ms"] if entry["int8_ms"] > 0 else float("inf")
    return out
