"""Export a ×Net to ONNX with the xnet-edge contract, and check it against PyTorch.

The file follows the contract of :mod:`xnet_edge.contract` (input ``image``, output
``depth`` in metres or ``logits``, metadata ``xnet_edge.config``, ``xnet_edge.preprocessing``
and ``xnet_edge.output``), which every other component reads through ``read_contract``.

Exporter choice: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript).
The TorchScript exporter is deprecated. A dynamic batch axis is traced from a
batch-2 example, because torch.export specializes sizes 0 and 1 and some torch
releases refuse a batch-1 example with a dynamic batch dimension.

After export the graph is constant-folded (onnxscript's optimizer, with limits
large enough to fold every weight reshape), nodes are renamed after the PyTorch
module that produced them (``decoder.3.0.conv_pw/Conv``), the bulky per-node
export metadata is dropped (so the file is byte-identical across runs), and the
result passes ``onnx.checker`` with full shape inference.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ._deps import require
from .contract import (CONFIG_KEY, INPUT_NAME, OUTPUT_KEY, PREPROCESSING_KEY, OutputSemantics, Preprocessing,
                       write_metadata)
from .errors import UsageError, XnetEdgeError
from .io_utils import atomic_path
from .preprocess import check_input_size, preprocess

MODULE_KEY = "xnet_edge.module"
_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
DEFAULT_OPSET = 18
MIN_OPSET = 17
#: Builtin photos the parity check runs on (never used for calibration).
PARITY_IMAGES = ("chelsea", "motorcycle_left", "moon")


def max_opset() -> int:
    """The newest opset this torch's ONNX exporter writes (it silently writes an older one beyond it)."""
    import torch.onnx

    try:
        from torch.onnx import _constants
        return int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):  # a torch without the constant: what onnx itself knows
        return int(require("onnx").defs.onnx_opset_version())


def check_opset(opset: int) -> None:
    """Raises UsageError unless ``MIN_OPSET <= opset <= max_opset()``."""
    if opset < MIN_OPSET:
        raise UsageError(f"opset {opset} is too old: xnet-edge needs opset >= {MIN_OPSET} (one-node LayerNorm)")
    top = max_opset()
    if opset > top:
        raise UsageError(f"opset {opset} is newer than this PyTorch's ONNX exporter writes; use {MIN_OPSET}..{top}")


def _is_out_of_memory(exc: BaseException) -> bool:
    # numpy raises MemoryError; torch's CPU allocator a RuntimeError naming the failed allocation.
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower()


def output_name(task: str) -> str:
    """The ONNX output name for a task: ``depth`` or ``logits``."""
    return "depth" if task == "depth" else "logits"


@dataclass
class ParityReport:
    """ONNX Runtime vs PyTorch on real images.

    Attributes:
        max_abs: largest absolute difference over all outputs.
        mean_abs: mean absolute difference.
        tolerance: the max_abs limit the export was held to.
        images: names of the images used.
        batch_sizes: batch sizes run (two for a dynamic batch axis).
    """

    max_abs: float
    mean_abs: float
    tolerance: float
    images: list[str]
    batch_sizes: list[int]

    @property
    def passed(self) -> bool:
        return self.max_abs <= self.tolerance

    def to_dict(self) -> dict:
        return {"max_abs": self.max_abs, "mean_abs": self.mean_abs, "tolerance": self.tolerance,
                "images": self.images, "batch_sizes": self.batch_sizes, "passed": self.passed}


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: the ONNX file.
        input_size: network (H, W).
        batch: the static batch size, or None for a dynamic batch axis.
        opset: ONNX opset.
        parity: the PyTorch-vs-ONNX Runtime check, or None when skipped.
        seconds: wall time of the export (not stored in the file).
        op_counts: number of nodes per op type in the written graph.
    """

    path: Path
    input_size: tuple[int, int]
    batch: Optional[int]
    opset: int
    parity: Optional[ParityReport] = None
    seconds: float = 0.0
    op_counts: dict = field(default_factory=dict)


def default_tolerance(config) -> float:
    """Parity tolerance on the max abs error: 1e-4 × max_depth for depth (1 mm at 10 m), 1e-3 for logits."""
    return 1e-4 * float(config.max_depth) if config.task == "depth" else 1e-3


def parity_failure_message(report: ParityReport, config) -> str:
    """One line for a failed parity check: what the error means and how to proceed.

    Args:
        report: the failed check.
        config: the model config (task and max_depth give the units and the default limit).

    Returns:
        The message, naming ``--tolerance`` / ``tolerance=`` and ``--no-parity`` / ``parity=False``.
    """
    if config.task == "depth":
        amount = f"{report.max_abs * 1e3:.3g} mm (mean {report.mean_abs * 1e3:.2g} mm)"
        limit = f"{report.tolerance * 1e3:.3g} mm"
        default = f"1e-4 x max_depth = {default_tolerance(config) * 1e3:.3g} mm"
        unit = " (metres)"
    else:
        unit = ""
        amount = f"{report.max_abs:.3g} in the logits (mean {report.mean_abs:.2g})"
        limit, default = f"{report.tolerance:.3g}", f"{default_tolerance(config):.3g}"
    suggest = float(f"{max(report.max_abs * 2, 1e-12):.1g}")
    return (f"ONNX Runtime's output differs from PyTorch's by up to {amount} on {len(report.images)} real photos, "
            f"above the limit of {limit} (default {default}); the export was not written. It means the ONNX graph "
            f"does not compute exactly what the checkpoint does (usually float32 rounding in rewritten or fused "
            f"ops, larger with trained weights; a wrong op gives errors near the whole output range), and every "
            f"engine built from it inherits the difference. If that error is acceptable, raise the limit "
            f"(--tolerance {suggest:g}{unit}; Python: tolerance={suggest:g}) or skip the check (--no-parity; "
            f"Python: parity=False)")


def preprocessing_metadata(config, input_size: Sequence[int], multiple: int = 32) -> dict:
    """The ``xnet_edge.preprocessing`` block for a model exported at ``input_size``."""
    return Preprocessing((int(input_size[0]), int(input_size[1])), tuple(config.mean), tuple(config.std),
                         multiple=int(multiple)).to_dict()


def output_metadata(config) -> dict:
    """The ``xnet_edge.output`` block of a ×Net: metric depth up to ``max_depth``, or K class logits."""
    return OutputSemantics.from_config(config.to_dict()).to_dict()


def _folded_bridge(bridge):
    """The inference form of a Bridge whose norm is BatchNorm (or none).

    ``act(We'·e + b' + Wi'·img + Up(Wx'·x))``: BatchNorm folded into W', b' (the
    bridge's own ``fused_parameters``) and b' carried by the We' convolution, so
    the graph holds neither BatchNormalization nor a separate bias Add.
    """
    import torch.nn.functional as F
    from torch import nn

    from .kernels.reference import apply_activation, project, upsample_to

    params = bridge.fused_parameters()

    class FoldedBridge(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = params["act"]
            for key in ("wx", "we", "wi", "bias"):
                value = params.get(key)
                self.register_buffer(key, None if value is None else value.detach().clone())

        def forward(self, x, e, img):
            y = F.conv2d(e, self.we[:, :, None, None], self.bias)
            if img is not None and self.wi is not None:
                y = y + project(img, self.wi)
            if x is not None:
                y = y + upsample_to(project(x, self.wx), y.shape[-2:])
            return apply_activation(y, self.act)

    return FoldedBridge()


def _folded_pyramid(pyramid):
    """The Post Feature Pyramid with its bias carried by the finest level's projection (no bias Add)."""
    import torch.nn.functional as F
    from torch import nn

    from .kernels.reference import apply_activation, upsample_to

    class FoldedPyramid(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.ParameterList([nn.Parameter(w.detach().clone(), requires_grad=False)
                                             for w in pyramid.weights])
            self.bias = nn.Parameter(pyramid.bias.detach().clone(), requires_grad=False)
            self.act = pyramid.act

        def forward(self, feats):
            areas = [f.shape[-2] * f.shape[-1] for f in feats]
            finest = areas.index(max(areas))
            size = feats[finest].shape[-2:]
            total = None
            for i, (feat, weight) in enumerate(zip(feats, self.weights)):
                term = F.conv2d(feat, weight[:, :, None, None], self.bias if i == finest else None)
                term = upsample_to(term, size)
                total = term if total is None else total + term
            return apply_activation(total, self.act)

    return FoldedPyramid()


def prepare_for_export(model):
    """A copy of ``model`` in eval mode, rewritten into its inference form.

    * Bridges with BatchNorm (or no norm): BatchNorm folded into the projections and
      the bias carried by the encoder projection.
    * Post Feature Pyramid: the bias carried by the finest level's projection.

    Both are exact rewrites (bilinear weights sum to one, so a bias commutes with
    the upsampling); the export's parity check confirms them. Fused (Triton)
    modules from ``xnet_edge.kernels.fuse_model`` are subclasses and fold the same
    way. The copy is on the CPU in float32; the user's model is not modified.
    """
    import torch

    model = copy.deepcopy(model).eval().cpu().float()
    with torch.no_grad():
        bridges = getattr(model, "bridges", None)
        if bridges is not None:
            for i, bridge in enumerate(bridges):
                if getattr(bridge, "norm_kind", None) in ("batchnorm", "none"):
                    bridges[i] = _folded_bridge(bridge)
        pyramid = getattr(model, "pyramid", None)
        if pyramid is not None and hasattr(pyramid, "weights") and hasattr(pyramid, "bias"):
            model.pyramid = _folded_pyramid(pyramid)
    return model


def _torch_export(model, input_size, batch: Optional[int], opset: int):
    """Run the dynamo exporter; returns an onnx ModelProto."""
    import torch

    example_batch = 2 if batch is None else batch
    example = torch.zeros(example_batch, 3, *input_size)
    dynamic = None
    if batch is None:
        dynamic = {"x": {0: torch.export.Dim("batch", min=1, max=1024)}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (example,), None, input_names=[INPUT_NAME],
                                    output_names=[output_name(model.config.task)], opset_version=opset,
                                    dynamo=True, dynamic_shapes=dynamic, optimize=True, verbose=False)
    return program.model_proto


def _module_path(node) -> str:
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = ast.literal_eval(prop.value)  # [root '', module paths..., the op's own name]
            modules = [s for s in scopes[:-1] if s]
            return modules[-1] if modules else ""
    return ""


def tidy_graph(model_proto) -> None:
    """Rename nodes after their PyTorch module and drop per-node export metadata (in place).

    Each node keeps one metadata entry, ``xnet_edge.module``, naming the module it came from.
    """
    initializers = {t.name for t in model_proto.graph.initializer}
    counts: dict[str, int] = {}
    for node in model_proto.graph.node:
        module = _module_path(node)
        if (node.op_type in _WEIGHTED_OPS and len(node.input) > 1 and node.input[1] in initializers
                and node.input[1].endswith(".weight")):
            # a Conv with BatchNorm folded in carries the BatchNorm's scope: name it after its weight
            module = node.input[1].removesuffix(".weight")
        base = f"{module or 'graph'}/{node.op_type}"
        counts[base] = counts.get(base, 0) + 1
        node.name = base if counts[base] == 1 else f"{base}_{counts[base] - 1}"
        del node.metadata_props[:]
        if module:
            entry = node.metadata_props.add()
            entry.key, entry.value = MODULE_KEY, module
    for value_info in model_proto.graph.value_info:
        del value_info.metadata_props[:]
    del model_proto.graph.metadata_props[:]
    del model_proto.metadata_props[:]


def optimize_graph(model_proto):
    """Constant-fold and clean the exported graph with onnxscript's optimizer."""
    import onnxscript.optimizer

    return onnxscript.optimizer.optimize(model_proto, num_iterations=3, input_size_limit=1 << 26,
                                         output_size_limit=1 << 26)


def set_contract_metadata(model_proto, config, input_size, multiple: int = 32) -> None:
    """Store the config, preprocessing and output blocks in the model's metadata_props (in place)."""
    write_metadata(model_proto, {
        CONFIG_KEY: json.dumps(config.replace(input_size=tuple(input_size)).to_dict(), sort_keys=True),
        PREPROCESSING_KEY: json.dumps(preprocessing_metadata(config, input_size, multiple), sort_keys=True),
        OUTPUT_KEY: json.dumps(output_metadata(config), sort_keys=True)})


def parity_inputs(input_size, mean, std, names: Sequence[str] = PARITY_IMAGES) -> tuple[list[str], np.ndarray]:
    """Real photos (scikit-image) preprocessed like the runtime: (names, (K, 3, H, W) float32)."""
    from .images import skimage_photo

    tensors = [preprocess(skimage_photo(n), input_size, mean, std)[0] for n in names]
    return list(names), np.concatenate(tensors)


def check_parity(model, onnx_path: Union[str, os.PathLike], input_size, *, batch: Optional[int],
                 tolerance: float, images: Sequence[str] = PARITY_IMAGES) -> ParityReport:
    """Run the ONNX model in ONNX Runtime and the PyTorch model on the same real images.

    Args:
        model: the PyTorch model that was exported.
        onnx_path: the exported file.
        input_size: network (H, W).
        batch: the static batch size, or None (then batch 1 and batch 2 are both run).
        tolerance: limit on the max abs difference (reported, enforced by the caller).
        images: builtin photo names.

    Returns:
        A :class:`ParityReport`.
    """
    names, x = parity_inputs(input_size, model.config.mean, model.config.std, images)
    sizes = [1, 2] if batch is None else [batch]
    batches = []
    for size in sizes:
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            batches.append(chunk if len(chunk) == size else np.concatenate([chunk, x[: size - len(chunk)]]))
    diff, _ = ort_vs_torch(model, onnx_path, batches)
    return ParityReport(float(diff.max()), float(diff.mean()), float(tolerance), names, sizes)


def ort_vs_torch(torch_fn, onnx_path: Union[str, os.PathLike], batches: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """The one ONNX Runtime vs PyTorch comparison behind every parity check.

    Args:
        torch_fn: maps a float32 (N, C, H, W) tensor to the output tensor (the model, or a
            wrapper that picks its output).
        onnx_path: the ONNX file; each batch feeds its first input.
        batches: preprocessed inputs, float32 (N, C, H, W).

    Returns:
        (|ONNX Runtime - PyTorch| of every output element, flat float64; the largest |PyTorch| output).
    """
    torch = require("torch")
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    diffs, peak = [], 0.0
    for chunk in batches:
        got = np.asarray(session.run(None, {name: chunk})[0], np.float64)
        with torch.no_grad():
            want = torch_fn(torch.from_numpy(chunk)).numpy().astype(np.float64)
        diffs.append(np.abs(got.reshape(want.shape) - want).ravel())
        peak = max(peak, float(np.max(np.abs(want))))
    return np.concatenate(diffs), peak


def export_onnx(model, output: Union[str, os.PathLike], *, input_size: Optional[Sequence[int]] = None,
                batch: Optional[int] = 1, opset: int = DEFAULT_OPSET, parity: bool = True,
                tolerance: Optional[float] = None) -> ExportResult:
    """Export a ×Net to ONNX (atomically) and check it against PyTorch on real images.

    Args:
        model: an XNet (``xnet_edge.create_model(...)``).
        output: destination ``.onnx`` path.
        input_size: network (H, W); default the model config's.
        batch: static batch size, or None for a dynamic batch axis named ``batch``.
        opset: ONNX opset (>= 17, so LayerNorm is one node).
        parity: run the ONNX Runtime vs PyTorch check.
        tolerance: max abs error allowed by the check (default :func:`default_tolerance`).

    Returns:
        An :class:`ExportResult`.

    Raises:
        UsageError: bad opset, batch or input size.
        XnetEdgeError: the exporter failed, or the parity error is above ``tolerance``
            (the file is then not written).
    """
    onnx = require("onnx")
    check_opset(opset)
    if batch is not None and batch < 1:
        raise UsageError(f"batch must be >= 1, got {batch}")
    config = model.config
    size = tuple(int(v) for v in (input_size or config.input_size))
    stride = int(getattr(model, "output_stride", 32))
    check_input_size(size[0], size[1], stride)
    from .kernels import exportable

    if tolerance is not None and not (math.isfinite(float(tolerance)) and float(tolerance) >= 0):
        raise UsageError(f"tolerance must be a finite number >= 0, got {tolerance}")
    start = time.perf_counter()
    try:
        reference = copy.deepcopy(model).eval().cpu().float()  # parity is checked against the unfolded model
        prepared = prepare_for_export(reference)
        try:
            with exportable(True):  # any fused module left traces its reference ops
                proto = _torch_export(prepared, size, batch, opset)
        except Exception as exc:  # the exporter raises many types; report one line
            if _is_out_of_memory(exc):
                raise
            raise XnetEdgeError(f"ONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
        proto = optimize_graph(proto)
        tidy_graph(proto)
        set_contract_metadata(proto, config, size, stride)
        proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
        onnx.checker.check_model(proto, full_check=True)
        output = Path(output)
        written = next((i.version for i in proto.opset_import if i.domain in ("", "ai.onnx")), opset)
        result = ExportResult(output, size, batch, int(written))  # the opset in the file, not the one asked for
        with atomic_path(output) as tmp:
            tmp.write_bytes(proto.SerializeToString())
            if parity:
                tol = default_tolerance(config) if tolerance is None else float(tolerance)
                with exportable(True):
                    result.parity = check_parity(reference, tmp, size, batch=batch, tolerance=tol)
                if not result.parity.passed:
                    raise XnetEdgeError(parity_failure_message(result.parity, config))
    except (MemoryError, RuntimeError) as exc:
        if not _is_out_of_memory(exc):
            raise
        raise XnetEdgeError(f"out of memory exporting at {size[0]}x{size[1]} (batch {batch or 'dynamic'}): "
                            "use a smaller --input-size or free memory") from None
    result.seconds = time.perf_counter() - start
    result.op_counts = op_counts(proto)
    return result


def op_counts(model_proto) -> dict[str, int]:
    """Number of nodes per op type, most frequent first."""
    counts: dict[str, int] = {}
    for node in model_proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
