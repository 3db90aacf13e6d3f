"""Hugging Face ``transformers`` depth models (extra ``[hf]``): build, load and export to ONNX.

:func:`export_hf_depth` (``xnet-edge export --hf DIR``) turns a local ``save_pretrained``
folder of a DPT, Depth Anything or GLPN model into an ONNX file with the xnet-edge contract:
the preprocessing comes from the folder's image processor config (mean/std, 0..1 rescaling,
size), the output kind from the model type (Depth Anything / DPT: relative inverse depth;
GLPN and metric Depth Anything: metres), and the file is written through
:func:`xnet_edge.adopt.adopt_onnx`, the same contract ``adopt`` writes.

``transformers`` is imported by these functions only, through :func:`import_transformers`:
``transformers`` probes for an unrelated package named ``kernels``, and from this
repository's root it would find the top-level ``kernels/`` folder instead.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ._deps import require
from .contract import OutputSemantics, Preprocessing
from .errors import UsageError, XnetEdgeError

#: Depth Anything V2 Small's backbone: ViT-S/14 (DINOv2), 384 wide, 12 blocks, 6 heads.
DEPTH_ANYTHING_SMALL = {"hidden": 384, "layers": 12, "heads": 6}


def random_depth_anything(hidden: int = 64, layers: int = 4, heads: int | None = None, seed: int = 0):
    """A ``DepthAnythingForDepthEstimation`` with random weights: DINOv2 blocks + DPT head.

    Args:
        hidden: ViT width (384 for Depth Anything Small).
        layers: ViT blocks (12 for Small); the DPT head reads four of them.
        heads: attention heads (default ``hidden // 64``, at least 1).
        seed: torch seed.

    Returns:
        The model in eval mode; its output ``predicted_depth`` (N, H, W) is relative inverse depth.
    """
    torch = require("torch")
    tf = import_transformers()
    torch.manual_seed(seed)
    stages = [f"stage{max(1, round(layers * i / 4))}" for i in range(1, 5)]
    backbone = tf.Dinov2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads or max(1, hidden // 64),
                               intermediate_size=hidden * 4, patch_size=14, image_size=518, out_features=stages,
                               reshape_hidden_states=False)
    config = tf.DepthAnythingConfig(backbone_config=backbone, fusion_hidden_size=max(16, hidden // 6),
                                    neck_hidden_sizes=[hidden // 8, hidden // 4, hidden // 2, hidden],
                                    reassemble_hidden_size=hidden, head_hidden_size=max(8, hidden // 12),
                                    depth_estimation_type="relative")
    return tf.DepthAnythingForDepthEstimation(config).eval()


def load_depth_model(folder: str | os.PathLike):
    """A ``save_pretrained`` depth model folder (DPT, Depth Anything, GLPN), offline."""
    tf = import_transformers()
    return tf.AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True).eval()


def export_depth_model(model, path: str | os.PathLike, input_size: Sequence[int], opset: int = 17) -> Path:
    """Export a ``transformers`` depth model to ONNX as its own project would: input
    ``pixel_values`` (1, 3, H, W), output ``predicted_depth``. ``xnet-edge adopt`` takes it from there.

    Args:
        model: a ``*ForDepthEstimation`` model.
        path: the ``.onnx`` to write.
        input_size: (H, W), multiples of the patch size (14) for ViT models.
        opset: ONNX opset.
    """
    torch = require("torch")

    class _Depth(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).predicted_depth

    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        # the wrapper in eval mode too: the exporter restores the wrapper's mode afterwards, recursively,
        # and a model left in training mode would update its BatchNorm statistics on its next call
        torch.onnx.export(_Depth(model).eval(), torch.zeros(1, 3, *input_size), str(path),
                          input_names=["pixel_values"], output_names=["predicted_depth"], opset_version=opset,
                          dynamo=False)
    return path


# --------------------------------------------------------------------------- export --hf

#: model types ``export --hf`` takes: what their ``predicted_depth`` means and their size multiple
#: (``"patch"``: the ViT patch size from the config)
DEPTH_MODEL_TYPES = {"depth_anything": ("inverse-depth", "patch"), "dpt": ("inverse-depth", "patch"),
                     "glpn": ("metric-depth", 32)}
#: the check photo for the PyTorch vs ONNX Runtime comparison (scikit-image)
PARITY_IMAGE = "astronaut"


@dataclass
class HfExportResult:
    """What :func:`export_hf_depth` wrote.

    Attributes:
        path: the ONNX file (contract input ``image``, output ``depth``).
        model_type: the ``transformers`` model type (``depth_anything``, ``dpt``, ``glpn``).
        preprocessing, output: the contract blocks written.
        parity_max_abs: largest |ONNX Runtime - PyTorch| on a real photo (None when skipped).
        tolerance: the limit it was held to (None when skipped).
        notes: where the preprocessing came from, in words.
    """

    path: Path
    model_type: str
    preprocessing: Preprocessing
    output: OutputSemantics
    parity_max_abs: Optional[float] = None
    tolerance: Optional[float] = None
    notes: list[str] = field(default_factory=list)


def import_transformers():
    """``transformers``, with this repository's top-level ``kernels/`` folder kept out of its probe.

    ``transformers`` checks whether the Hugging Face ``kernels`` package is installed by
    importing ``kernels``. With this repository's root on ``sys.path`` (``python -m`` from
    the root) that finds the top-level ``kernels/`` folder, which installs as
    ``xnet_edge.kernels`` and fails as a top-level package; it is marked as absent instead.

    Raises:
        MissingDependencyError: transformers is not installed (names the ``[hf]`` extra).
    """
    if "kernels" not in sys.modules:
        spec = importlib.util.find_spec("kernels")
        ours = Path(__file__).resolve().parent.parent / "kernels"
        if spec is not None and spec.origin and Path(spec.origin).resolve().parent == ours.resolve():
            sys.modules["kernels"] = None  # type: ignore[assignment]  # find_spec("kernels") is None now
    return require("transformers")


def read_hf_config(folder: str | os.PathLike) -> dict:
    """The ``config.json`` of a ``save_pretrained`` folder, checked to be a depth model export takes.

    Raises:
        UsageError: no such folder, no ``config.json``, or a model type that is not one of
            :data:`DEPTH_MODEL_TYPES`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--hf {folder}: no such folder (expected a transformers save_pretrained folder)")
    path = folder / "config.json"
    if not path.is_file():
        raise UsageError(f"--hf {folder}: no config.json; expected the folder model.save_pretrained() writes")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--hf {folder}: config.json is not readable JSON ({exc})") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in DEPTH_MODEL_TYPES:
        architectures = ", ".join((config.get("architectures") or []) if isinstance(config, dict) else [])
        raise UsageError(f"--hf {folder}: a {kind!r} model{f' ({architectures})' if architectures else ''} is not "
                         f"a depth model export takes ({', '.join(DEPTH_MODEL_TYPES)}); for another ONNX model "
                         "use `xnet-edge adopt`")
    return config


def hf_output(config: dict) -> OutputSemantics:
    """What ``predicted_depth`` means for a model config: relative inverse depth (DPT, Depth
    Anything) or metres (GLPN, Depth Anything with ``depth_estimation_type="metric"``)."""
    kind = DEPTH_MODEL_TYPES[config["model_type"]][0]
    if config["model_type"] == "depth_anything" and config.get("depth_estimation_type") == "metric":
        kind = "metric-depth"
    max_depth = config.get("max_depth") if kind == "metric-depth" else None
    return OutputSemantics(kind, None, float(max_depth) if max_depth else None)


def size_multiple(config: dict, processor: dict) -> int:
    """H and W must be multiples of this: the ViT patch size (DPT, Depth Anything) or 32 (GLPN),
    combined with the processor's ``ensure_multiple_of`` / ``size_divisor``."""
    rule = DEPTH_MODEL_TYPES[config["model_type"]][1]
    if rule == "patch":
        backbone = config.get("backbone_config") or {}
        multiple = int(backbone.get("patch_size") or config.get("patch_size") or 16)
    else:
        multiple = int(rule)
    for key in ("ensure_multiple_of", "size_divisor"):
        if processor.get(key):
            multiple = math.lcm(multiple, int(processor[key]))
    return multiple


def processor_preprocessing(processor: dict, input_size: Sequence[int], multiple: int) -> Preprocessing:
    """The contract's preprocessing from an image processor config.

    A processor feeds ``(rgb * rescale_factor - image_mean) / image_std`` (without the
    division when ``do_normalize`` is false, without the rescale when ``do_rescale`` is
    false); the contract feeds ``scale * (rgb / 255 - mean) / std``. Both are the same map.

    Raises:
        UsageError: a processor value this cannot express (std <= 0, rescale_factor <= 0).
    """
    factor = float(processor.get("rescale_factor", 1 / 255)) if processor.get("do_rescale", True) else 1.0
    normalize = bool(processor.get("do_normalize", False))
    m = np.asarray(processor.get("image_mean") or (0.0,) * 3, np.float64) if normalize else np.zeros(3)
    s = np.asarray(processor.get("image_std") or (1.0,) * 3, np.float64) if normalize else np.ones(3)
    m, s = np.broadcast_to(m, 3), np.broadcast_to(s, 3)
    if factor <= 0 or np.any(s <= 0):
        raise UsageError(f"the image processor's rescale_factor {factor:g} and image_std {list(s)} must be > 0")
    if abs(factor * 255 - 1) < 1e-6:  # 0..1 input: the contract's units
        scale, mean, std = 1.0, m, s
    elif factor == 1.0:  # 0..255 input
        scale, mean, std = 255.0, m / 255, s
    else:
        scale, mean, std = 1.0, m / (255 * factor), s / (255 * factor)
    return Preprocessing((int(input_size[0]), int(input_size[1])), tuple(float(v) for v in mean),
                         tuple(float(v) for v in std), scale=scale, multiple=multiple)


def _processor_config(folder: Path, model_type: str, tf) -> tuple[dict, str]:
    """The folder's ``preprocessor_config.json``, else the defaults of the processor class
    ``transformers`` uses for this model type; and where it came from, in words."""
    path = folder / "preprocessor_config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), f"preprocessing from {path.name}"
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"--hf {folder}: preprocessor_config.json is not readable JSON ({exc})") from None
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    name = (names.get("torchvision") or names.get("pil")) if isinstance(names, dict) else \
        (names[0] if isinstance(names, (list, tuple)) else names)
    try:
        processor = getattr(tf, name)() if name else None
    except (AttributeError, ImportError, TypeError, ValueError):  # a processor this transformers cannot build
        processor = None
    if processor is None:
        raise UsageError(f"--hf {folder}: no preprocessor_config.json, and transformers names no image processor "
                         f"for {model_type!r}; save the processor with image_processor.save_pretrained(folder)")
    keys = ("do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std", "size",
            "ensure_multiple_of", "size_divisor")
    values = {k: getattr(processor, k, None) for k in keys}
    size = values.get("size")
    if size is not None and not isinstance(size, dict):
        values["size"] = {"height": getattr(size, "height", None), "width": getattr(size, "width", None)}
    return ({k: v for k, v in values.items() if v is not None},
            f"no preprocessor_config.json: {name}'s defaults")


def _network_size(processor: dict, input_size: Optional[Sequence[int]], multiple: int,
                  folder: Path) -> tuple[tuple[int, int], Optional[str]]:
    """The size asked for, else the processor's rounded to the multiple (as its resize does); and a note."""
    if input_size is not None:
        return (int(input_size[0]), int(input_size[1])), None
    size = processor.get("size") or {}
    if not (isinstance(size, dict) and size.get("height") and size.get("width")):
        raise UsageError(f"--hf {folder}: its image processor gives no fixed size; give --input-size HxW "
                         f"(multiples of {multiple})")
    from .preprocess import nearest_valid_size

    asked = int(size["height"]), int(size["width"])
    fitted = nearest_valid_size(asked[0], asked[1], multiple)
    note = f"input size {fitted[0]}x{fitted[1]}: the image processor's size {asked[0]}x{asked[1]}" + (
        f" rounded to a multiple of {multiple}" if fitted != asked else "") + " (--input-size sets another)"
    return fitted, note


def export_hf_depth(folder: str | os.PathLike, output: str | os.PathLike, *,
                    input_size: Optional[Sequence[int]] = None, opset: int = 17, parity: bool = True,
                    tolerance: Optional[float] = None) -> HfExportResult:
    """Export a local ``transformers`` depth model folder to ONNX with the xnet-edge contract.

    Args:
        folder: a ``save_pretrained`` folder (``config.json`` + weights; ``preprocessor_config.json``
            when the image processor was saved too). Nothing is downloaded.
        output: the ``.onnx`` to write (atomically; nothing is written on any error).
        input_size: network (H, W), multiples of the model's size multiple; default: the processor's
            size rounded to the multiple.
        opset: ONNX opset.
        parity: compare ONNX Runtime with PyTorch on a real photo, and refuse above ``tolerance``.
        tolerance: the largest |difference| allowed (default 1e-4 x the largest |PyTorch output|).

    Returns:
        An :class:`HfExportResult`.

    Raises:
        UsageError: no such folder, not a depth model it takes, a size that breaks the multiple.
        MissingDependencyError: transformers (``[hf]``) or torch is missing.
        XnetEdgeError: the export, the ONNX Runtime check or the parity check failed.
    """
    from .adopt import adopt_onnx
    from .io_utils import atomic_path

    folder, output = Path(folder), Path(output)
    if output.suffix != ".onnx":
        raise UsageError(f"-o must name a .onnx file, got {output}")
    config = read_hf_config(folder)
    tf = import_transformers()
    processor, source = _processor_config(folder, config["model_type"], tf)
    multiple = size_multiple(config, processor)
    size, size_note = _network_size(processor, input_size, multiple, folder)
    pre = processor_preprocessing(processor, size, multiple)
    pre = pre.with_input_size(pre.input_size)  # refuses a size that breaks the multiple, naming a valid one
    _check_square(config, pre.input_size, folder)
    semantics = hf_output(config)
    model = _load(folder, tf)
    with tempfile.TemporaryDirectory(prefix="xnet-edge-hf-") as tmp:
        try:
            raw = export_depth_model(model, Path(tmp) / "raw.onnx", pre.input_size, opset=opset)
        except Exception as exc:  # the exporter and the model's own code raise many unrelated types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise XnetEdgeError(f"exporting {folder} to ONNX at {pre.input_size[0]}x{pre.input_size[1]} failed: "
                                f"{first[:300]}") from None
        adopted = Path(tmp) / output.name
        adopt_onnx(raw, adopted, output_kind=semantics.kind, mean=pre.mean, std=pre.std, scale=pre.scale,
                   channels=pre.channels, multiple=multiple, max_depth=semantics.max_depth,
                   source={"name": folder.name, "transformers_model_type": config["model_type"],
                           "architectures": config.get("architectures") or []})
        result = HfExportResult(output, config["model_type"], pre, semantics,
                                notes=[source] + ([size_note] if size_note else []))
        if parity:
            result.parity_max_abs, result.tolerance = _parity(model, adopted, pre, tolerance)
        with atomic_path(output) as staged:
            shutil.copyfile(adopted, staged)
    return result


def _check_square(config: dict, size: Sequence[int], folder: Path) -> None:
    """DPT with its own ViT (no ``backbone_config``; DPT-Large, DPT-Hybrid) lays the patch grid
    out as a square, so it takes square inputs only."""
    if config["model_type"] == "dpt" and not config.get("backbone_config") and size[0] != size[1]:
        raise UsageError(f"--hf {folder}: DPT with its own ViT takes square inputs only (transformers lays its "
                         f"patches out as a square); use --input-size {max(size)}x{max(size)} or "
                         f"{min(size)}x{min(size)}")


def _load(folder: Path, tf):
    tf.utils.logging.disable_progress_bar()  # "Loading weights" bars on stderr; the command prints its own lines
    try:
        return tf.AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True).eval()
    except (OSError, ValueError, KeyError) as exc:  # missing/corrupt weights, a config transformers refuses
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"--hf {folder}: transformers cannot load it: {first[:300]}") from None


def _parity(model, onnx_path: Path, pre: Preprocessing, tolerance: Optional[float]) -> tuple[float, float]:
    """ONNX Runtime vs PyTorch on one real photo preprocessed through the contract."""
    from .export import ort_vs_torch
    from .images import skimage_photo

    x, _ = pre.apply(skimage_photo(PARITY_IMAGE))
    diff, peak = ort_vs_torch(lambda t: model(pixel_values=t).predicted_depth, onnx_path, [x])
    max_abs = float(diff.max())
    limit = tolerance if tolerance is not None else 1e-4 * max(peak, 1e-6)
    if not max_abs <= limit:
        raise XnetEdgeError(f"ONNX Runtime's output differs from PyTorch's by up to {max_abs:.3g} on a real photo, "
                            f"above the limit of {limit:.3g}; nothing was written (raise it with --tolerance, "
                            "or skip the check with --no-parity)")
    return max_abs, limit
