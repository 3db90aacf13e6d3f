"""The xnet-edge ONNX contract, in one place: what a model file must say about itself.

Every command reads a model through :func:`read_contract` (an ONNX file) or
:func:`contract_from_parts` (an engine manifest, ONNX Runtime's metadata map, a
checkpoint config); ``export`` and ``adopt`` write it with :func:`write_metadata`.

The contract:

* one image input, (N, 3, H, W) float (``image`` for ×Net exports);
* one primary output: ``depth`` (N, 1, H, W) / (N, H, W), or ``logits`` (N, K, H, W);
  other names are accepted when the model has a single output;
* metadata ``xnet_edge.preprocessing`` — ``input_size``, ``mean``, ``std`` (0..1 units),
  ``scale`` (1: the network takes 0..1 values, 255: 0..255), ``channels`` (``rgb`` or
  ``bgr``), ``multiple`` (H and W must be multiples of it), ``resize``, ``pad``;
* metadata ``xnet_edge.output`` — ``kind`` (:data:`OUTPUT_KINDS`), ``num_classes``,
  ``max_depth``;
* metadata ``xnet_edge.config`` — the ×Net config (empty for an adopted model);
* metadata ``xnet_edge.quantization`` — written by ``calibrate`` on Q/DQ graphs; its
  ``engine`` says which engine the graph is for (:data:`QDQ_FILES`).

Files exported before ``xnet_edge.output`` existed read as ``metric-depth`` with the
config's ``max_depth`` (``segmentation`` for a segmentation config).

Pure Python + numpy; ``onnx`` is imported only by :func:`read_contract`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .errors import ContractError, InputSizeError

INPUT_NAME = "image"
CONFIG_KEY = "xnet_edge.config"
PREPROCESSING_KEY = "xnet_edge.preprocessing"
OUTPUT_KEY = "xnet_edge.output"
QUANT_KEY = "xnet_edge.quantization"
METADATA_KEYS = (CONFIG_KEY, PREPROCESSING_KEY, OUTPUT_KEY, QUANT_KEY)

#: Names the contract gives the primary output, in order of preference.
PRIMARY_OUTPUTS = ("depth", "logits")
#: Ops that make a graph a quantized (Q/DQ or QOperator) model.
QUANT_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
                       "MatMulInteger", "DynamicQuantizeLinear"})
#: What the primary output means. Depth kinds are one channel; segmentation is K class logits.
OUTPUT_KINDS = ("metric-depth", "relative-depth", "inverse-depth", "disparity", "segmentation")
DEPTH_KINDS = OUTPUT_KINDS[:4]
#: Depth kinds without a metric scale: aligned to ground truth before any metric is computed.
RELATIVE_KINDS = ("relative-depth", "inverse-depth", "disparity")
#: The file ``calibrate`` writes for each engine's Q/DQ graph.
QDQ_FILES = {"tensorrt": "model.int8.onnx", "onnxruntime": "model.int8.cpu.onnx"}
SCALES = (1.0, 255.0)
CHANNEL_ORDERS = ("rgb", "bgr")
_RESIZE_MODES = ("letterbox",)
_PAD_MODES = ("bottom-right",)
ADOPT_HINT = "run `xnet-edge adopt MODEL.onnx -o ADOPTED.onnx --output-kind ... --mean ... --std ...` first"


@dataclass(frozen=True)
class TensorSpec:
    """One network input or output.

    Attributes:
        name: tensor name ("image", "depth", ...).
        shape: dimensions; -1 marks a dynamic one.
        dtype: numpy dtype (any value ``np.dtype`` accepts is normalized to one).
        is_input: True for inputs.
    """

    name: str
    shape: tuple[int, ...]
    dtype: Any = np.float32
    is_input: bool = True

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def is_dynamic(self) -> bool:
        """True if any dimension is dynamic."""
        return any(d < 0 for d in self.shape)

    @property
    def dynamic_axes(self) -> tuple[int, ...]:
        """Indices of the dynamic dimensions."""
        return tuple(i for i, d in enumerate(self.shape) if d < 0)

    def to_dict(self) -> dict:
        """``{"name", "shape", "dtype"}`` as a manifest stores it."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name}


@dataclass(frozen=True)
class Preprocessing:
    """How images become network inputs (the ``xnet_edge.preprocessing`` block).

    The network input is ``scale * (rgb / 255 - mean) / std`` in ``channels`` order.

    Attributes:
        input_size: network input (H, W).
        mean, std: per-channel normalization in 0..1 units, R, G, B order.
        resize: only "letterbox" (keep aspect, fit inside the input).
        pad: only "bottom-right".
        scale: 1 (the network takes 0..1 values) or 255 (0..255).
        channels: "rgb" or "bgr".
        multiple: H and W must be multiples of it (None: no constraint known).
    """

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "letterbox"
    pad: str = "bottom-right"
    scale: float = 1.0
    channels: str = "rgb"
    multiple: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "preprocessing") -> "Preprocessing":
        """Build from the contract's dict, checking every field.

        Raises:
            ContractError: a field is missing or has a value this project cannot honour.
        """
        try:
            size = tuple(int(v) for v in data["input_size"])
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
            scale = float(data.get("scale", 1.0))
            multiple = None if data.get("multiple") is None else int(data["multiple"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"{where}: needs input_size [H, W], mean [3] and std [3] ({exc!r})") from None
        if len(size) != 2 or min(size) <= 0 or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ContractError(f"{where}: bad values input_size={size} mean={mean} std={std}")
        resize, pad = data.get("resize", "letterbox"), data.get("pad", "bottom-right")
        if resize not in _RESIZE_MODES or pad not in _PAD_MODES:
            raise ContractError(f"{where}: resize={resize!r} pad={pad!r} is not supported; xnet-edge "
                                f"does resize={_RESIZE_MODES[0]!r} with pad={_PAD_MODES[0]!r}")
        channels = str(data.get("channels", "rgb")).lower()
        if scale not in SCALES or channels not in CHANNEL_ORDERS or (multiple is not None and multiple < 1):
            raise ContractError(f"{where}: scale must be 1 or 255, channels rgb or bgr, multiple >= 1 "
                                f"(got scale={scale:g}, channels={channels!r}, multiple={multiple})")
        return cls(size, mean, std, resize, pad, scale, channels, multiple)

    def with_input_size(self, size: Optional[Sequence[int]]) -> "Preprocessing":
        """A copy with another network input size (None keeps this one).

        Raises:
            InputSizeError: the size is not positive or breaks ``multiple``.
        """
        if size is None:
            return self
        hw = tuple(int(v) for v in size)
        if len(hw) != 2 or min(hw) <= 0:
            raise InputSizeError(f"input size must be (H, W) with positive values, got {size!r}")
        if self.multiple:
            from .preprocess import check_input_size

            check_input_size(hw[0], hw[1], self.multiple)
        return replace(self, input_size=hw)

    def round_input_size(self, size: Sequence[int]) -> tuple[int, int]:
        """The size nearest to ``size`` that this model takes: each side rounded to ``multiple``
        (at least one multiple); unchanged when the multiple is unknown.

        Raises:
            InputSizeError: the size is not two positive values.
        """
        hw = tuple(int(v) for v in size)
        if len(hw) != 2 or min(hw) <= 0:
            raise InputSizeError(f"input size must be (H, W) with positive values, got {size!r}")
        if not self.multiple:
            return hw[0], hw[1]
        from .preprocess import nearest_valid_size

        return nearest_valid_size(hw[0], hw[1], self.multiple)

    def apply(self, image: np.ndarray):
        """Preprocess one image: ``(tensor (1, 3, H, W) float32, Letterbox)``."""
        from .preprocess import preprocess

        return preprocess(image, self.input_size, self.mean, self.std, scale=self.scale, channels=self.channels)

    def to_dict(self) -> dict:
        """The contract's JSON-friendly dict."""
        out = {"input_size": list(self.input_size), "mean": list(self.mean), "std": list(self.std),
               "resize": self.resize, "pad": self.pad, "scale": self.scale, "channels": self.channels}
        if self.multiple is not None:
            out["multiple"] = self.multiple
        return out


@dataclass(frozen=True)
class OutputSemantics:
    """What the primary output means (the ``xnet_edge.output`` block).

    Attributes:
        kind: one of :data:`OUTPUT_KINDS`.
        num_classes: K for segmentation (None when unknown).
        max_depth: range in metres of a metric-depth model (None when unknown).
    """

    kind: str = "metric-depth"
    num_classes: Optional[int] = None
    max_depth: Optional[float] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "output") -> "OutputSemantics":
        """Build from the contract's dict.

        Raises:
            ContractError: unknown kind or a bad value.
        """
        kind = data.get("kind")
        if kind not in OUTPUT_KINDS:
            raise ContractError(f"{where}: output kind {kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
        try:
            k = None if data.get("num_classes") is None else int(data["num_classes"])
            md = None if data.get("max_depth") is None else float(data["max_depth"])
        except (TypeError, ValueError):
            raise ContractError(f"{where}: num_classes must be an integer and max_depth a number") from None
        if (k is not None and k < 2) or (md is not None and not md > 0):
            raise ContractError(f"{where}: num_classes must be >= 2 and max_depth > 0 (got {k}, {md})")
        return cls(kind, k if kind == "segmentation" else None, md if kind != "segmentation" else None)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], output_name: str = "depth") -> "OutputSemantics":
        """The meaning of an output from a ×Net config (files exported before ``xnet_edge.output``)."""
        task = config.get("task") or ("segmentation" if output_name == "logits" else "depth")
        if task == "segmentation":
            k = config.get("num_classes")
            return cls("segmentation", int(k) if k else None, None)
        md = config.get("max_depth")
        return cls("metric-depth", None, float(md) if md is not None else None)

    @property
    def task(self) -> str:
        """``"segmentation"`` or ``"depth"``."""
        return "segmentation" if self.kind == "segmentation" else "depth"

    @property
    def is_metric(self) -> bool:
        """True for metric depth (metres)."""
        return self.kind == "metric-depth"

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.num_classes is not None:
            out["num_classes"] = self.num_classes
        if self.max_depth is not None:
            out["max_depth"] = self.max_depth
        return out


@dataclass(frozen=True)
class Contract:
    """A model's contract as read from its file, manifest or runtime metadata.

    Attributes:
        where: what it was read from (for messages).
        inputs, outputs: every graph input (the image input first) and output.
        output_name: the primary output's name.
        preprocessing: a :class:`Preprocessing`, or None when the file carries none.
        output: an :class:`OutputSemantics`.
        config: the ×Net config dict ({} for adopted models).
        quantization: the ``xnet_edge.quantization`` block, or None.
        kind: ``"qdq"``, ``"fp16"`` or ``"fp32"`` (ONNX files only, else None).
        opset, num_nodes: ONNX files only.
        path: the ONNX file, when read from one.
    """

    where: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    output_name: str
    preprocessing: Optional[Preprocessing]
    output: OutputSemantics
    config: dict = field(default_factory=dict)
    quantization: Optional[dict] = None
    kind: Optional[str] = None
    opset: int = 0
    num_nodes: int = 0
    path: Optional[Path] = None

    @property
    def image_input(self) -> TensorSpec:
        """The (only) image input."""
        return self.inputs[0]

    @property
    def input_name(self) -> str:
        return self.inputs[0].name

    @property
    def primary_output(self) -> TensorSpec:
        return next(o for o in self.outputs if o.name == self.output_name)

    @property
    def output_kind(self) -> str:
        return self.output.kind

    @property
    def num_classes(self) -> Optional[int]:
        return self.output.num_classes

    @property
    def max_depth(self) -> Optional[float]:
        return self.output.max_depth

    @property
    def task(self) -> str:
        """``"segmentation"`` or ``"depth"``."""
        return self.output.task

    @property
    def qdq_engine(self) -> Optional[str]:
        """The engine a calibrated Q/DQ graph is for (``tensorrt`` / ``onnxruntime``), or None."""
        return (self.quantization or {}).get("engine")

    def require_preprocessing(self) -> Preprocessing:
        """The preprocessing block.

        Raises:
            ContractError: the model carries none (names ``adopt``).
        """
        if self.preprocessing is None:
            raise ContractError(f"{self.where} has no {PREPROCESSING_KEY!r} metadata (input size, mean, std); "
                                f"export it with `xnet-edge export`, or for a model from elsewhere {ADOPT_HINT}")
        return self.preprocessing

    @property
    def input_size(self) -> tuple[int, int]:
        return self.require_preprocessing().input_size

    @property
    def mean(self) -> tuple[float, float, float]:
        return self.require_preprocessing().mean

    @property
    def std(self) -> tuple[float, float, float]:
        return self.require_preprocessing().std

    def metadata(self) -> dict[str, str]:
        """The metadata entries that carry this contract (for :func:`write_metadata`)."""
        entries = {CONFIG_KEY: _dumps(self.config), OUTPUT_KEY: _dumps(self.output.to_dict())}
        if self.preprocessing is not None:
            entries[PREPROCESSING_KEY] = _dumps(self.preprocessing.to_dict())
        if self.quantization is not None:
            entries[QUANT_KEY] = _dumps(self.quantization)
        return entries


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


def primary_output(outputs: Sequence[TensorSpec]) -> TensorSpec:
    """The output a model is read for: "depth", else "logits", else the only one.

    Raises:
        ContractError: no outputs, or several without a contract name among them.
    """
    by_name = {o.name: o for o in outputs}
    for name in PRIMARY_OUTPUTS:
        if name in by_name:
            return by_name[name]
    if not outputs:
        raise ContractError("the model has no outputs")
    return outputs[0]


def check_output_shape(output: TensorSpec, semantics: OutputSemantics, where: str) -> None:
    """Refuse an output whose shape does not fit what it is declared to be.

    Depth kinds: (N, 1, H, W) or (N, H, W). Segmentation: (N, K, H, W) with K >= 2 (K ==
    ``num_classes`` when given). Dynamic dimensions pass.

    Raises:
        ContractError: the output is not dense, or its channels contradict its kind.
    """
    shape = output.shape
    if len(shape) not in (3, 4) or (all(d > 0 for d in shape[-2:]) and shape[-2] * shape[-1] == 1):
        raise ContractError(f"{where}: output {output.name!r} {list(shape)} is not a dense map "
                            "(expected (N, C, H, W) or (N, H, W))")
    channels = shape[1] if len(shape) == 4 else 1
    if semantics.kind in DEPTH_KINDS and channels > 1:
        raise ContractError(f"{where}: output {output.name!r} {list(shape)} has {channels} channels but is declared "
                            f"{semantics.kind}, which has one; declare --output-kind segmentation for class logits")
    if semantics.kind == "segmentation":
        if len(shape) == 3 or channels == 1:
            raise ContractError(f"{where}: output {output.name!r} {list(shape)} has one channel but is declared "
                                "segmentation, which needs one logit channel per class")
        if channels > 0 and semantics.num_classes is not None and channels != semantics.num_classes:
            raise ContractError(f"{where}: output {output.name!r} has {channels} channels but num_classes is "
                                f"{semantics.num_classes}")


def parse_metadata(props: Mapping[str, str], where: str) -> dict:
    """The JSON blocks of the contract's metadata keys: ``{"config", "preprocessing", "output",
    "quantization"}`` (None where absent).

    Raises:
        ContractError: a block is not a JSON object.
    """
    parts = {}
    for part, key in (("config", CONFIG_KEY), ("preprocessing", PREPROCESSING_KEY), ("output", OUTPUT_KEY),
                      ("quantization", QUANT_KEY)):
        text = props.get(key)
        if text is None:
            parts[part] = None
            continue
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            raise ContractError(f"{where}: metadata {key!r} is not valid JSON") from None
        if not isinstance(value, dict):
            raise ContractError(f"{where}: metadata {key!r} must be a JSON object")
        parts[part] = value
    return parts


def contract_from_parts(where: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], *,
                        preprocessing: Optional[Mapping] = None, output: Optional[Mapping] = None,
                        config: Optional[Mapping] = None, quantization: Optional[Mapping] = None,
                        kind: Optional[str] = None, opset: int = 0, num_nodes: int = 0,
                        path: Optional[Path] = None, check_shapes: bool = True) -> Contract:
    """Assemble and check a contract from its blocks (manifest, metadata map, checkpoint config).

    Args:
        where: what the contract was read from, for messages.
        inputs, outputs: the graph's tensors (initializers excluded).
        preprocessing, output, config, quantization: the metadata blocks (None where absent).
        kind, opset, num_nodes, path: ONNX file facts (see :class:`Contract`).
        check_shapes: check the input is (N, 3, H, W), its static H/W match the input size,
            and the output fits its declared kind.

    Returns:
        A :class:`Contract`.

    Raises:
        ContractError: not one image input, a malformed block, or an output that contradicts its kind.
    """
    inputs, outputs = tuple(inputs), tuple(outputs)
    if check_shapes and (len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] not in (3, -1)):
        found = ", ".join(f"{t.name}{list(t.shape)}" for t in inputs) or "none"
        raise ContractError(f"{where}: expected one image input (N, 3, H, W), found: {found}")
    pre = None if preprocessing is None else Preprocessing.from_dict(
        preprocessing, where=f"{where} metadata {PREPROCESSING_KEY!r}")
    config = dict(config or {})
    chosen = primary_output(outputs)
    semantics = (OutputSemantics.from_dict(output, where=f"{where} metadata {OUTPUT_KEY!r}") if output is not None
                 else OutputSemantics.from_config(config, chosen.name))
    if check_shapes:
        if pre is not None:
            h, w = pre.input_size
            sh, sw = inputs[0].shape[2:]
            if (sh > 0 and sh != h) or (sw > 0 and sw != w):
                raise ContractError(f"{where}: metadata input_size {h}x{w} does not match the input shape "
                                    f"{list(inputs[0].shape)}")
        check_output_shape(chosen, semantics, where)
    return Contract(where, inputs, outputs, chosen.name, pre, semantics, config,
                    dict(quantization) if quantization is not None else None, kind, opset, num_nodes, path)


def contract_from_metadata(props: Mapping[str, str], inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec],
                           where: str, **facts) -> Contract:
    """:func:`contract_from_parts` from a metadata map (ONNX ``metadata_props``, ONNX Runtime's
    ``custom_metadata_map``)."""
    return contract_from_parts(where, inputs, outputs, **parse_metadata(props, where), **facts)


def read_contract(path: str | os.PathLike, model_proto=None, *, check_shapes: bool = True) -> Contract:
    """Read the contract of an ONNX file.

    Args:
        path: the ONNX file.
        model_proto: the already loaded model (avoids reading the file twice).
        check_shapes: see :func:`contract_from_parts`.

    Returns:
        A :class:`Contract`; ``preprocessing`` is None when the file has no metadata (use
        :meth:`Contract.require_preprocessing` where it is needed).

    Raises:
        ContractError: missing file, not a valid ONNX model, weights in external files,
            not one image input, malformed metadata, or an output that contradicts its kind.
    """
    from ._deps import require

    onnx = require("onnx")
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"ONNX model not found: {path}")
    model = model_proto
    try:
        if model is None:
            model = onnx.load(str(path), load_external_data=False)
        if not _uses_external_data(model, onnx):
            onnx.checker.check_model(model)
    except Exception as exc:  # protobuf/checker errors have many types; all mean "not a usable ONNX file"
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ContractError(f"{path} is not a valid ONNX model: {first_line[:200]}") from None
    if not model.graph.node or not model.graph.output:
        raise ContractError(f"{path} is not a valid ONNX model: the graph is empty")
    if _uses_external_data(model, onnx):
        raise ContractError(f"{path} keeps its weights in external files; save it as one file "
                            "(onnx.save(model, path, save_as_external_data=False))")
    initializers = {t.name for t in model.graph.initializer}
    inputs = tuple(_spec(v, onnx, True) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_spec(v, onnx, False) for v in model.graph.output)
    props = {p.key: p.value for p in model.metadata_props}
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return contract_from_metadata(props, inputs, outputs, str(path), kind=model_kind(model),
                                  opset=int(opset), num_nodes=len(model.graph.node), path=path,
                                  check_shapes=check_shapes)


def write_metadata(model_proto, entries: Mapping[str, str]) -> None:
    """Set metadata entries on an ONNX model in place (replacing those with the same keys)."""
    kept = [(p.key, p.value) for p in model_proto.metadata_props if p.key not in entries]
    del model_proto.metadata_props[:]
    for key, value in [*kept, *entries.items()]:
        model_proto.metadata_props.add(key=key, value=value)


def model_kind(model_proto) -> str:
    """``"qdq"`` (quantization ops), ``"fp16"`` (float16 weights or I/O) or ``"fp32"``."""
    if any(node.op_type in QUANT_OPS for node in model_proto.graph.node):
        return "qdq"
    fp16 = 10  # onnx.TensorProto.FLOAT16
    if any(t.data_type == fp16 for t in model_proto.graph.initializer) or any(
            v.type.tensor_type.elem_type == fp16 for v in (*model_proto.graph.input, *model_proto.graph.output)):
        return "fp16"
    return "fp32"


def check_qdq_target(contract: Contract, gpu_target: bool, target_name: str) -> None:
    """Refuse to build a calibrated Q/DQ graph for the engine it was not made for.

    Raises:
        ContractError: the TensorRT graph for ``cpu``, or the ONNX Runtime CPU graph for a GPU target.
    """
    engine = contract.qdq_engine
    if contract.kind != "qdq" or engine not in QDQ_FILES:
        return
    wanted = "tensorrt" if gpu_target else "onnxruntime"
    if engine != wanted:
        label = {"tensorrt": "TensorRT", "onnxruntime": "ONNX Runtime CPU"}
        raise ContractError(f"{contract.where} is the {label[engine]} Q/DQ graph; for --target {target_name} "
                            f"build {QDQ_FILES[wanted]} from the same calibrate output folder")


def _uses_external_data(model, onnx) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def _spec(value_info, onnx, is_input: bool) -> TensorSpec:
    ttype = value_info.type.tensor_type
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in ttype.shape.dim)
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(ttype.elem_type)
    except (KeyError, TypeError, ValueError):
        dtype = np.float32
    return TensorSpec(value_info.name, shape, dtype, is_input)
