"""The evaluation loop: run any predictor over a dataset and report depth metrics."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import UsageError, XnetEdgeError
from .metrics import DEPTH_METRIC_KEYS, align_prediction, check_alignment, depth_metrics, mean_metrics


class JsonReport:
    """``to_dict`` for the report dataclasses of the evaluation loops."""

    def to_dict(self, per_image: bool = True) -> dict:
        """JSON-ready dict (``per_image`` dropped when False)."""
        out = asdict(self)
        if not per_image:
            out.pop("per_image")
        return out


@dataclass
class EvalReport(JsonReport):
    """What :func:`evaluate` measured.

    Attributes:
        dataset: the dataset's name; protocol: its min/max depth and crop.
        align: the alignment used (None, "median", "lstsq", "lstsq-shift", "disparity").
        images: images evaluated; skipped: images without a valid ground-truth pixel.
        metrics: mean over images of each metric in ``DEPTH_METRIC_KEYS``.
        seconds_per_image: mean wall time of ``predictor.predict`` (pre/post-processing included).
        per_image: one metrics dict per evaluated image (with its ``index``).
    """

    dataset: str
    protocol: dict
    align: Optional[str]
    images: int
    skipped: int
    metrics: dict
    seconds_per_image: float
    per_image: list = field(default_factory=list)

    def table_row(self) -> dict:
        """One row of formatted numbers for :func:`xnet_edge.tables.print_table`."""
        row = {"dataset": self.dataset, "align": self.align or "none", "images": self.images}
        row.update({k: _format(self.metrics[k]) for k in DEPTH_METRIC_KEYS})
        row["ms/img"] = f"{1e3 * self.seconds_per_image:.1f}"
        return row


TABLE_COLUMNS = ["dataset", "align", "images", *DEPTH_METRIC_KEYS, "ms/img"]


def _format(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def _resize_to(depth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a prediction to the ground truth's (H, W) when they differ."""
    if depth.shape == shape:
        return depth
    from .._deps import require

    cv2 = require("cv2")
    return cv2.resize(depth.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _predict(predictor: Any, rgb: np.ndarray) -> np.ndarray:
    fn = getattr(predictor, "predict", predictor)
    depth = np.asarray(fn(rgb), dtype=np.float32)
    if depth.ndim == 3 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise XnetEdgeError(f"predictor returned shape {depth.shape}; expected an HxW depth map")
    return depth


def depth_range(dataset, min_depth: Optional[float] = None,
                max_depth: Optional[float] = None) -> tuple[float, Optional[float]]:
    """The evaluation range: the overrides, else the dataset's (1e-3 m .. no cap by default).

    Raises:
        UsageError: a bound that is not finite, a negative minimum, or a cap not above the minimum.
    """
    lo = min_depth if min_depth is not None else getattr(dataset, "min_depth", 1e-3)
    hi = max_depth if max_depth is not None else getattr(dataset, "max_depth", None)
    if not math.isfinite(lo) or lo < 0:
        raise UsageError(f"the minimum depth must be a finite number >= 0, got {lo}")
    if hi is not None and (not math.isfinite(hi) or hi <= lo):
        raise UsageError(f"the depth cap must be a finite number above the minimum depth ({lo:g} m), got {hi}")
    return lo, hi


def score_depth(pred: np.ndarray, gt: np.ndarray, dataset=None, *, align: Optional[str] = None,
                min_depth: Optional[float] = None, max_depth: Optional[float] = None) -> dict:
    """Depth metrics of one prediction under a dataset's protocol: the piece of :func:`evaluate` per image.

    Args:
        pred: predicted depth in metres, HxW (resized to the ground truth's size when it differs).
        gt: the ground-truth depth.
        dataset: whose depth range and crop apply (None: 1e-3 m, no cap, no crop).
        align: None, "median", "lstsq" or "lstsq-shift".
        min_depth, max_depth: override the dataset's range.

    Returns:
        :func:`~xnet_edge.eval.metrics.depth_metrics` of the prediction.
    """
    pred, gt, protocol = _protocol(pred, gt, dataset, min_depth, max_depth)
    return depth_metrics(pred, gt, align=align, **protocol)


def aligned_depth(pred: np.ndarray, gt: np.ndarray, dataset=None, *, align: Optional[str] = "median",
                  min_depth: Optional[float] = None, max_depth: Optional[float] = None) -> np.ndarray:
    """The prediction as :func:`score_depth` aligns it: same pixels, same fit (for pictures).

    Args:
        pred, gt, dataset, min_depth, max_depth: as for :func:`score_depth`.
        align: the alignment to apply.

    Returns:
        float32 depth at the ground truth's size.
    """
    pred, gt, protocol = _protocol(pred, gt, dataset, min_depth, max_depth)
    return align_prediction(pred, gt, align, **protocol)


def _protocol(pred, gt, dataset, min_depth, max_depth) -> tuple[np.ndarray, np.ndarray, dict]:
    """Prediction and ground truth at one size, and the dataset's range and mask."""
    lo, hi = depth_range(dataset, min_depth, max_depth)
    gt = np.asarray(gt, dtype=np.float32)
    pred = _resize_to(np.asarray(pred, dtype=np.float32), gt.shape)
    mask = dataset.eval_mask(*gt.shape) if hasattr(dataset, "eval_mask") else None
    return pred, gt, {"min_depth": lo, "max_depth": hi, "mask": mask}


def score_sample(predictor: Any, dataset, index: int = 0, *, aligns=(None,), min_depth: Optional[float] = None,
                 max_depth: Optional[float] = None) -> tuple[np.ndarray, dict]:
    """Predict one sample of ``dataset`` once and score it under each alignment.

    ``score_sample(Runtime(engine), open_dataset("motorcycle"), aligns=(None, "median"))`` is the
    Middlebury Motorcycle score the demo, ``calibrate --eval`` and the training report give.

    Args:
        predictor: as for :func:`evaluate`.
        dataset: a dataset (or any indexable of (rgb, depth) pairs).
        index: which sample.
        aligns: the alignments to score.
        min_depth, max_depth: override the dataset's range.

    Returns:
        (the prediction, ``{align name ("none", "median", ...): metrics}``).
    """
    rgb, gt = dataset[index]
    pred = _predict(predictor, rgb)
    return pred, {str(a or "none"): score_depth(pred, gt, dataset, align=a, min_depth=min_depth, max_depth=max_depth)
                  for a in aligns}


def evaluate(predictor: Any, dataset, *, max_images: Optional[int] = None, align: Optional[str] = None,
             min_depth: Optional[float] = None, max_depth: Optional[float] = None,
             progress: bool = True) -> EvalReport:
    """Run ``predictor`` on every sample of ``dataset`` and average the depth metrics.

    Args:
        predictor: any object with ``predict(rgb uint8 HxWx3) -> HxW float32 metres``
            (a :class:`xnet_edge.runtime.Runtime`, a model from ``create_model``), or such a callable.
        dataset: a :class:`~xnet_edge.data.base.DepthDataset` (or any sized iterable of
            (rgb, depth) pairs; then no crop applies and the depth range defaults to 1e-3 m .. no cap).
        max_images: evaluate only the first N samples.
        align: None, "median", "lstsq", "lstsq-shift" or "disparity", fitted per image.
        min_depth, max_depth: override the dataset's evaluation range.
        progress: show a tqdm progress bar.

    Returns:
        An :class:`EvalReport`.

    Raises:
        UsageError: unknown ``align``, ``max_images`` < 1, a bad depth range.
        XnetEdgeError: the predictor returned something that is not a depth map.
    """
    check_alignment(align)
    if max_images is not None and max_images < 1:
        raise UsageError(f"max_images must be at least 1, got {max_images}")
    lo, hi = depth_range(dataset, min_depth, max_depth)
    total = len(dataset) if max_images is None else min(len(dataset), max_images)
    from tqdm.auto import tqdm

    per_image, skipped, predict_time, abs_rel_sum = [], 0, 0.0, 0.0
    bar = tqdm(total=total, desc=f"eval {getattr(dataset, 'name', 'dataset')}", unit="img", disable=not progress)
    for index, (rgb, gt) in enumerate(itertools.islice(dataset, total)):
        start = time.perf_counter()
        pred = _predict(predictor, rgb)
        predict_time += time.perf_counter() - start
        m = score_depth(pred, gt, dataset, align=align, min_depth=lo, max_depth=hi)
        if np.isnan(m["abs_rel"]):
            skipped += 1
        else:
            per_image.append({"index": index, **m})
            abs_rel_sum += m["abs_rel"]
            bar.set_postfix(abs_rel=f"{abs_rel_sum / len(per_image):.3f}")
        bar.update(1)
    bar.close()
    protocol = {"min_depth": lo, "max_depth": hi,
                "crop": getattr(getattr(dataset, "crop", None), "name", None)}
    return EvalReport(dataset=getattr(dataset, "name", type(dataset).__name__), protocol=protocol, align=align,
                      images=len(per_image), skipped=skipped, metrics=mean_metrics(per_image),
                      seconds_per_image=predict_time / max(total, 1), per_image=per_image)
