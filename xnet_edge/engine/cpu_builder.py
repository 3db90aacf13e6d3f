"""The cpu target: ONNX Runtime applies its graph optimizations once and saves the result.

The saved, optimized model *is* the cpu engine (``model.opt.onnx``): loading it
skips the optimization passes, and it records exactly the graph that runs. The
default level is ORT_ENABLE_EXTENDED (fusions that stay valid on any CPU);
ORT_ENABLE_ALL adds NCHWc layouts tied to this CPU's vector width. A Q/DQ input
stays a Q/DQ graph that ONNX Runtime executes with INT8 kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._deps import require
from ..errors import XnetEdgeError
from .plan import CpuBuildPlan


class CpuBuildError(XnetEdgeError):
    """ONNX Runtime could not load or optimize the model."""


def optimize_for_cpu(onnx_path: str | os.PathLike, out_path: str | os.PathLike, plan: CpuBuildPlan) -> Path:
    """Run ONNX Runtime's offline graph optimization and save the optimized model.

    Args:
        onnx_path: the input model.
        out_path: where the optimized model goes (the caller makes it atomic).
        plan: optimization level, threads and providers.

    Returns:
        ``out_path``.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
        CpuBuildError: ONNX Runtime rejected the model or wrote nothing.
    """
    ort = require("onnxruntime")
    out_path = Path(out_path)
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, plan.graph_optimization_level)
    options.optimized_model_filepath = str(out_path)
    options.intra_op_num_threads = int(plan.intra_op_num_threads)
    if plan.graph_optimization_level == "ORT_ENABLE_ALL":
        options.log_severity_level = 3  # its "hardware specific" warning is already a plan note
    try:
        ort.InferenceSession(str(onnx_path), options, providers=list(plan.providers))
    except Exception as exc:  # ORT raises several private exception types for bad graphs
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CpuBuildError(f"ONNX Runtime could not load {Path(onnx_path).name}: {first[:300]}") from None
    if not out_path.is_file() or out_path.stat().st_size == 0:
        raise CpuBuildError(f"ONNX Runtime did not write the optimized model to {out_path}")
    return out_path


def smoke_test(model_path: str | os.PathLike, input_name: str, input_shape, threads: int = 0) -> dict:
    """Load the optimized model and run it once on zeros: proves it loads and gives the output shapes.

    Args:
        model_path: the optimized model.
        input_name, input_shape: the image input and a concrete (N,3,H,W) shape.
        threads: intra-op threads.

    Returns:
        ``{output name: shape}``.

    Raises:
        CpuBuildError: the optimized model does not load or run.
    """
    import numpy as np

    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        results = session.run(names, {input_name: np.zeros(tuple(input_shape), np.float32)})
    except Exception as exc:  # see optimize_for_cpu
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CpuBuildError(f"the optimized model does not run: {first[:300]}") from None
    return {name: list(value.shape) for name, value in zip(names, results)}
