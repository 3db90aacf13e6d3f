"""What an input ONNX model is: I/O tensors, xnet-edge metadata, and its precision kind.

The build decisions depend on the model's *kind*:

* ``"qdq"``  — it holds QuantizeLinear/DequantizeLinear (explicit INT8 quantization);
* ``"fp16"`` — float16 weights or I/O (a model cast for strongly typed FP16 builds);
* ``"fp32"`` — everything else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .._deps import require
from ..errors import UsageError

CONFIG_KEY = "xnet_edge.config"
PREPROCESSING_KEY = "xnet_edge.preprocessing"
_QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"}


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: ``shape`` uses -1 for a dynamic dimension."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        """Indices of the dynamic dimensions."""
        return tuple(i for i, d in enumerate(self.shape) if d < 0)

    def to_dict(self) -> dict:
        """``{"name", "shape", "dtype"}`` as the manifest stores it."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class OnnxModelInfo:
    """Summary of an ONNX file, enough to plan a build and write a manifest."""

    path: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    kind: str
    opset: int
    num_nodes: int
    config: dict = field(default_factory=dict)
    preprocessing: Optional[dict] = None

    @property
    def image_input(self) -> TensorSpec:
        """The network's (only) image input."""
        return self.inputs[0]


def inspect_onnx(path: str | os.PathLike) -> OnnxModelInfo:
    """Read an ONNX file's structure and metadata (weights are loaded but not kept).

    Args:
        path: the ONNX file.

    Returns:
        An :class:`OnnxModelInfo`.

    Raises:
        UsageError: the file is missing, not an ONNX model, fails the ONNX checker,
            or does not have exactly one 4-D image input.
    """
    onnx = require("onnx")
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"ONNX model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
        if not _uses_external_data(model, onnx):
            onnx.checker.check_model(model)
    except Exception as exc:  # protobuf/checker errors have many types; all mean "not a usable ONNX file"
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"{path} is not a valid ONNX model: {first_line[:200]}") from None
    if not model.graph.node or not model.graph.output:
        raise UsageError(f"{path} is not a valid ONNX model: the graph is empty")
    if _uses_external_data(model, onnx):
        raise UsageError(f"{path} keeps its weights in external files; save it as one file "
                         "(onnx.save(model, path, save_as_external_data=False)) so the engine folder is complete")
    initializers = {t.name for t in model.graph.initializer}
    inputs = tuple(_spec(v, onnx) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_spec(v, onnx) for v in model.graph.output)
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        found = ", ".join(f"{t.name}{list(t.shape)}" for t in inputs) or "none"
        raise UsageError(f"{path}: expected one image input (N,3,H,W), found: {found}")
    props = {p.key: p.value for p in model.metadata_props}
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return OnnxModelInfo(path=path, inputs=inputs, outputs=outputs, kind=_model_kind(model, onnx),
                         opset=int(opset), num_nodes=len(model.graph.node),
                         config=_json_prop(props, CONFIG_KEY, path) or {},
                         preprocessing=_json_prop(props, PREPROCESSING_KEY, path))


def _uses_external_data(model, onnx) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def _spec(value_info, onnx) -> TensorSpec:
    ttype = value_info.type.tensor_type
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in ttype.shape.dim)
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(ttype.elem_type).name
    except (KeyError, TypeError, ValueError):
        dtype = onnx.TensorProto.DataType.Name(ttype.elem_type).lower()
    return TensorSpec(value_info.name, shape, dtype)


def _model_kind(model, onnx) -> str:
    if any(node.op_type in _QUANT_OPS for node in model.graph.node):
        return "qdq"
    fp16 = onnx.TensorProto.FLOAT16
    if any(t.data_type == fp16 for t in model.graph.initializer) or any(
            v.type.tensor_type.elem_type == fp16 for v in (*model.graph.input, *model.graph.output)):
        return "fp16"
    return "fp32"


def _json_prop(props: dict, key: str, path: Path) -> Optional[dict]:
    if key not in props:
        return None
    try:
        value = json.loads(props[key])
    except json.JSONDecodeError:
        raise UsageError(f"{path}: metadata {key!r} is not valid JSON") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path}: metadata {key!r} must be a JSON object")
    return value


def resolve_preprocessing(info: OnnxModelInfo) -> dict:
    """The preprocessing block for the manifest, from the ONNX metadata.

    Raises:
        UsageError: the model has no ``xnet_edge.preprocessing`` metadata, or its
            input size disagrees with a static input shape.
    """
    pre = info.preprocessing
    if not pre or not {"input_size", "mean", "std"} <= set(pre):
        raise UsageError(f"{info.path} has no '{PREPROCESSING_KEY}' metadata (input_size, mean, std): "
                         "export it with `xnet-edge export` so every backend preprocesses the same way")
    h, w = (int(v) for v in pre["input_size"])
    sh, sw = info.image_input.shape[2:]
    if (sh > 0 and sh != h) or (sw > 0 and sw != w):
        raise UsageError(f"{info.path}: metadata input_size {h}x{w} does not match the input shape "
                         f"{list(info.image_input.shape)}")
    return {"resize": "letterbox", "pad": "bottom-right", **pre, "input_size": [h, w]}
