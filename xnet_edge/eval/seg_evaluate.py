"""The segmentation evaluation loop: mIoU, per-class IoU and pixel accuracy over a dataset."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import UsageError, XnetEdgeError
from .evaluate import JsonReport, _format
from .metrics import IGNORE_INDEX, ConfusionMeter, segmentation_scores

#: Columns of the summary row (:meth:`SegEvalReport.table_row`).
SEG_TABLE_COLUMNS = ["dataset", "images", "classes", "mIoU", "pixel_acc", "ms/img"]


@dataclass
class SegEvalReport(JsonReport):
    """What :func:`evaluate_segmentation` measured.

    Attributes:
        dataset: the dataset's name.
        images: images evaluated.
        num_classes: classes counted (the model's and the dataset's, whichever is larger).
        class_names: a name per class id (None when unknown).
        ignore_index: ground-truth id skipped.
        metrics: ``miou`` (mean IoU of the classes present in prediction or ground truth) and
            ``pixel_accuracy``, from the confusion matrix summed over the dataset.
        per_class_iou: IoU per class id (None where a class is in neither prediction nor ground truth).
        confusion: ``C[true, predicted]`` pixel counts over the dataset.
        seconds_per_image: mean wall time of ``predictor.predict``.
        per_image: ``{"index", "miou", "pixel_accuracy"}`` of every image.
    """

    dataset: str
    images: int
    num_classes: int
    class_names: Optional[list]
    ignore_index: int
    metrics: dict
    per_class_iou: list
    confusion: list
    seconds_per_image: float
    per_image: list = field(default_factory=list)

    def table_row(self) -> dict:
        """The summary row (see :data:`SEG_TABLE_COLUMNS`)."""
        return {"dataset": self.dataset, "images": self.images, "classes": self.num_classes,
                "mIoU": _format(self.metrics["miou"]), "pixel_acc": _format(self.metrics["pixel_accuracy"]),
                "ms/img": f"{1e3 * self.seconds_per_image:.1f}"}

    def class_rows(self) -> list[dict]:
        """One row per class that appears in prediction or ground truth: id, name, IoU, pixel counts."""
        cm = np.asarray(self.confusion)
        rows = []
        for k, iou in enumerate(self.per_class_iou):
            if iou is None:
                continue
            name = self.class_names[k] if self.class_names and k < len(self.class_names) else ""
            rows.append({"id": k, "class": name, "IoU": _format(iou), "gt_pixels": int(cm[k].sum()),
                         "pred_pixels": int(cm[:, k].sum())})
        return rows


def _predict_labels(predictor: Any, rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    fn = getattr(predictor, "predict", predictor)
    labels = np.asarray(fn(rgb))
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise XnetEdgeError(f"predictor returned {labels.dtype} {labels.shape}; expected HxW integer class ids "
                            "(is this a segmentation model?)")
    if labels.shape != shape:  # class ids are resized by nearest neighbour, never blended
        rows = (np.arange(shape[0]) * labels.shape[0] // shape[0])[:, None]
        cols = (np.arange(shape[1]) * labels.shape[1] // shape[1])[None, :]
        labels = labels[rows, cols]
    return labels.astype(np.int64)


def evaluate_segmentation(predictor: Any, dataset, *, num_classes: Optional[int] = None,
                          max_images: Optional[int] = None, progress: bool = True) -> SegEvalReport:
    """Run ``predictor`` over ``dataset`` and score its class ids.

    Args:
        predictor: an object with ``predict(rgb uint8 HxWx3) -> HxW int class ids`` (a segmentation
            :class:`~xnet_edge.runtime.Runtime` or model), or such a callable.
        dataset: a :class:`~xnet_edge.data.seg_readers.SegmentationDataset` (or any sized iterable
            of (rgb, labels) pairs).
        num_classes: the model's classes; the confusion matrix spans these and the dataset's (and
            grows to any larger id seen), so ids the model does not know count as errors.
        max_images: evaluate only the first N samples.
        progress: show a tqdm progress bar.

    Returns:
        A :class:`SegEvalReport`.

    Raises:
        UsageError: ``max_images`` < 1.
        XnetEdgeError: the predictor returned something that is not a label map.
    """
    if max_images is not None and max_images < 1:
        raise UsageError(f"max_images must be at least 1, got {max_images}")
    ignore = getattr(dataset, "ignore_index", IGNORE_INDEX)
    classes = max(num_classes or 0, getattr(dataset, "num_classes", None) or 0, 1)
    meter = ConfusionMeter(classes, ignore, grow=True)
    total = len(dataset) if max_images is None else min(len(dataset), max_images)
    from tqdm.auto import tqdm

    per_image, predict_time = [], 0.0
    bar = tqdm(total=total, desc=f"eval {getattr(dataset, 'name', 'dataset')}", unit="img", disable=not progress)
    for index, (rgb, gt) in enumerate(itertools.islice(dataset, total)):
        gt = np.asarray(gt, dtype=np.int64)
        start = time.perf_counter()
        pred = _predict_labels(predictor, rgb, gt.shape)
        predict_time += time.perf_counter() - start
        scores = segmentation_scores(meter.update(pred, gt))
        per_image.append({"index": index, "miou": scores["miou"], "pixel_accuracy": scores["pixel_accuracy"]})
        bar.set_postfix(mIoU=f"{meter.scores()['miou']:.3f}")
        bar.update(1)
    bar.close()
    overall = meter.scores()
    names = getattr(dataset, "class_names", None)
    return SegEvalReport(dataset=getattr(dataset, "name", type(dataset).__name__), images=len(per_image),
                         num_classes=meter.num_classes, class_names=list(names) if names else None,
                         ignore_index=ignore,
                         metrics={"miou": overall["miou"], "pixel_accuracy": overall["pixel_accuracy"]},
                         per_class_iou=overall["per_class_iou"], confusion=meter.matrix.tolist(),
                         seconds_per_image=predict_time / max(total, 1), per_image=per_image)
