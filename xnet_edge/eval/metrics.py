"""Depth and segmentation metrics (numpy only).

Depth metrics follow the definitions used by Eigen et al. and the BTS /
AdaBins / Depth Anything evaluation code, computed per image over valid pixels
(``d`` = ground truth, ``p`` = prediction, means over valid pixels):

============  ==========================================================
abs_rel       mean(|d - p| / d)
sq_rel        mean((d - p)^2 / d)
rmse          sqrt(mean((d - p)^2))                     (metres)
rmse_log      sqrt(mean((ln d - ln p)^2))
log10         mean(|log10 d - log10 p|)
d1, d2, d3    fraction of pixels with max(d/p, p/d) < 1.25, 1.25^2, 1.25^3
silog         100 * sqrt(mean(e^2) - mean(e)^2), e = ln p - ln d
============  ==========================================================

A pixel is valid where the ground truth is finite, positive and inside
``[min_depth, max_depth]`` (and inside ``mask`` if given). Predictions are
aligned (optionally), then clipped to ``[min_depth, max_depth]`` -- the standard
protocol, which also keeps the logarithms finite.

Alignment for models without a metric scale (:data:`DEFAULT_ALIGNMENT`): affine-invariant
depth gets a least-squares scale and shift in depth (``lstsq-shift``); inverse depth and
disparity (MiDaS, Depth Anything) get it in inverse-depth space (``lstsq-shift-inverse``: fit
``s * p + t`` to ``1 / d``, then ``p' = 1 / max(s * p + t, 1 / max_depth)``), the zero-shot
protocol of MiDaS (Ranftl et al., 2020) and Depth Anything (Yang et al., 2024). Metric models
are scored as predicted, and median-scaled when asked.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import UsageError

DEPTH_METRIC_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3", "silog")
#: Metrics where larger is better (the others: smaller is better).
HIGHER_IS_BETTER = frozenset({"d1", "d2", "d3"})
ALIGN_MODES = (None, "median", "lstsq", "lstsq-shift", "disparity", "lstsq-shift-inverse")
_ALIGN_HELP = "use none, median, lstsq, lstsq-shift, disparity or lstsq-shift-inverse"
#: Ground-truth label that segmentation metrics and losses skip (the VOC / Cityscapes "void").
IGNORE_INDEX = 255
#: The standard alignment for each depth output kind (see the module docstring).
DEFAULT_ALIGNMENT = {"metric-depth": None, "relative-depth": "lstsq-shift", "inverse-depth": "lstsq-shift-inverse",
                     "disparity": "lstsq-shift-inverse"}


def default_alignment(output_kind: str) -> Optional[str]:
    """The standard alignment for a model's output kind (None: metric depth, scored as predicted).

    Raises:
        UsageError: not a depth output kind.
    """
    if output_kind not in DEFAULT_ALIGNMENT:
        raise UsageError(f"{output_kind!r} is not a depth output kind ({', '.join(DEFAULT_ALIGNMENT)})")
    return DEFAULT_ALIGNMENT[output_kind]


def report_alignments(output_kind: str) -> tuple[Optional[str], ...]:
    """Alignments reported side by side: metric depth as predicted and median-scaled; any other
    depth kind with its standard alignment only (raw relative values are not depths)."""
    align = default_alignment(output_kind)
    return (None, "median") if align is None else (align,)


def valid_depth_mask(gt, min_depth: float = 1e-3, max_depth: Optional[float] = None, mask=None):
    """Pixels whose ground truth counts: finite, > 0, within [min_depth, max_depth], inside ``mask``.

    The one rule for the metrics and the training loss: ``gt`` may be a numpy array or a
    torch tensor (torch is not imported here; a tensor is recognized by its ``isfinite`` method).

    Args:
        gt: ground-truth depth in metres, any shape.
        min_depth, max_depth: the range that counts (max_depth None = no cap).
        mask: optional boolean mask of the same kind, broadcastable to ``gt``.

    Returns:
        A boolean array (or tensor) shaped like ``gt``.
    """
    is_tensor = not isinstance(gt, np.ndarray) and callable(getattr(gt, "isfinite", None))
    if not is_tensor:
        gt = np.asarray(gt)
    with np.errstate(invalid="ignore"):
        valid = (gt.isfinite() if is_tensor else np.isfinite(gt)) & (gt > 0) & (gt >= min_depth)
        if max_depth is not None:
            valid = valid & (gt <= max_depth)
    if mask is not None:
        valid = valid & (mask.bool() if is_tensor else np.asarray(mask, dtype=bool))
    return valid


def check_alignment(align: Optional[str]) -> None:
    """Refuse an alignment the metrics do not know.

    Raises:
        UsageError: ``align`` is not one of :data:`ALIGN_MODES`.
    """
    if align not in ALIGN_MODES:
        raise UsageError(f"unknown alignment {align!r}: {_ALIGN_HELP}")


def fit_alignment(pred: np.ndarray, gt: np.ndarray, mode: Optional[str]) -> tuple[float, float]:
    """Scale and shift (s, t) that map ``pred`` onto ``gt`` (1-D arrays of valid pixels).

    Args:
        pred, gt: matching 1-D arrays (positive for "disparity").
        mode: None (s=1, t=0), "median" (s = median(gt) / median(pred)),
            "lstsq" (least-squares scale, t=0), "lstsq-shift" (least-squares scale and shift),
            or "disparity": least-squares scale and shift of 1/pred onto 1/gt (the pair then
            acts on inverse depth: aligned depth = 1 / (s / pred + t)).

    Raises:
        UsageError: unknown mode.
    """
    check_alignment(mode)
    p, g = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if mode == "disparity":
        return fit_alignment(1.0 / p, 1.0 / g, "lstsq-shift") if p.size else (1.0, 0.0)
    if mode is None or p.size == 0:
        return 1.0, 0.0
    if mode == "median":
        mp = float(np.median(p))
        return (float(np.median(g)) / mp if mp > 0 else 1.0), 0.0
    if mode == "lstsq":
        pp = float(p @ p)
        return (float(p @ g) / pp if pp > 0 else 1.0), 0.0
    # lstsq-shift(-inverse): solve [[sum p^2, sum p], [sum p, n]] [s, t] = [sum p g, sum g]
    a = np.array([[p @ p, p.sum()], [p.sum(), float(p.size)]])
    b = np.array([p @ g, g.sum()])
    if abs(np.linalg.det(a)) < 1e-12 * max(1.0, abs(a[0, 0] * a[1, 1])):
        return 1.0, float(g.mean() - p.mean())  # constant prediction: shift only
    s, t = np.linalg.solve(a, b)
    return float(s), float(t)


def _metrics_1d(p: np.ndarray, g: np.ndarray) -> dict:
    err = g - p
    log_err = np.log(p) - np.log(g)
    ratio = np.maximum(g / p, p / g)
    silog_var = max(float(np.mean(log_err ** 2) - np.mean(log_err) ** 2), 0.0)
    return {
        "abs_rel": float(np.mean(np.abs(err) / g)),
        "sq_rel": float(np.mean(err ** 2 / g)),
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        "rmse_log": float(np.sqrt(np.mean(log_err ** 2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "d1": float(np.mean(ratio < 1.25)),
        "d2": float(np.mean(ratio < 1.25 ** 2)),
        "d3": float(np.mean(ratio < 1.25 ** 3)),
        "silog": 100.0 * float(np.sqrt(silog_var)),
    }


def _aligner(p: np.ndarray, g: np.ndarray, align: Optional[str], min_depth: float, max_depth: Optional[float]):
    """Fit ``align`` on the valid pairs (p, g); return the map it applies to any prediction,
    ending clipped to [min_depth, max_depth]."""
    finite = np.isfinite(p)
    cap = np.inf if max_depth is None else max_depth
    if align == "lstsq-shift-inverse":  # p is inverse depth itself: align it to 1/d, then invert
        scale, shift = fit_alignment(p[finite], 1.0 / g[finite], align)
        floor = 1.0 / (max_depth if max_depth is not None else float(g.max()))
        return lambda q: np.clip(1.0 / np.maximum(q * scale + shift, floor), min_depth, cap)
    if align == "disparity":
        finite &= p > 0
        scale, shift = fit_alignment(p[finite], g[finite], align)
        nearest = 0.1 / g.max()  # at most 10x the farthest ground truth
        return lambda q: np.clip(1.0 / np.maximum(scale / np.where(q > 0, q, np.inf) + shift, nearest), min_depth, cap)
    scale, shift = fit_alignment(p[finite], g[finite], align)
    return lambda q: np.clip(q * scale + shift, min_depth, cap)


def _as_prediction(pred, min_depth: float) -> np.ndarray:
    # NaN predictions count as the worst near value; +inf is clipped to the cap later
    return np.nan_to_num(np.asarray(pred, np.float64), nan=min_depth, posinf=np.inf, neginf=min_depth)


def _valid_pairs(pred, gt, valid, min_depth) -> tuple[np.ndarray, np.ndarray]:
    return _as_prediction(pred[valid], min_depth), gt[valid].astype(np.float64)


def _image_metrics(pred, gt, valid, min_depth, max_depth, align) -> Optional[dict]:
    if not valid.any():
        return None
    p, g = _valid_pairs(pred, gt, valid, min_depth)
    return _metrics_1d(_aligner(p, g, align, min_depth, max_depth)(p), g)


def align_prediction(pred, gt, align: Optional[str], *, min_depth: float = 1e-3,
                     max_depth: Optional[float] = None, mask=None) -> np.ndarray:
    """The whole prediction under the alignment :func:`depth_metrics` fits (for pictures of it).

    The fit uses exactly the pixels and the rule the metrics use, so
    ``depth_metrics(align_prediction(p, g, a), g)`` equals ``depth_metrics(p, g, align=a)``.

    Args:
        pred, gt: one HxW prediction and its ground truth (numpy).
        align: an alignment of :func:`depth_metrics`.
        min_depth, max_depth, mask: the evaluation range and mask.

    Returns:
        float32 HxW: the aligned prediction clipped to the range (the input unchanged where no
        pixel is valid).

    Raises:
        UsageError: unknown ``align``.
    """
    check_alignment(align)
    pred, gt = np.asarray(pred), np.asarray(gt)
    valid = valid_depth_mask(gt, min_depth, max_depth, mask)
    if not valid.any():
        return pred.astype(np.float32)
    p, g = _valid_pairs(pred, gt, valid, min_depth)
    return _aligner(p, g, align, min_depth, max_depth)(_as_prediction(pred, min_depth)).astype(np.float32)


def depth_metrics(pred, gt, *, min_depth: float = 1e-3, max_depth: Optional[float] = None,
                  align: Optional[str] = None, mask=None) -> dict:
    """Standard depth metrics of ``pred`` against ``gt``.

    Args:
        pred: predicted depth in metres, (H, W) or a batch (N, H, W).
        gt: ground-truth depth, same shape; non-finite or non-positive values are ignored.
        min_depth, max_depth: the evaluation range; ground truth outside it is
            ignored and predictions are clipped to it (max_depth None = no cap).
        align: None, "median", "lstsq" (scale) or "lstsq-shift" (scale and shift),
            or "disparity" (scale and shift of inverse depth, for ground truth that is only known
            up to an affine map of disparity), fitted per image on the valid pixels.
        mask: optional boolean mask (same shape, or (H, W) for a batch) of pixels to evaluate,
            e.g. an evaluation crop.

    Returns:
        dict with ``abs_rel, sq_rel, rmse, rmse_log, log10, d1, d2, d3, silog``.
        For a batch each metric is the mean of the per-image values over images
        with at least one valid pixel (the usual protocol). All NaN if no pixel is valid.

    Raises:
        UsageError: shapes differ, wrong rank, or unknown ``align``.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape or gt.ndim not in (2, 3):
        raise UsageError(f"pred {pred.shape} and gt {gt.shape} must have the same (H, W) or (N, H, W) shape")
    check_alignment(align)
    if gt.ndim == 2:
        pred, gt = pred[None], gt[None]
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), gt.shape)
    per_image = []
    for i in range(gt.shape[0]):
        valid = valid_depth_mask(gt[i], min_depth, max_depth, None if mask is None else mask[i])
        m = _image_metrics(pred[i], gt[i], valid, min_depth, max_depth, align)
        if m is not None:
            per_image.append(m)
    return mean_metrics(per_image)


def mean_metrics(per_image: list) -> dict:
    """Average a list of per-image metric dicts key by key (all NaN for an empty list)."""
    if not per_image:
        return {k: float("nan") for k in DEPTH_METRIC_KEYS}
    return {k: float(np.mean([m[k] for m in per_image])) for k in DEPTH_METRIC_KEYS}


# ----------------------------------------------------------------------------- segmentation


def confusion_matrix(pred, gt, num_classes: int, ignore_index: Optional[int] = IGNORE_INDEX) -> np.ndarray:
    """Confusion matrix ``C[true, predicted]`` (int64, num_classes x num_classes).

    Pixels whose ground truth equals ``ignore_index`` or lies outside
    ``[0, num_classes)`` are skipped.

    Raises:
        UsageError: shapes differ, or a prediction outside ``[0, num_classes)``.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise UsageError(f"pred {pred.shape} and gt {gt.shape} must have the same shape")
    keep = (gt >= 0) & (gt < num_classes)
    if ignore_index is not None:
        keep &= gt != ignore_index
    p, g = pred[keep].astype(np.int64), gt[keep].astype(np.int64)
    if p.size and (p.min() < 0 or p.max() >= num_classes):
        raise UsageError(f"predicted class ids must lie in [0, {num_classes})")
    return np.bincount(g * num_classes + p, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix ``C[true, predicted]``: TP / (TP + FP + FN).

    Returns:
        float64 (K,), NaN for classes absent from both prediction and ground truth.
    """
    cm = np.asarray(cm, dtype=np.float64)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, np.nan)


def segmentation_scores(cm: np.ndarray) -> dict:
    """mIoU, pixel accuracy and per-class IoU of a (dataset-wide) confusion matrix.

    Args:
        cm: ``C[true, predicted]`` counts, e.g. summed :func:`confusion_matrix` of every image.

    Returns:
        ``{"miou", "pixel_accuracy", "per_class_iou", "pixels"}``: the mIoU is the mean IoU of
        the classes present in prediction or ground truth; ``per_class_iou`` is a list with
        None for absent classes; NaN scores when no pixel counted.
    """
    cm = np.asarray(cm, dtype=np.int64)
    iou = iou_from_confusion(cm)
    pixels = int(cm.sum())
    return {"miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "pixel_accuracy": float(np.trace(cm) / pixels) if pixels else float("nan"),
            "per_class_iou": [None if np.isnan(v) else float(v) for v in iou], "pixels": pixels}


class ConfusionMeter:
    """Sums confusion matrices over many images (mIoU over a dataset is not a mean of per-image mIoUs).

    Args:
        num_classes: classes counted; ground truth outside ``[0, num_classes)`` is skipped.
        ignore_index: ground-truth id to skip.
        grow: widen the matrix to any larger id in prediction or ground truth instead (a
            dataset's classes need not be known in advance; ids one side never uses count as errors).
    """

    def __init__(self, num_classes: int, ignore_index: Optional[int] = IGNORE_INDEX, grow: bool = False):
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.grow = grow
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred, gt) -> np.ndarray:
        """Add one prediction (or a batch); returns that sample's own confusion matrix."""
        if self.grow:
            gt = np.asarray(gt)
            counted = gt[gt != self.ignore_index] if self.ignore_index is not None else gt
            largest = max(int(np.max(pred, initial=0)), int(np.max(counted, initial=0))) + 1
            if largest > self.num_classes:
                self.matrix = np.pad(self.matrix, (0, largest - self.num_classes))
                self.num_classes = largest
        cm = confusion_matrix(pred, gt, self.num_classes, self.ignore_index)
        self.matrix += cm
        return cm

    def scores(self) -> dict:
        """:func:`segmentation_scores` of everything added so far."""
        return segmentation_scores(self.matrix)


def per_class_iou(pred, gt, num_classes: int, ignore_index: Optional[int] = IGNORE_INDEX) -> np.ndarray:
    """IoU of each class (float64, NaN for classes absent from both prediction and ground truth)."""
    return iou_from_confusion(confusion_matrix(pred, gt, num_classes, ignore_index))


def miou(pred, gt, num_classes: int, ignore_index: Optional[int] = IGNORE_INDEX) -> float:
    """Mean intersection-over-union over the classes present in prediction or ground truth.

    Args:
        pred: predicted class ids (any shape, e.g. (H, W) or (N, H, W)).
        gt: ground-truth class ids, same shape.
        num_classes: number of classes.
        ignore_index: ground-truth id to skip (None: skip nothing).

    Returns:
        The mIoU in [0, 1]; NaN if no pixel counts.
    """
    iou = per_class_iou(pred, gt, num_classes, ignore_index)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(pred, gt, ignore_index: Optional[int] = IGNORE_INDEX) -> float:
    """Fraction of counted pixels whose predicted class equals the ground truth (NaN if none count)."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise UsageError(f"pred {pred.shape} and gt {gt.shape} must have the same shape")
    keep = np.ones(gt.shape, bool) if ignore_index is None else gt != ignore_index
    total = int(keep.sum())
    return float((pred[keep] == gt[keep]).sum() / total) if total else float("nan")
