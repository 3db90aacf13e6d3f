"""Run the FP32 model in ONNX Runtime with every activation exposed, and gather range statistics."""

from __future__ import annotations

import time
from typing import Iterable, Optional, Sequence

import numpy as np
import onnx

from .._deps import require
from .graph import float_activations
from .observers import NUM_BINS, StatsCollector, TensorStats


def expose_tensors(model: onnx.ModelProto, names: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``model`` whose graph outputs also include the tensors ``names``."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    existing = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in existing:
            exposed.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return exposed


def make_session(model: onnx.ModelProto | bytes | str, threads: Optional[int] = None, optimize: bool = True):
    """An ONNX Runtime CPU session: all graph optimizations, or only the basic ones with ``optimize=False``."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def collect_statistics(model: onnx.ModelProto, inputs: Iterable[np.ndarray], *, input_name: Optional[str] = None,
                       tensors: Optional[Sequence[str]] = None, bins: int = NUM_BINS,
                       histograms: bool = True, progress: bool = False,
                       timings: Optional[dict] = None) -> dict[str, TensorStats]:
    """Range statistics of activation tensors over the calibration inputs.

    Two passes over ``inputs``: signed min/max, then ``|x|`` histograms over
    ``[0, absmax]`` (see :class:`~xnet_edge.calibration.observers.StatsCollector`).

    Args:
        model: the FP32 model (with shape information).
        inputs: network inputs, each (N, 3, H, W) float32.
        input_name: the graph input to feed (default: the model's only input).
        tensors: tensors to observe (default: every float activation).
        bins: histogram bins.
        histograms: run pass 2 (not needed by the ``max`` method).
        progress: show a progress bar.
        timings: if given, receives ``pass1_s`` and ``pass2_s`` (seconds).

    Returns:
        ``{tensor name: TensorStats}`` in graph order.
    """
    from tqdm import tqdm

    names = list(tensors) if tensors is not None else float_activations(model)
    session = make_session(expose_tensors(model, names), optimize=False)
    input_name = input_name or session.get_inputs()[0].name
    collector = StatsCollector(bins)
    inputs = list(inputs)
    passes = (collector.observe_range, collector.observe_hist) if histograms else (collector.observe_range,)
    for pass_no, observe in enumerate(passes, start=1):
        start = time.perf_counter()
        for x in tqdm(inputs, desc=f"calibration pass {pass_no}/{len(passes)}", unit="img", disable=not progress,
                      leave=False):
            values = session.run(names, {input_name: x})
            for name, value in zip(names, values):
                observe(name, value)
        if timings is not None:
            timings[f"pass{pass_no}_s"] = time.perf_counter() - start
    return {name: collector.stats[name] for name in names}
