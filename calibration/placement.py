"""Where Q/DQ goes: one plan per engine, because TensorRT and ONNX Runtime's CPU kernels want different graphs.

**TensorRT** (``model.int8.onnx``). NVIDIA's placement rules for explicit
quantization: Q/DQ on the *inputs* of weighted layers (and the weights), never
on their outputs; INT8 symmetric with zero point 0 everywhere; the residual
input of an Add that follows a quantized conv is quantized too, so TensorRT can
fuse the Add into the conv epilogue; biases stay float. TensorRT fuses
conv+activation and chooses INT8 or FP16 kernels per layer itself.

**ONNX Runtime CPU** (``model.int8.cpu.onnx``). ORT only turns
``DQ → Conv → Q`` into a ``QLinearConv`` when the conv's *output* is quantized
too, and only removes a ReLU/Clip before that Q when the quantized range starts
at the clip's lower bound. With symmetric INT8 a ReLU6 output keeps its Clip, the
pattern breaks, and the conv runs in float between dequantize/quantize pairs —
the reason symmetric-INT8 Q/DQ models run slower than FP32 on ORT CPU. This
plan therefore uses UINT8 activations (zero point 0 and all 256 levels for
non-negative tensors such as ReLU6 outputs, the symmetric grid shifted by 128
for signed ones), INT8 per-channel weights, INT32 biases, and quantizes each
layer's input and (post-activation) output. An Add whose inputs are both
quantized gets a quantized output (``QLinearAdd``) — the *activation's* output
when a ReLU/Clip follows the Add, so ORT absorbs the Clip and no requantize
pair is left between them. Ops ORT does not speed up in INT8 (AveragePool of
the image, the sigmoid head) read the float tensors. The layers that read the
graph input (the stem) stay float: quantizing the normalized image alone moves
the depth by about 1 %, and ORT's fast symmetric INT8 conv kernels need input
channels in multiples of 4, so a 3-channel stem gains nothing in INT8.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional

import onnx

from .graph import ACTIVATION_OPS, GraphIndex, Layer
from .observers import TensorStats
from .qdq import ActivationQuant, symmetric_int8, uint8_params

ENGINES = ("tensorrt", "onnxruntime")


@dataclass
class QuantPlan:
    """What to quantize for one engine.

    Attributes:
        engine: ``tensorrt`` or ``onnxruntime``.
        layers: layers whose weights become INT8.
        activations: ``{tensor: ActivationQuant}``.
        quantize_bias: INT32 biases (ORT) or float biases (TensorRT).
    """

    engine: str
    layers: list[Layer]
    activations: dict[str, ActivationQuant]
    quantize_bias: bool

    def summary(self) -> dict:
        kinds: dict[str, int] = defaultdict(int)
        for layer in self.layers:
            kinds[layer.kind] += 1
        return {"engine": self.engine, "layers": len(self.layers), "layer_kinds": dict(sorted(kinds.items())),
                "activations": len(self.activations),
                "activation_dtypes": sorted({q.dtype for q in self.activations.values()})}


def select_layers(layers: Iterable[Layer], keep_float: Iterable[str] = (),
                  kinds: Optional[Iterable[str]] = None) -> list[Layer]:
    """Layers to quantize: all of ``kinds`` (default every kind) except the nodes in ``keep_float``."""
    keep = set(keep_float)
    allowed = None if kinds is None else set(kinds)
    return [l for l in layers if l.node not in keep and (allowed is None or l.kind in allowed)]


def plan_tensorrt(index: GraphIndex, layers: list[Layer], amax: dict[str, float]) -> QuantPlan:
    """Symmetric INT8 Q/DQ on weighted-layer inputs and on residual Add inputs (TensorRT's rules)."""
    consumers: dict[str, set[str]] = defaultdict(set)
    quantized_outputs = {l.output for l in layers}
    for layer in layers:
        consumers[layer.input].add(layer.node)
    for node in index.model.graph.node:
        if node.op_type != "Add" or len(node.input) != 2:
            continue
        a, b = node.input
        for conv_side, residual in ((a, b), (b, a)):
            if conv_side in quantized_outputs and index.is_float_activation(residual) and residual in amax:
                consumers[residual].add(node.name)
    activations = {}
    for tensor, users in consumers.items():
        scale, zero_point = symmetric_int8(amax[tensor])
        activations[tensor] = ActivationQuant(scale, zero_point, "int8", tuple(sorted(users)))
    return QuantPlan("tensorrt", list(layers), activations, quantize_bias=False)


def plan_onnxruntime(index: GraphIndex, layers: list[Layer], amax: dict[str, float],
                     stats: dict[str, TensorStats], *, propagate: bool = True,
                     float_input_layers: bool = True) -> QuantPlan:
    """UINT8 activations around every quantized layer, so ORT fuses them into QLinearConv.

    Args:
        index: the FP32 graph.
        layers: layers to quantize.
        amax: calibrated range per tensor.
        stats: calibration statistics (to find non-negative tensors).
        propagate: keep quantized tensors quantized through Resize (same scale, so only
            the float Resize sits between a dequantize and a quantize) and Add (``QLinearAdd``).
        float_input_layers: keep the layers that read a graph input in float.
    """
    if float_input_layers:
        graph_inputs = {i.name for i in index.model.graph.input}
        layers = [l for l in layers if l.input not in graph_inputs]
    produced_by_layer = {l.activation_output for l in layers} | {l.output for l in layers}
    consumers: dict[str, Optional[set[str]]] = {}
    same_as: dict[str, str] = {}

    def want(tensor: str, user: Optional[str]) -> None:
        if tensor in index.graph_outputs or tensor not in amax:
            return
        if user is None or tensor in produced_by_layer or consumers.get(tensor, set()) is None:
            consumers[tensor] = None  # every consumer reads the quantized tensor
        else:
            consumers.setdefault(tensor, set()).add(user)

    def quantized_for_all(tensor: str) -> bool:
        return tensor in consumers and consumers[tensor] is None

    for layer in layers:
        want(layer.input, layer.node)
        want(layer.activation_output, None)
    if propagate:
        for node in index.model.graph.node:  # graph order: producers are decided before consumers
            inputs = [i for i in node.input if i and i not in index.constants]
            if (node.op_type not in ("Resize", "Add") or not inputs or not all(i in consumers for i in inputs)
                    or quantized_for_all(node.output[0])):
                continue
            for tensor in inputs:  # quantized for a conv already: this node reads the same quantized copy
                want(tensor, None)
            if node.op_type == "Resize":
                want(node.output[0], None)
                same_as[node.output[0]] = node.input[0]
            elif node.op_type == "Add":
                activation = index.single_consumer(node.output[0])
                if activation is not None and activation.op_type in ACTIVATION_OPS:
                    want(activation.output[0], None)
                else:  # every reader, also when a conv asked for it first: the next residual Add reads it too
                    want(node.output[0], None)
    activations = {}
    for tensor, users in consumers.items():
        source = tensor
        while source in same_as:
            source = same_as[source]
        scale, zero_point = uint8_params(amax[source], stats[source].nonnegative if source in stats else False)
        activations[tensor] = ActivationQuant(scale, zero_point, "uint8", None if users is None else tuple(sorted(users)),
                                              params_of=source if source != tensor else None)
    return QuantPlan("onnxruntime", list(layers), activations, quantize_bias=True)


def make_plan(engine: str, model: onnx.ModelProto, layers: list[Layer], amax: dict[str, float],
              stats: dict[str, TensorStats], index: Optional[GraphIndex] = None) -> QuantPlan:
    """The plan for ``engine`` (``tensorrt`` or ``onnxruntime``)."""
    index = index or GraphIndex(model)
    if engine == "tensorrt":
        return plan_tensorrt(index, layers, amax)
    if engine == "onnxruntime":
        return plan_onnxruntime(index, layers, amax, stats)
    raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
