"""INT8 range calibration, Q/DQ ONNX writing and TensorRT caches (installed as ``xnet_edge.calibration``).

    from xnet_edge.calibration import calibrate, read_trt_cache
    result = calibrate("model.onnx", "builtin", "int8/", method="entropy")
    header, scales = read_trt_cache("int8/calibration.cache")

Submodules load on first use: the TensorRT cache reader needs only the standard
library, the rest needs onnx (and onnxruntime to run models).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "calibrate": "pipeline", "CalibrationOptions": "pipeline", "CalibrationResult": "pipeline",
    "read_trt_cache": "trt_cache", "write_trt_cache": "trt_cache", "parse_trt_cache": "trt_cache",
    "format_trt_cache": "trt_cache", "trt_version_code": "trt_cache",
    "TensorStats": "observers", "StatsCollector": "observers", "compute_amax": "observers", "METHODS": "observers",
    "calibration_inputs": "calibration_images", "load_images": "calibration_images",
    "builtin_images": "calibration_images", "CalibrationSet": "calibration_images",
    "CalibrationDataWarning": "calibration_images",
    "collect_statistics": "collect", "find_layers": "graph", "write_qdq_model": "qdq", "make_plan": "placement",
    "convert_fp16": "fp16", "layer_sensitivity": "sensitivity", "evaluate_models": "accuracy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xnet_edge.calibration' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
