"""``--eval``: FP32 vs INT8 accuracy on real ground truth and on held-out images.

* Depth metrics (AbsRel, RMSE, δ1, ...) against the real Middlebury Motorcycle
  depth that ships with scikit-image, with the runtime's pre/post-processing.
* Output-level error of each quantized model against the FP32 model on held-out
  real photos (never used for calibration) and seeded crops of them.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..preprocess import postprocess
from .calibration_images import augmented_crops, builtin_images
from .collect import make_session
from .sensitivity import relative_error


def heldout_inputs(preprocessing, count: int = 8, seed: int = 1234) -> list[np.ndarray]:
    """Held-out network inputs: the builtin held-out photos, then seeded crops of them."""
    images = augmented_crops(builtin_images("heldout"), count, seed)
    return [preprocessing.apply(img)[0] for _, img in images]


def run_one(session, x: np.ndarray) -> np.ndarray:
    """The first output of a one-input ONNX Runtime session."""
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def predict_depth(session, rgb: np.ndarray, preprocessing) -> np.ndarray:
    """Depth at the image's own size, through the runtime's preprocess/postprocess."""
    x, box = preprocessing.apply(rgb)
    out = run_one(session, x)
    return postprocess(out.reshape(out.shape[0], -1, *out.shape[-2:])[0, 0], box)


def onnx_motorcycle_metrics(model_paths: dict[str, str], preprocessing, *, max_depth: Optional[float],
                            align: Optional[str] = "median") -> dict[str, dict]:
    """Depth metrics of each model on the Middlebury Motorcycle scene.

    Args:
        model_paths: ``{label: onnx path}``.
        preprocessing: the model's :class:`~xnet_edge.contract.Preprocessing`.
        max_depth: the model's depth range (ground truth beyond it is ignored).
        align: prediction alignment before the metrics (``None``, ``"median"``, ...).

    Returns:
        ``{label: {metric: value}}``.
    """
    from ..data import open_dataset
    from ..eval import score_sample

    scene, key = open_dataset("motorcycle"), str(align or "none")
    results = {}
    for label, path in model_paths.items():
        session = make_session(str(path))
        _, scores = score_sample(lambda rgb: predict_depth(session, rgb, preprocessing), scene, aligns=(align,),
                                 max_depth=max_depth)
        results[label] = scores[key]
    return results


def heldout_errors(reference_path: str, model_paths: dict[str, str], inputs: Sequence[np.ndarray]) -> dict[str, dict]:
    """Output error of each model against the FP32 reference on held-out inputs.

    Returns:
        ``{label: {"relative_error", "max_abs"}}``.
    """
    ref_session = make_session(str(reference_path))
    refs = [run_one(ref_session, x) for x in inputs]
    out = {}
    for label, path in model_paths.items():
        session = make_session(str(path))
        outs = [run_one(session, x) for x in inputs]
        out[label] = {"relative_error": relative_error(outs, refs),
                      "max_abs": float(max(np.max(np.abs(o - r)) for o, r in zip(outs, refs)))}
    return out


def evaluate_models(fp32_path: str, quantized: dict[str, str], preprocessing, *, task: str,
                    max_depth: Optional[float], align: Optional[str] = "median", heldout: int = 8) -> dict:
    """The ``eval`` block of the calibration report.

    Args:
        fp32_path: the FP32 ONNX model.
        quantized: ``{label: onnx path}`` of the INT8 (and FP16) models.
        preprocessing: the model's :class:`~xnet_edge.contract.Preprocessing`.
        task: ``depth`` (Motorcycle metrics are computed) or ``segmentation`` (held-out error only).
        max_depth: the model's depth range.
        align: alignment for the depth metrics.
        heldout: number of held-out inputs.
    """
    inputs = heldout_inputs(preprocessing, heldout)
    result = {"heldout": {"num_images": len(inputs), "errors": heldout_errors(fp32_path, quantized, inputs)}}
    if task == "depth":
        metrics = onnx_motorcycle_metrics({"fp32": fp32_path, **quantized}, preprocessing,
                                          max_depth=max_depth, align=align)
        result["motorcycle"] = {"align": align, "max_depth": max_depth, "metrics": metrics}
    return result
