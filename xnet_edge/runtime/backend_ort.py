"""ONNX Runtime backend: CPU by default, CUDA / TensorRT execution providers when present.

Never imports torch. ``onnxruntime`` is imported when a backend is created.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError
from ..limits import check_threads
from .backend import Backend
from ..contract import parse_metadata
from .runtime_options import ort_level_name, provider_name
from .spec import TensorSpec, normalize_shape
from .timing import HookList

#: preference order when providers="auto"
AUTO_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
              "tensor(int8)": np.int8, "tensor(bool)": np.bool_}


def resolve_providers(requested: Optional[Sequence[str] | str], available: Sequence[str],
                      strict: bool = True) -> list[str]:
    """Turn user provider names into the list ONNX Runtime takes.

    Args:
        requested: None or "cpu" (CPU only), "auto" (TensorRT > CUDA > CPU among the available
            ones), or names/aliases ("cuda", "tensorrt", "CUDAExecutionProvider", ...).
        available: ``onnxruntime.get_available_providers()``.
        strict: raise when a requested provider is not available (False drops it with a warning,
            used for providers recorded in a manifest on another machine).

    Returns:
        Provider names, always ending with CPUExecutionProvider as the fallback.

    Raises:
        UsageError: an unknown name, or (strict) one this onnxruntime build lacks.
    """
    if requested is None:
        requested = ["cpu"]
    elif isinstance(requested, str):
        requested = [p.strip() for p in requested.split(",") if p.strip()]
    if list(requested) == ["auto"]:
        return [p for p in AUTO_ORDER if p in available] or ["CPUExecutionProvider"]
    chosen = []
    for name in requested:
        full = provider_name(name)
        if full not in available:
            msg = (f"{full} is not available in this onnxruntime (available: {', '.join(available)})"
                   + ("; install onnxruntime-gpu for CUDA/TensorRT" if full != "CPUExecutionProvider" else ""))
            if strict:
                raise UsageError(msg)
            warnings.warn(msg + "; skipping it", RuntimeWarning, stacklevel=3)
            continue
        if full not in chosen:
            chosen.append(full)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def optimization_level(ort, name: Optional[str]):
    """``onnxruntime.GraphOptimizationLevel`` of "all" / "ORT_ENABLE_ALL" / ... (None: ORT's default).

    Raises:
        UsageError: an unknown level (:func:`~.options.ort_level_name`).
    """
    return None if name is None else getattr(ort.GraphOptimizationLevel, ort_level_name(name))


def _open_session(ort, path, options, providers):
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
        if type(exc).__name__ in ("InvalidProtobuf", "InvalidGraph"):  # the file itself: as build/calibrate say
            raise UsageError(f"{path} is not an ONNX model (or is corrupt): {_first_line(exc)}") from None
        raise XnetEdgeError(f"ONNX Runtime cannot load {path}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


class OnnxRuntimeBackend(Backend):
    """Runs an ONNX model with ONNX Runtime.

    Args:
        path: the ``.onnx`` file.
        providers: see :func:`resolve_providers`.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        graph_optimization_level: "all", "extended", "basic", "disable_all" (None: ORT's default).
        strict_providers: raise if a requested provider is missing (else skip it).
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, providers=None, threads: Optional[int] = None,
                 graph_optimization_level: Optional[str] = None, strict_providers: bool = True):
        ort = require("onnxruntime")
        self.path = Path(path)
        check_threads(threads, "threads")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        level = optimization_level(ort, graph_optimization_level)
        if level is not None:
            options.graph_optimization_level = level
        chosen = resolve_providers(providers, ort.get_available_providers(), strict=strict_providers)
        self._session = _open_session(ort, self.path, options, chosen)
        self.providers = list(self._session.get_providers())
        self.threads = threads
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.inputs = [self._spec(t, True) for t in self._session.get_inputs()]
        self.outputs = [self._spec(t, False) for t in self._session.get_outputs()]
        self._input_dtype = self.input.dtype
        self._output_name = self.output.name
        self.version = ort.__version__

    @staticmethod
    def _spec(node, is_input: bool) -> TensorSpec:
        dtype = _ORT_TYPES.get(node.type)
        if dtype is None:
            raise XnetEdgeError(f"tensor {node.name!r} has type {node.type}, which this runtime does not handle")
        return TensorSpec(node.name, normalize_shape(node.shape), np.dtype(dtype), is_input)

    @property
    def session(self):
        """The open ``onnxruntime.InferenceSession`` (its ``get_session_options()``, ``get_providers()``)."""
        if self._session is None:
            raise XnetEdgeError("this ONNX Runtime backend is closed")
        return self._session

    def contract_parts(self) -> dict:
        """The contract blocks of the model's metadata (see :func:`xnet_edge.contract.parse_metadata`)."""
        return parse_metadata(self.metadata, str(self.path))

    def run(self, batch: np.ndarray, hooks: HookList) -> np.ndarray:
        feed = {self.input.name: np.ascontiguousarray(batch, dtype=self._input_dtype)}
        start = time.perf_counter()
        try:
            (out,) = self._session.run([self._output_name], feed)
        except Exception as exc:  # ORT's own error types; report them as ours
            raise XnetEdgeError(f"ONNX Runtime failed on a {tuple(batch.shape)} batch: "
                                f"{str(exc).strip().splitlines()[0][:300]}") from None
        if hooks:
            hooks.emit("compute", time.perf_counter() - start)
        return np.asarray(out, dtype=np.float32)

    def describe(self) -> dict:
        return {"backend": self.name, "onnxruntime": self.version, "providers": self.providers,
                "threads": self.threads, "file": str(self.path)}

    def close(self) -> None:
        self._session = None
