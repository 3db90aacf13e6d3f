"""``calibrate()``: an FP32 xnet-edge ONNX model + images → INT8 models, TensorRT cache, FP16 model, report.

Outputs (in ``output_dir``):

===========================  =================================================================
``model.int8.onnx``          Q/DQ for TensorRT >= 10 (symmetric INT8, zero point 0, float bias)
``model.int8.cpu.onnx``      Q/DQ for ONNX Runtime CPU (UINT8 activations → QLinearConv)
``model.fp16.onnx``          FP16 weights/activations, LayerNorm/Pow/Reduce/Softmax/head in FP32
``calibration.cache``        TensorRT legacy calibration cache (every activation tensor)
``calibration.json``         ranges, method, data fingerprint, versions, sensitivity, eval
===========================  =================================================================

Files are written to a staging folder and moved into place at the end, so an
interrupted run leaves no partial file. Nothing time-dependent is written, so
the same inputs give byte-identical files.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import onnx

from .._deps import require
from .._version import __version__
from ..contract import QDQ_FILES, QUANT_KEY, read_contract
from ..errors import UsageError
from ..io_utils import atomic_dir, check_writable, sha256_file, write_bytes_atomic
from .calibration_images import DEFAULT_NUM_IMAGES, ImageSource, calibration_inputs
from .collect import collect_statistics
from .fp16 import convert_fp16
from .graph import GraphIndex, find_layers
from .observers import DEFAULT_PERCENTILE, METHODS, NUM_BINS, compute_amax
from .placement import QuantPlan, make_plan, select_layers
from .qdq import INT8_MAX, write_qdq_model
from .sensitivity import layer_sensitivity
from .speed import choose_cpu_layers
from .trt_cache import format_trt_cache, trt_version_code

DEFAULT_METHOD = "max"
FILES = {**QDQ_FILES, "fp16": "model.fp16.onnx",
         "cache": "calibration.cache", "report": "calibration.json"}


@dataclass
class CalibrationOptions:
    """Settings of one calibration run (see ``xnet-edge calibrate --help``)."""

    method: str = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    num_images: int = DEFAULT_NUM_IMAGES
    seed: int = 0
    min_images: Optional[int] = None
    keep_fp: int = 0
    bias_correction: bool = True
    sensitivity: bool = False
    sensitivity_images: int = 4
    fp16: bool = True
    evaluate: bool = False
    eval_align: Optional[str] = "median"
    trt_version: str = "10.3.0"
    progress: bool = False
    #: measure which layer kinds pay in INT8 on this CPU and quantize only those in the CPU graph
    #: (the report's ``cpu_speed``); off: every layer, and byte-identical files for the same inputs
    speed_check: bool = True

    def validate(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"unknown calibration method {self.method!r}; choose one of: {', '.join(METHODS)}")
        if not 0.0 < self.percentile <= 100.0:
            raise UsageError(f"--percentile must be in (0, 100], got {self.percentile}")
        if self.keep_fp < 0:
            raise UsageError(f"--keep-fp must be >= 0, got {self.keep_fp}")
        trt_version_code(self.trt_version)


@dataclass
class CalibrationResult:
    """What :func:`calibrate` wrote: ``files`` by role, the report, and wall times (not stored)."""

    output_dir: Path
    files: dict[str, Path]
    report: dict
    timings: dict[str, float] = field(default_factory=dict)


def input_means(stats, layers) -> dict:
    """Per-channel means of the layers' inputs (for the bias correction)."""
    return {l.input: stats[l.input].channel_mean for l in layers
            if l.input in stats and stats[l.input].channel_mean is not None}


def load_fp32_model(path) -> tuple[onnx.ModelProto, object]:
    """Load and validate an FP32 model that carries the contract; returns (shape-inferred model, contract).

    Raises:
        UsageError: not ONNX, not one image input, no metadata (the message names ``adopt``),
            or already quantized.
    """
    contract = read_contract(path)
    contract.require_preprocessing()
    if contract.kind == "qdq":
        raise UsageError(f"{path} is already quantized; calibrate the FP32 model from `xnet-edge export` "
                         "or `xnet-edge adopt`")
    return onnx.shape_inference.infer_shapes(onnx.load(str(path))), contract


def _versions() -> dict:
    ort = require("onnxruntime")
    return {"xnet_edge": __version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _annotate(model: onnx.ModelProto, info: dict) -> onnx.ModelProto:
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != QUANT_KEY]
    del model.metadata_props[:]
    for key, value in kept + [(QUANT_KEY, json.dumps(info, sort_keys=True))]:
        model.metadata_props.add(key=key, value=value)
    return model


def _write_model(path: Path, model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model)
    write_bytes_atomic(path, model.SerializeToString())


def _tensor_table(stats, amax) -> dict:
    return {name: {"min": st.min, "max": st.max, "amax": amax[name], "scale": amax[name] / INT8_MAX,
                   "nonnegative": st.nonnegative} for name, st in stats.items()}


def _layer_table(layers, plans: dict[str, QuantPlan]) -> list[dict]:
    quantized = {engine: {l.node for l in plan.layers} for engine, plan in plans.items()}
    return [{"node": l.node, "module": l.module, "kind": l.kind, "op_type": l.op_type, "macs": l.macs,
             "input": l.input, "quantized": {e: l.node in q for e, q in quantized.items()}} for l in layers]


def calibrate(onnx_path, images: ImageSource, output_dir, options: Optional[CalibrationOptions] = None,
              **overrides) -> CalibrationResult:
    """Calibrate an FP32 xnet-edge ONNX model and write every INT8 artifact.

    Args:
        onnx_path: the FP32 model from ``xnet-edge export``.
        images: ``"builtin"``, an image folder, a video file, or arrays.
        output_dir: the folder to write (created when the work succeeds; existing files with the
            same names are replaced, others kept).
        options: a :class:`CalibrationOptions`; ``overrides`` set individual fields.

    Returns:
        A :class:`CalibrationResult`.

    Raises:
        UsageError: bad model, images or options.
        OutputError: ``output_dir`` cannot be written.
    """
    options = options or CalibrationOptions()
    if overrides:
        options = CalibrationOptions(**{**options.__dict__, **overrides})
    options.validate()
    check_writable(output_dir, "--output", is_dir=True)
    timings = {}
    start = time.perf_counter()
    model, contract = load_fp32_model(onnx_path)
    data = calibration_inputs(images, contract.preprocessing, num_images=options.num_images, seed=options.seed, min_images=options.min_images)
    stats = collect_statistics(model, data.tensors, histograms=options.method != "max", progress=options.progress)
    timings["statistics_s"] = time.perf_counter() - start
    amax = {name: compute_amax(st, options.method, options.percentile) for name, st in stats.items()}
    timings["calibration_s"] = time.perf_counter() - start
    index = GraphIndex(model)
    layers = find_layers(model, index)
    ranking = None
    if options.sensitivity or options.keep_fp:
        t0 = time.perf_counter()
        ranking = layer_sensitivity(model, layers, amax, data.tensors[: options.sensitivity_images],
                                    progress=options.progress)
        timings["sensitivity_s"] = time.perf_counter() - t0
    keep = [r.node for r in ranking[: options.keep_fp]] if ranking else []
    chosen = select_layers(layers, keep_float=keep)
    means = input_means(stats, chosen) if options.bias_correction else None
    speed = None
    if options.speed_check:
        t0 = time.perf_counter()
        graph_inputs = {i.name for i in model.graph.input}  # the CPU graph keeps layers reading them float
        cpu_layers = [l for l in chosen if l.input not in graph_inputs]
        speed = choose_cpu_layers(model, cpu_layers, lambda subset: _qdq_graph(
            make_plan("onnxruntime", model, subset, amax, stats, index), model, means), data.tensors[0])
        timings["speed_check_s"] = time.perf_counter() - t0
    plans = {"tensorrt": make_plan("tensorrt", model, chosen, amax, stats, index),
             "onnxruntime": make_plan("onnxruntime", model, speed.layers if speed else chosen, amax, stats, index)}
    output_dir = Path(output_dir)
    files = {role: output_dir / name for role, name in FILES.items()}
    quant_info = {"method": options.method, "data_fingerprint": data.fingerprint, "keep_fp": keep,
                  "bias_correction": options.bias_correction}
    with atomic_dir(output_dir, merge=True) as tmp:
        for engine, plan in plans.items():
            _write_model(tmp / FILES[engine], _annotate(_qdq_graph(plan, model, means), {**quant_info, **plan.summary()}))
        if options.fp16:
            _write_model(tmp / FILES["fp16"], _annotate(convert_fp16(model), {"precision": "fp16"}))
        else:
            files.pop("fp16")
        scales = {name: amax[name] / INT8_MAX for name in stats}
        write_bytes_atomic(tmp / FILES["cache"], format_trt_cache(scales, options.trt_version).encode())
        report = _report(onnx_path, contract, options, data, stats, amax, layers, plans, ranking, keep)
        report["cpu_speed"] = speed.to_dict() if speed else None
        if options.evaluate:
            t0 = time.perf_counter()
            report["eval"] = _evaluate(onnx_path, tmp, contract, options)
            timings["eval_s"] = time.perf_counter() - t0
        report["artifacts"] = {FILES[r]: {"role": r, "sha256": sha256_file(tmp / FILES[r])}
                               for r in files if r != "report"}
        write_bytes_atomic(tmp / FILES["report"], (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    timings["total_s"] = time.perf_counter() - start
    return CalibrationResult(output_dir, files, report, timings)


def _qdq_graph(plan: QuantPlan, model: onnx.ModelProto, means) -> onnx.ModelProto:
    return write_qdq_model(model, plan.activations, plan.layers, quantize_bias=plan.quantize_bias, input_means=means)


def _report(onnx_path, contract, options, data, stats, amax, layers, plans, ranking, keep) -> dict:
    return {
        "format": "xnet-edge-calibration", "format_version": 1,
        "versions": _versions(),
        "model": {"file": Path(onnx_path).name, "sha256": sha256_file(onnx_path),
                  "input_size": list(contract.input_size), "output": contract.output_name,
                  "output_kind": contract.output_kind},
        "method": options.method,
        "method_options": {"bins": NUM_BINS, "percentile": options.percentile if options.method == "percentile"
                           else None, "activations": "per-tensor symmetric INT8 (scale = amax / 127)",
                           "weights": "per-channel symmetric INT8",
                           "bias_correction": options.bias_correction},
        "trt_cache": {"version": trt_version_code(options.trt_version), "algorithm": "EntropyCalibration2"},
        "data": data.to_dict(),
        "engines": {engine: plan.summary() for engine, plan in plans.items()},
        "tensors": _tensor_table(stats, amax),
        "layers": _layer_table(layers, plans),
        "sensitivity": [dict(r.to_dict(), rank=i + 1) for i, r in enumerate(ranking)] if ranking else None,
        "keep_fp": keep,
        "eval": None,
    }


def _evaluate(onnx_path, folder: Path, contract, options) -> dict:
    from .accuracy import evaluate_models

    quantized = {"int8_tensorrt": str(folder / FILES["tensorrt"]), "int8_cpu": str(folder / FILES["onnxruntime"])}
    if options.fp16:
        quantized["fp16"] = str(folder / FILES["fp16"])
    from ..eval import default_alignment

    align = options.eval_align if contract.output.is_metric or contract.task != "depth" \
        else default_alignment(contract.output_kind)  # relative outputs: their standard alignment
    return evaluate_models(str(onnx_path), quantized, contract.preprocessing, task=contract.task,
                           max_depth=contract.max_depth, align=align)
