"""Read-only views of an ONNX graph: producers, consumers, activations and quantizable layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import onnx
from onnx import numpy_helper

MODULE_KEY = "xnet_edge.module"
#: ops whose second input is a weight that INT8 kernels consume
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: activations that follow a conv and that a quantized output can absorb
ACTIVATION_OPS = ("Relu", "Clip")


@dataclass(frozen=True)
class Layer:
    """A quantizable layer (a node with a constant weight).

    Attributes:
        node: the node name.
        op_type: Conv, ConvTranspose, Gemm or MatMul.
        kind: ``depthwise``, ``pointwise`` (1×1 conv), ``conv`` (k×k dense), or ``matmul``.
        module: the PyTorch module it came from (export metadata), or the node name.
        input: the activation input tensor.
        weight: the weight initializer.
        output: the node's output tensor.
        activation_output: the output after a directly following Relu/Clip (else ``output``).
        weight_axis: the output-channel axis of the weight (per-channel scales run along it).
        macs: multiply-accumulates for one image, when shapes are known (else 0).
    """

    node: str
    op_type: str
    kind: str
    module: str
    input: str
    weight: str
    output: str
    activation_output: str
    weight_axis: int
    macs: int


class GraphIndex:
    """Lookup tables over an ONNX graph (built once, read many times)."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.nodes = {n.name: n for n in graph.node}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers.setdefault(inp, []).append(node)
        self.types: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}
        for vi in (*graph.input, *graph.value_info, *graph.output):
            ttype = vi.type.tensor_type
            self.types[vi.name] = ttype.elem_type
            if ttype.HasField("shape"):
                self.shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in ttype.shape.dim)
        self.graph_outputs = {o.name for o in graph.output}
        self.constants = self._constant_tensors()

    def _constant_tensors(self) -> set[str]:
        """Tensors computed from initializers and Constant nodes only (shape arithmetic, folded weights)."""
        const = set(self.initializers)
        for node in self.model.graph.node:
            if node.op_type == "Constant" or (node.input and all(i in const for i in node.input if i)):
                const.update(node.output)
        return const

    def weight_array(self, name: str):
        return numpy_helper.to_array(self.initializers[name])

    def module_of(self, node: onnx.NodeProto) -> str:
        for prop in node.metadata_props:
            if prop.key == MODULE_KEY:
                return prop.value
        return node.name

    def is_float_activation(self, name: str) -> bool:
        return name not in self.constants and self.types.get(name) == onnx.TensorProto.FLOAT

    def single_consumer(self, tensor: str) -> Optional[onnx.NodeProto]:
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 and tensor not in self.graph_outputs else None


def float_activations(model: onnx.ModelProto) -> list[str]:
    """Float activation tensors in graph order: graph inputs, then node outputs (no constants)."""
    index = GraphIndex(model)
    names = [i.name for i in model.graph.input if i.name not in index.initializers]
    for node in model.graph.node:
        names += [o for o in node.output if o and o not in names]
    return [n for n in names if index.is_float_activation(n)]


def _conv_kind(node: onnx.NodeProto, weight_shape: tuple) -> str:
    if node.op_type in ("Gemm", "MatMul"):
        return "matmul"
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    if group > 1 and weight_shape[1] == 1:
        return "depthwise"
    return "pointwise" if all(k == 1 for k in weight_shape[2:]) else "conv"


def _weight_axis(node: onnx.NodeProto) -> int:
    if node.op_type == "MatMul":
        return 1
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if next((a.i for a in node.attribute if a.name == "transB"), 0) else 1
    return 0


def _macs(index: GraphIndex, node: onnx.NodeProto, weight_shape: tuple) -> int:
    out_shape = index.shapes.get(node.output[0])
    if not out_shape or any(d <= 0 for d in out_shape[1:]):
        return 0
    spatial = 1
    for d in out_shape[2:] if node.op_type.startswith("Conv") else out_shape[:-1][1:]:
        spatial *= d
    if node.op_type.startswith("Conv"):
        reduced = weight_shape[1:]  # Cin/groups · kh · kw
    else:  # MatMul (Cin, Cout); Gemm (Cout, Cin) with transB, else (Cin, Cout)
        reduced = weight_shape[1:2] if _weight_axis(node) == 0 else weight_shape[:1]
    per_output = 1
    for d in reduced:
        per_output *= d
    channels = out_shape[1] if node.op_type.startswith("Conv") else out_shape[-1]
    return int(spatial * channels * per_output)


def find_layers(model: onnx.ModelProto, index: Optional[GraphIndex] = None) -> list[Layer]:
    """Every quantizable layer, in graph order: Conv/ConvTranspose/Gemm/MatMul with a float weight initializer."""
    index = index or GraphIndex(model)
    layers = []
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        weight = node.input[1]
        init = index.initializers.get(weight)
        if init is None or init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2:
            continue
        if not index.is_float_activation(node.input[0]):
            continue
        shape = tuple(init.dims)
        out = node.output[0]
        nxt = index.single_consumer(out)
        act_out = nxt.output[0] if nxt is not None and nxt.op_type in ACTIVATION_OPS else out
        layers.append(Layer(node.name, node.op_type, _conv_kind(node, shape), index.module_of(node), node.input[0],
                            weight, out, act_out, _weight_axis(node), _macs(index, node, shape)))
    return layers


def topological_sort(model: onnx.ModelProto) -> None:
    """Reorder ``model.graph.node`` so every node follows its producers (stable; in place).

    Raises:
        ValueError: the graph has a cycle or reads a tensor nothing produces.
    """
    graph = model.graph
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        remaining = []
        for node in pending:
            if all(i in available for i in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                remaining.append(node)
        if len(remaining) == len(pending):
            missing = sorted({i for n in remaining for i in n.input if i not in available})[:3]
            raise ValueError(f"graph cannot be ordered: unresolved inputs {missing}")
        pending = remaining
    sorted_nodes = [onnx.NodeProto() for _ in ordered]
    for dst, src in zip(sorted_nodes, ordered):
        dst.CopyFrom(src)
    del graph.node[:]
    graph.node.extend(sorted_nodes)
