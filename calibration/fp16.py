"""FP16 ONNX variant for strongly typed TensorRT builds (TensorRT 11 has no FP16 builder flag).

Every node computes in float16 except the numerically sensitive ones —
LayerNormalization, Pow, the Reduce family, Softmax, Erf — and the whole
depth/segmentation head (nodes whose module is ``head``), which stay float32 with
their exact float32 weights. A Cast is inserted wherever a tensor crosses between
the two precisions (one per tensor and direction). The input ``image`` and the
output stay float32, so the runtime feeds the model like the FP32 one.

(ONNX Runtime's ``float16`` converter was tried first: it rounds every weight to
float16 and brackets each float32 node with its own Cast pair, so consecutive
float32 nodes in the head exchanged float16 tensors. This pass keeps whole
float32 regions in float32.)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph import GraphIndex, topological_sort

#: op types kept in float32
FP32_OPS = ("LayerNormalization", "Pow", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2",
            "ReduceSumSquare", "ReduceLogSumExp", "Softmax", "LogSoftmax", "Erf")
#: modules (export metadata prefix) kept in float32
FP32_MODULES = ("head",)
#: inputs that the ONNX spec types as float32 whatever the data type (Resize's roi and scales)
_FLOAT32_INPUTS = {"Resize": (1, 2)}
_FLOAT, _HALF = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
_FP16_MAX = float(np.finfo(np.float16).max)


def fp32_nodes(model: onnx.ModelProto, modules=FP32_MODULES, ops=FP32_OPS) -> set[str]:
    """Names of the nodes that stay float32: ``ops`` anywhere, and every node of ``modules``."""
    index = GraphIndex(model)
    names = set()
    for node in model.graph.node:
        module = index.module_of(node)
        in_module = any(module == m or module.startswith((m + ".", m + "/")) for m in modules)
        if node.op_type in ops or in_module:
            names.add(node.name)
    return names


def _float_tensors(model: onnx.ModelProto, index: GraphIndex) -> set[str]:
    floats = {t.name for t in model.graph.initializer if t.data_type == _FLOAT}
    floats |= {name for name, dtype in index.types.items() if dtype == _FLOAT}
    return floats


def convert_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The FP16 variant of an FP32 xnet-edge model (I/O stay float32, metadata kept).

    Args:
        model: the FP32 model (with shape information).

    Returns:
        A new ModelProto.
    """
    model = onnx.shape_inference.infer_shapes(model)
    index = GraphIndex(model)
    keep32 = fp32_nodes(model)
    floats = _float_tensors(model, index)
    inits = {t.name: t for t in model.graph.initializer}
    home: dict[str, int] = {i.name: _FLOAT for i in model.graph.input}  # precision each tensor is produced in
    home.update({name: _FLOAT for name in inits})
    for node in model.graph.node:
        # Cast/Constant outputs have the type their attributes say: leave them float32
        fixed_type = node.op_type in ("Cast", "Constant", "ConstantOfShape")
        precision = _FLOAT if node.name in keep32 or fixed_type else _HALF
        for out in node.output:
            if out in floats:
                home[out] = precision
    new_inits, casts, nodes = [], {}, []

    def as_precision(tensor: str, precision: int) -> str:
        if home.get(tensor, precision) == precision:
            return tensor
        key = (tensor, precision)
        if key not in casts:
            if tensor in inits and precision == _HALF:  # a weight: store it in float16, no runtime Cast
                arr = numpy_helper.to_array(inits[tensor]).astype(np.float32)
                new_inits.append(numpy_helper.from_array(
                    np.clip(arr, -_FP16_MAX, _FP16_MAX).astype(np.float16), f"{tensor}_fp16"))
                casts[key] = f"{tensor}_fp16"
            else:
                suffix = "fp16" if precision == _HALF else "fp32"
                casts[key] = f"{tensor}_to_{suffix}"
                nodes.append(helper.make_node("Cast", [tensor], [casts[key]], name=f"{tensor}/Cast_{suffix}",
                                              to=precision))
        return casts[key]

    for node in model.graph.node:
        new = onnx.NodeProto()
        new.CopyFrom(node)
        precision = _FLOAT if node.name in keep32 or node.op_type == "Cast" else _HALF
        fixed = _FLOAT32_INPUTS.get(node.op_type, ())
        for slot, name in enumerate(node.input):
            if name in floats:
                new.input[slot] = as_precision(name, _FLOAT if slot in fixed else precision)
        nodes.append(new)
    for output in model.graph.output:
        if home.get(output.name) == _HALF:
            for node in nodes:
                for slot, name in enumerate(node.output):
                    if name == output.name:
                        node.output[slot] = f"{name}_fp16"
            for node in nodes:
                for slot, name in enumerate(node.input):
                    if name == output.name:
                        node.input[slot] = f"{name}_fp16"
            nodes.append(helper.make_node("Cast", [f"{output.name}_fp16"], [output.name],
                                          name=f"{output.name}/Cast_fp32", to=_FLOAT))
    return _assemble(model, nodes, new_inits)


def _assemble(model: onnx.ModelProto, nodes: list, new_inits: list) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    kept = [t for t in model.graph.initializer if t.name in used] + new_inits
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]
    topological_sort(out)
    return onnx.shape_inference.infer_shapes(out, strict_mode=True)
