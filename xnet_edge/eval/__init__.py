"""Accuracy evaluation: depth and segmentation metrics and evaluation loops (numpy only at import).

    from xnet_edge.eval import depth_metrics, evaluate
    depth_metrics(pred, gt, max_depth=10.0, align="median")  # -> {"abs_rel": ..., "d1": ..., ...}
    evaluate(runtime, open_dataset("motorcycle"), align="median").metrics
    evaluate_segmentation(seg_runtime, open_segmentation_dataset("voc"), num_classes=21).metrics
"""

from .evaluate import TABLE_COLUMNS, EvalReport, aligned_depth, evaluate, score_depth, score_sample
from .metrics import (ALIGN_MODES, DEFAULT_ALIGNMENT, DEPTH_METRIC_KEYS, HIGHER_IS_BETTER, IGNORE_INDEX,
                      ConfusionMeter, align_prediction, confusion_matrix, default_alignment, depth_metrics, fit_alignment,
                      iou_from_confusion, mean_metrics, miou, per_class_iou, pixel_accuracy, report_alignments,
                      segmentation_scores, valid_depth_mask)
from .seg_evaluate import SEG_TABLE_COLUMNS, SegEvalReport, evaluate_segmentation

__all__ = ["depth_metrics", "fit_alignment", "align_prediction", "aligned_depth", "valid_depth_mask", "mean_metrics", "confusion_matrix",
           "per_class_iou", "miou", "pixel_accuracy", "iou_from_confusion", "segmentation_scores",
           "ConfusionMeter", "IGNORE_INDEX", "evaluate", "score_depth", "score_sample", "evaluate_segmentation", "SegEvalReport",
           "SEG_TABLE_COLUMNS", "EvalReport", "TABLE_COLUMNS",
           "ALIGN_MODES", "DEFAULT_ALIGNMENT", "DEPTH_METRIC_KEYS", "HIGHER_IS_BETTER", "default_alignment",
           "report_alignments"]
