"""Write a Q/DQ (QuantizeLinear/DequantizeLinear) ONNX model from calibrated ranges.

The writer inserts, for every chosen activation tensor, one ``QuantizeLinear →
DequantizeLinear`` pair right after the tensor is produced, and stores every
chosen layer's weight as an INT8 initializer with per-output-channel symmetric
scales followed by a ``DequantizeLinear``. Which tensors and layers are chosen,
and in which integer type, is the caller's *plan* (:mod:`.placement`); the
writer only applies it, deterministically (fixed names, graph order).

Names: tensor ``t`` becomes ``t_quantized`` / ``t_dequantized`` with
``t_scale`` and ``t_zero_point`` initializers; weight ``w`` becomes
``w_quantized`` (INT8) + ``w_scale`` + ``w_zero_point``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph import GraphIndex, Layer
from .observers import INT8_MAX


@dataclass(frozen=True)
class ActivationQuant:
    """Quantization parameters of one activation tensor.

    Attributes:
        scale: step size.
        zero_point: integer that represents 0.0.
        dtype: ``"int8"`` or ``"uint8"``.
        consumers: node names to rewire to the quantized tensor; None rewires every consumer.
        params_of: reuse the scale/zero-point initializers of this other quantized tensor
            (ONNX Runtime only drops a Q/DQ pair around Resize when both share them).
    """

    scale: float
    zero_point: int
    dtype: str
    consumers: Optional[tuple[str, ...]] = None
    params_of: Optional[str] = None


def symmetric_int8(amax: float) -> tuple[float, int]:
    """(scale, zero_point) for symmetric INT8: ``scale = amax / 127``, zero point 0."""
    return (float(amax) / INT8_MAX if amax > 0 else 1.0), 0


def uint8_params(amax: float, nonnegative: bool) -> tuple[float, int]:
    """(scale, zero_point) for UINT8 with the same symmetric range.

    A non-negative tensor (after ReLU/ReLU6) uses all 256 levels on ``[0, amax]``
    (zero point 0); a signed one is the symmetric INT8 grid shifted by 128.
    """
    if amax <= 0:
        return 1.0, 0 if nonnegative else 128
    if nonnegative:
        return float(amax) / 255.0, 0
    return float(amax) / INT8_MAX, 128


def quantize_weight(weight: np.ndarray, axis: int, max_level: int = INT8_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel symmetric INT8 weights.

    Args:
        weight: float weights.
        axis: the output-channel axis.
        max_level: 127, or 63 for 7-bit weights (``reduce_range``).

    Returns:
        (int8 weights, float32 per-channel scales).
    """
    moved = np.moveaxis(weight.astype(np.float64), axis, 0)
    amax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / max_level, 1.0).astype(np.float32)
    shape = [1] * weight.ndim
    shape[axis] = -1
    q = np.clip(np.round(weight / scale.reshape(shape).astype(np.float64)), -max_level, max_level)
    return q.astype(np.int8), scale


def _np_dtype(dtype: str):
    return {"int8": np.int8, "uint8": np.uint8}[dtype]


class QDQWriter:
    """Builds the quantized graph; use :func:`write_qdq_model`."""

    def __init__(self, model: onnx.ModelProto):
        self.src = model
        self.index = GraphIndex(model)
        self.new_inits: list[onnx.TensorProto] = []
        self.pre_nodes: list[onnx.NodeProto] = []  # weight DQ nodes and graph-input Q/DQ
        self.after: dict[str, list[onnx.NodeProto]] = {}  # producer node name -> Q/DQ nodes that follow it
        self.rename: dict[tuple[str, int], str] = {}  # (consumer node, input slot) -> new tensor

    def add_activation(self, tensor: str, q: ActivationQuant) -> None:
        owner = q.params_of or tensor
        scale, zp = f"{owner}_scale", f"{owner}_zero_point"
        if q.params_of is None:
            self.new_inits += [numpy_helper.from_array(np.array(q.scale, dtype=np.float32), scale),
                               numpy_helper.from_array(np.array(q.zero_point, dtype=_np_dtype(q.dtype)), zp)]
        nodes = [helper.make_node("QuantizeLinear", [tensor, scale, zp], [f"{tensor}_quantized"],
                                  name=f"{tensor}_QuantizeLinear"),
                 helper.make_node("DequantizeLinear", [f"{tensor}_quantized", scale, zp], [f"{tensor}_dequantized"],
                                  name=f"{tensor}_DequantizeLinear")]
        producer = self.index.producer.get(tensor)
        if producer is None:
            self.pre_nodes += nodes
        else:
            self.after.setdefault(producer.name, []).extend(nodes)
        wanted = None if q.consumers is None else set(q.consumers)
        for node in self.index.consumers.get(tensor, []):
            if wanted is None or node.name in wanted:
                for slot, name in enumerate(node.input):
                    if name == tensor:
                        self.rename[(node.name, slot)] = f"{tensor}_dequantized"

    def add_weight(self, layer: Layer, max_level: int) -> tuple[np.ndarray, np.ndarray]:
        w = self.index.weight_array(layer.weight)
        q, scale = quantize_weight(w, layer.weight_axis, max_level)
        base = layer.weight
        if (layer.node, 1) in self.rename:  # weight shared with an earlier layer
            return q, scale
        self.new_inits += [numpy_helper.from_array(q, f"{base}_quantized"),
                           numpy_helper.from_array(scale, f"{base}_scale"),
                           numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{base}_zero_point")]
        self.pre_nodes.append(helper.make_node(
            "DequantizeLinear", [f"{base}_quantized", f"{base}_scale", f"{base}_zero_point"], [f"{base}_dequantized"],
            name=f"{base}_DequantizeLinear", axis=layer.weight_axis))
        for user in self.index.consumers.get(layer.weight, []):
            for slot, name in enumerate(user.input):
                if name == layer.weight:
                    self.rename[(user.name, slot)] = f"{base}_dequantized"
        return q, scale

    def conv_bias(self, layer: Layer) -> Optional[np.ndarray]:
        """The layer's float bias (a Conv with an initializer bias), or None."""
        node = self.index.nodes[layer.node]
        if node.op_type != "Conv" or len(node.input) < 3 or node.input[2] not in self.index.initializers:
            return None
        return self.index.weight_array(node.input[2]).astype(np.float64)

    def correct_bias(self, layer: Layer, input_mean: np.ndarray, weight_q: np.ndarray,
                     weight_scale: np.ndarray) -> Optional[np.ndarray]:
        """Bias minus the mean output shift that weight rounding causes (Nagel et al., 2019).

        ``E[conv(x, Wq) - conv(x, W)] ≈ Σ_{c_in, k} (Wq - W)[c_out, c_in, k] · E[x_{c_in}]``
        with the per-channel input means seen during calibration.
        """
        bias = self.conv_bias(layer)
        if bias is None or layer.kind not in ("conv", "pointwise", "depthwise"):
            return None
        w = self.index.weight_array(layer.weight).astype(np.float64)
        if w.ndim != 4 or (layer.kind != "depthwise" and w.shape[1] != len(input_mean)):
            return None  # grouped (non-depthwise) convs are left as they are
        delta = weight_q.astype(np.float64) * weight_scale.astype(np.float64).reshape(-1, 1, 1, 1) - w
        if layer.kind == "depthwise":
            shift = delta.sum(axis=(1, 2, 3)) * input_mean
        else:
            shift = delta.sum(axis=(2, 3)) @ input_mean
        return bias - shift

    def set_float_bias(self, layer: Layer, bias: np.ndarray) -> None:
        name = f"{layer.node}_bias_corrected"
        self.new_inits.append(numpy_helper.from_array(bias.astype(np.float32), name))
        self.rename[(layer.node, 2)] = name

    def add_bias(self, layer: Layer, input_scale: float, weight_scale: np.ndarray,
                 bias: Optional[np.ndarray] = None) -> None:
        """INT32 bias with scale ``input_scale · weight_scale`` (what ORT's QLinearConv fusion expects)."""
        bias = self.conv_bias(layer) if bias is None else bias
        if bias is None:
            return
        scale = (input_scale * weight_scale.astype(np.float64)).astype(np.float32)
        q = np.clip(np.round(bias / scale), -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
        base = f"{layer.node}_bias"
        self.new_inits += [numpy_helper.from_array(q, f"{base}_quantized"),
                           numpy_helper.from_array(scale, f"{base}_scale"),
                           numpy_helper.from_array(np.zeros(len(scale), np.int32), f"{base}_zero_point")]
        self.pre_nodes.append(helper.make_node(
            "DequantizeLinear", [f"{base}_quantized", f"{base}_scale", f"{base}_zero_point"], [f"{base}_dequantized"],
            name=f"{base}_DequantizeLinear", axis=0))
        self.rename[(layer.node, 2)] = f"{base}_dequantized"

    def build(self) -> onnx.ModelProto:
        nodes = list(self.pre_nodes)
        for node in self.src.graph.node:
            new = onnx.NodeProto()
            new.CopyFrom(node)
            for slot in range(len(new.input)):
                if (node.name, slot) in self.rename:
                    new.input[slot] = self.rename[(node.name, slot)]
            nodes.append(new)
            nodes += self.after.get(node.name, [])
        used = {i for n in nodes for i in n.input}
        inits = [t for t in self.src.graph.initializer if t.name in used] + self.new_inits
        model = onnx.ModelProto()
        model.CopyFrom(self.src)
        graph = model.graph
        del graph.node[:]
        graph.node.extend(nodes)
        del graph.initializer[:]
        graph.initializer.extend(inits)
        del graph.value_info[:]
        return model


def write_qdq_model(model: onnx.ModelProto, activations: dict[str, ActivationQuant], layers: list[Layer], *,
                    weight_bits: int = 8, quantize_bias: bool = False,
                    input_means: Optional[dict[str, np.ndarray]] = None) -> onnx.ModelProto:
    """Apply a quantization plan to an FP32 model.

    Args:
        model: the FP32 model.
        activations: ``{tensor: ActivationQuant}`` for every activation to quantize.
        layers: layers whose weights become INT8 (per-channel, symmetric).
        weight_bits: 8, or 7 (weights in ±63: avoids the VPMADDUBSW overflow of
            x86 CPUs without VNNI).
        quantize_bias: store Conv biases as INT32 (``input_scale · weight_scale``) for
            layers whose input is quantized (ONNX Runtime's QLinearConv fusion); TensorRT
            keeps float biases.
        input_means: ``{tensor: per-channel mean}`` of layer inputs; when given, each Conv
            bias is corrected for the mean shift its weight rounding causes.

    Returns:
        The Q/DQ model (a new ModelProto; ``model`` is unchanged).
    """
    writer = QDQWriter(model)
    max_level = INT8_MAX if weight_bits == 8 else 2 ** (weight_bits - 1) - 1
    for tensor in sorted(activations, key=_graph_order(model)):
        writer.add_activation(tensor, activations[tensor])
    for layer in layers:
        weight_q, weight_scale = writer.add_weight(layer, max_level)
        mean = None if input_means is None else input_means.get(layer.input)
        bias = None if mean is None else writer.correct_bias(layer, mean, weight_q, weight_scale)
        act = activations.get(layer.input)
        if quantize_bias and act is not None:
            writer.add_bias(layer, act.scale, weight_scale, bias)
        elif bias is not None:
            writer.set_float_bias(layer, bias)
    return writer.build()


def _graph_order(model: onnx.ModelProto):
    order = {i.name: -1 for i in model.graph.input}
    for pos, node in enumerate(model.graph.node):
        for out in node.output:
            order.setdefault(out, pos)
    return lambda name: (order.get(name, len(order)), name)
