"""``adopt``: give an ONNX model from elsewhere the xnet-edge contract, so every command takes it.

A dense-prediction model exported by another project (torchvision, timm, Hugging Face
``transformers``, your own training code) has one image input and one dense output,
but none of the metadata xnet-edge reads. :func:`adopt_onnx` checks the model on ONNX
Runtime with a real photo, then writes a copy with

* the input renamed ``image`` and the chosen output ``depth`` (``logits`` for
  segmentation); other outputs are dropped;
* the metadata blocks ``export`` writes (:mod:`xnet_edge.contract`): preprocessing
  (input size, mean/std, 0..1 or 0..255 input, channel order, size multiple), the
  output's kind and range, and a small config naming the source file.

Weights and nodes are untouched, so the copy computes exactly what the original does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ._deps import require
from .contract import (CONFIG_KEY, INPUT_NAME, OUTPUT_KEY, OUTPUT_KINDS, PREPROCESSING_KEY, OutputSemantics,
                       Preprocessing, TensorSpec, check_output_shape, read_contract, write_metadata)
from .errors import ContractError, UsageError, XnetEdgeError
from .io_utils import atomic_path
from .preprocess import check_input_size

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The real photo the check runs on (scikit-image, never used for calibration).
CHECK_IMAGE = "chelsea"


@dataclass
class AdoptResult:
    """What :func:`adopt_onnx` wrote and saw.

    Attributes:
        path: the adopted copy.
        input_name, output_name: the original names (now ``image`` and ``depth``/``logits``).
        preprocessing, output: the contract blocks written.
        output_shape: the output shape ONNX Runtime gave on the check image.
        value_range: (min, max) of that output.
        dropped_outputs: other outputs removed from the copy.
    """

    path: Path
    input_name: str
    output_name: str
    preprocessing: Preprocessing
    output: OutputSemantics
    output_shape: tuple[int, ...]
    value_range: tuple[float, float]
    dropped_outputs: tuple[str, ...] = ()


def adopt_onnx(model_path: str | os.PathLike, output: str | os.PathLike, *, output_kind: str,
               mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
               input_size: Optional[Sequence[int]] = None, multiple: Optional[int] = None,
               input_name: Optional[str] = None, output_name: Optional[str] = None, scale: float = 1.0,
               channels: str = "rgb", max_depth: Optional[float] = None,
               num_classes: Optional[int] = None, source: Optional[Mapping[str, Any]] = None) -> AdoptResult:
    """Check a foreign ONNX model and write a copy that carries the xnet-edge contract.

    Args:
        model_path: the model (one image input, one dense output).
        output: the adopted copy (``.onnx``), written atomically.
        output_kind: one of :data:`xnet_edge.contract.OUTPUT_KINDS`.
        mean, std: per-channel normalization in 0..1 units (R, G, B).
        input_size: network (H, W); required when the model's H/W are dynamic.
        multiple: H and W must be multiples of it (14 for ViT patch models, 32 for most CNNs).
        input_name: the image input (checked against the model's only input).
        output_name: the output to keep when the model has several.
        scale: 1 if the network takes 0..1 values, 255 for 0..255.
        channels: ``"rgb"`` or ``"bgr"``.
        max_depth: range in metres of a metric-depth model.
        num_classes: classes of a segmentation model (default: the output's channels).
        source: entries for the config block that say where the model came from (``export --hf``
            names the transformers folder and model type); ``name`` replaces the file's stem.

    Returns:
        An :class:`AdoptResult`.

    Raises:
        UsageError: a model it cannot take (several inputs, a non-image input, an output
            that is not dense or contradicts ``output_kind``, a size that breaks
            ``multiple``) or bad options; nothing is written.
        XnetEdgeError: ONNX Runtime cannot run the model, or its output is not finite.
    """
    onnx = require("onnx")
    model_path, output = Path(model_path), Path(output)
    if output.suffix != ".onnx":
        raise UsageError(f"-o must name a .onnx file, got {output}")
    if output.resolve() == model_path.resolve():
        raise UsageError("-o must differ from the input model: adopt writes a copy")
    found = read_contract(model_path, check_shapes=False)
    image = _image_input(found, input_name)
    chosen = _chosen_output(found, output_name)
    size = _network_size(image, input_size, multiple)
    semantics = _semantics(output_kind, max_depth, num_classes)
    pre = Preprocessing.from_dict({"input_size": list(size), "mean": list(mean), "std": list(std), "scale": scale,
                                   "channels": channels, "multiple": multiple}, where="adopt options")
    check_output_shape(chosen, semantics, str(model_path))
    out = _run_check(model_path, image.name, chosen.name, pre)
    check_output_shape(TensorSpec(chosen.name, out.shape), semantics, str(model_path))
    if semantics.kind == "segmentation" and semantics.num_classes is None:
        semantics = OutputSemantics("segmentation", int(out.shape[1]), None)
    model = onnx.load(str(model_path))
    contract_name = "logits" if semantics.kind == "segmentation" else "depth"
    dropped = _keep_one_output(model, chosen.name)
    _rename_tensor(model.graph, image.name, INPUT_NAME)
    _rename_tensor(model.graph, chosen.name, contract_name)
    config = {"name": model_path.stem, "task": semantics.task, "adopted_from": model_path.name}
    if source:
        config.update({k: v for k, v in source.items() if k != "task"})
        config.pop("adopted_from", None)
    write_metadata(model, {CONFIG_KEY: json.dumps(config, sort_keys=True),
                           PREPROCESSING_KEY: json.dumps(pre.to_dict(), sort_keys=True),
                           OUTPUT_KEY: json.dumps(semantics.to_dict(), sort_keys=True)})
    onnx.checker.check_model(model)
    with atomic_path(output) as tmp:
        tmp.write_bytes(model.SerializeToString())
        read_contract(tmp)  # the copy reads back as a complete contract
    return AdoptResult(output, image.name, chosen.name, pre, semantics, tuple(out.shape),
                       (float(out.min()), float(out.max())), dropped)


def _image_input(found, input_name: Optional[str]) -> TensorSpec:
    names = ", ".join(f"{t.name}{list(t.shape)}" for t in found.inputs) or "none"
    if len(found.inputs) != 1:
        raise ContractError(f"{found.where} has {len(found.inputs)} inputs ({names}); adopt takes models with one "
                            "image input")
    image = found.inputs[0]
    if input_name is not None and input_name != image.name:
        raise ContractError(f"{found.where} has no input named {input_name!r} (its input is {names})")
    if len(image.shape) != 4 or image.shape[1] not in (3, -1) or image.dtype.kind != "f":
        raise ContractError(f"{found.where}: input {image.name!r} {list(image.shape)} ({image.dtype}) is not an "
                            "image; adopt needs a float (N, 3, H, W) input")
    return image


def _chosen_output(found, output_name: Optional[str]) -> TensorSpec:
    by_name = {o.name: o for o in found.outputs}
    if output_name is not None:
        if output_name not in by_name:
            raise ContractError(f"{found.where} has no output named {output_name!r} "
                                f"(outputs: {', '.join(by_name)})")
        return by_name[output_name]
    if len(found.outputs) > 1:
        raise ContractError(f"{found.where} has {len(found.outputs)} outputs ({', '.join(by_name)}); "
                            "choose the dense prediction with --output NAME")
    return found.outputs[0]


def _network_size(image: TensorSpec, input_size, multiple: Optional[int]) -> tuple[int, int]:
    fixed = image.shape[2:]
    if input_size is None:
        if min(fixed) <= 0:
            raise UsageError(f"input {image.name!r} {list(image.shape)} has a dynamic size: "
                             "give the network size with --input-size HxW")
        size = (int(fixed[0]), int(fixed[1]))
    else:
        size = (int(input_size[0]), int(input_size[1]))
        if min(fixed) > 0 and tuple(fixed) != size:
            raise UsageError(f"input {image.name!r} is fixed at {fixed[0]}x{fixed[1]}; "
                             f"--input-size {size[0]}x{size[1]} does not fit it")
    if multiple is not None:
        if int(multiple) < 1:
            raise UsageError(f"--multiple must be >= 1, got {multiple}")
        check_input_size(size[0], size[1], int(multiple))
    return size


def _semantics(output_kind: str, max_depth, num_classes) -> OutputSemantics:
    if output_kind not in OUTPUT_KINDS:
        raise UsageError(f"--output-kind must be one of {', '.join(OUTPUT_KINDS)}, got {output_kind!r}")
    if num_classes is not None and output_kind != "segmentation":
        raise UsageError("--num-classes is for --output-kind segmentation")
    if max_depth is not None and output_kind != "metric-depth":
        raise UsageError("--max-depth is for --output-kind metric-depth")
    return OutputSemantics.from_dict({"kind": output_kind, "num_classes": num_classes, "max_depth": max_depth},
                                     where="adopt options")


def _run_check(model_path: Path, input_name: str, output_name: str, pre: Preprocessing) -> np.ndarray:
    """The chosen output on a real photo, with the preprocessing the contract will carry."""
    ort = require("onnxruntime")
    from .images import skimage_photo

    x, _ = pre.apply(skimage_photo(CHECK_IMAGE))
    try:
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        (out,) = session.run([output_name], {input_name: x})
    except Exception as exc:  # ORT raises several unrelated types for a model it cannot run
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise XnetEdgeError(f"ONNX Runtime cannot run {model_path} on a {pre.input_size[0]}x{pre.input_size[1]} "
                            f"image: {first[:300]}") from None
    out = np.asarray(out)
    if out.dtype.kind != "f":
        raise ContractError(f"{model_path}: output {output_name!r} is {out.dtype}, not a float map")
    if not np.all(np.isfinite(out)):
        raise XnetEdgeError(f"{model_path}: output {output_name!r} has non-finite values on a real photo")
    return out


def _keep_one_output(model, name: str) -> tuple[str, ...]:
    graph = model.graph
    dropped = tuple(o.name for o in graph.output if o.name != name)
    kept = [o for o in graph.output if o.name == name]
    del graph.output[:]
    graph.output.extend(kept)
    if dropped:  # the nodes only the dropped outputs needed go too
        _prune_dead_nodes(graph)
    return dropped


def _prune_dead_nodes(graph) -> None:
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
            for attr in node.attribute:  # tensors a subgraph reads from the outer scope
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    needed.update(i for n in sub.node for i in n.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    live = {i for n in graph.node for i in n.input}
    inits = [t for t in graph.initializer if t.name in live]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _rename_tensor(graph, old: str, new: str) -> None:
    """Rename a tensor everywhere in a graph (and the subgraphs that read it)."""
    if old == new:
        return
    taken = {t.name for t in graph.initializer} | {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    taken |= {o for n in graph.node for o in n.output}
    if new in taken:
        _rename_tensor(graph, new, f"{new}_original")
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name == old:
            value.name = new
    for node in graph.node:
        for seq in (node.input, node.output):
            for i, name in enumerate(seq):
                if name == old:
                    seq[i] = new
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename_tensor(sub, old, new)
