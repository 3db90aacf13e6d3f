"""Depth and segmentation metrics against values computed by hand."""

import math

import numpy as np
import pytest

from xnet_edge.errors import UsageError
from xnet_edge.eval import (DEPTH_METRIC_KEYS, confusion_matrix, depth_metrics, fit_alignment, miou,
                            per_class_iou, pixel_accuracy)

LN2 = math.log(2.0)


def test_hand_computed_three_pixels():
    # pred 1, 2, 4 m against 2 m everywhere
    m = depth_metrics(np.array([[1.0, 2.0, 4.0]]), np.array([[2.0, 2.0, 2.0]]))
    assert set(m) == set(DEPTH_METRIC_KEYS)
    assert m["abs_rel"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["sq_rel"] == pytest.approx((1 / 2 + 0 + 4 / 2) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert m["rmse_log"] == pytest.approx(math.sqrt(2 * LN2 ** 2 / 3))
    assert m["log10"] == pytest.approx(2 * math.log10(2) / 3)
    assert (m["d1"], m["d2"], m["d3"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))  # both ratios are 2 > 1.25^3 = 1.95
    assert m["silog"] == pytest.approx(100 * math.sqrt(2 * LN2 ** 2 / 3))  # mean log error is 0


def test_delta_thresholds_and_silog_of_a_constant_factor():
    gt = np.full((2, 2), 3.0)
    pred = gt * np.array([[1.2, 1.5], [1.9, 2.0]])  # ratios below 1.25, 1.5625, 1.953125 and above
    m = depth_metrics(pred, gt)
    assert (m["d1"], m["d2"], m["d3"]) == pytest.approx((0.25, 0.5, 0.75))
    scaled = depth_metrics(gt * 1.5, gt)
    assert scaled["silog"] == pytest.approx(0.0, abs=1e-6)  # scale-invariant
    assert scaled["rmse_log"] == pytest.approx(math.log(1.5))


def test_invalid_ground_truth_and_range_are_ignored():
    gt = np.array([[2.0, 0.0, -1.0, np.nan, np.inf, 12.0, 2.0]])
    pred = np.array([[2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 4.0]])
    m = depth_metrics(pred, gt, max_depth=10.0)  # only the two 2 m pixels count
    assert m["abs_rel"] == pytest.approx(0.5) and m["d1"] == pytest.approx(0.5)
    mask = np.array([[True, True, True, True, True, True, False]])
    assert depth_metrics(pred, gt, max_depth=10.0, mask=mask)["abs_rel"] == 0.0
    # predictions are clipped to the range: 50 m -> 10 m
    assert depth_metrics(np.array([[50.0]]), np.array([[5.0]]), max_depth=10.0)["abs_rel"] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in depth_metrics(pred[:, 1:3], gt[:, 1:3]).values())


def test_batch_is_mean_of_images():
    gt = np.array([[[1.0, 1.0]], [[2.0, 2.0]]])
    pred = np.array([[[2.0, 1.0]], [[2.0, 2.0]]])
    m = depth_metrics(pred, gt)
    assert m["abs_rel"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["rmse"] == pytest.approx((math.sqrt(0.5) + 0.0) / 2)  # per-image RMSE, then the mean
    assert depth_metrics(pred[0], gt[0])["rmse"] == pytest.approx(math.sqrt(0.5))


def test_alignment_modes():
    gt = np.array([[1.0, 2.0, 3.0, 4.0]])
    m = depth_metrics(gt / 3.0, gt, align="median")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12) and m["d1"] == 1.0
    # least-squares scale by hand: s = sum(p g) / sum(p^2) = (2 + 6) / (1 + 4) = 1.6
    assert fit_alignment(np.array([1.0, 2.0]), np.array([2.0, 3.0]), "lstsq") == pytest.approx((1.6, 0.0))
    # scale and shift recovered exactly: g = 2 p + 1
    p = np.array([1.0, 2.0, 3.0, 5.0])
    assert fit_alignment(p, 2 * p + 1, "lstsq-shift") == pytest.approx((2.0, 1.0))
    assert depth_metrics((gt - 1.0) / 2.0 + 0.7, gt, align="lstsq-shift")["rmse"] == pytest.approx(0, abs=1e-9)
    assert fit_alignment(np.array([3.0, 3.0]), np.array([1.0, 2.0]), "lstsq-shift") == pytest.approx((1.0, -1.5))
    no_align = depth_metrics(gt / 3.0, gt)
    assert no_align["abs_rel"] == pytest.approx(2 / 3)


def test_nan_predictions_count_against_the_model():
    m = depth_metrics(np.array([[np.nan, 2.0]]), np.array([[2.0, 2.0]]), min_depth=0.1)
    assert m["abs_rel"] == pytest.approx((1.9 / 2 + 0) / 2)


def test_depth_usage_errors():
    with pytest.raises(UsageError, match="same"):
        depth_metrics(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(UsageError, match="alignment"):
        depth_metrics(np.ones((2, 2)), np.ones((2, 2)), align="mean")


def test_segmentation_metrics_by_hand():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 1]])
    cm = confusion_matrix(pred, gt, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 3, 0], [1, 0, 1]])
    # IoU: class 0: 1 / (2 + 2 - 1) = 1/3; class 1: 3 / (3 + 4 - 3) = 3/4; class 2: 1 / (2 + 1 - 1) = 1/2
    np.testing.assert_allclose(per_class_iou(pred, gt, 3), [1 / 3, 3 / 4, 1 / 2])
    assert miou(pred, gt, 3) == pytest.approx((1 / 3 + 3 / 4 + 1 / 2) / 3)
    assert pixel_accuracy(pred, gt) == pytest.approx(5 / 7)
    assert pixel_accuracy(pred, gt, ignore_index=None) == pytest.approx(5 / 8)
    # a class absent from both is left out of the mean
    assert miou(np.zeros((2, 2)), np.zeros((2, 2)), 4) == 1.0
    with pytest.raises(UsageError, match="class ids"):
        confusion_matrix(np.full((2, 2), 5), np.zeros((2, 2)), 3)


def test_inverse_depth_alignment_recovers_an_affine_inverse_depth():
    """MiDaS / Depth Anything protocol: scale and shift fitted in inverse-depth space."""
    from xnet_edge.eval import default_alignment, report_alignments

    rng = np.random.default_rng(0)
    gt = rng.uniform(1.0, 10.0, (2, 20, 30))
    inverse = 3.0 / gt + 0.2  # relative inverse depth: unknown scale and shift
    exact = depth_metrics(inverse, gt, max_depth=10.0, align="lstsq-shift-inverse")
    assert exact["abs_rel"] < 1e-9 and exact["d1"] == 1.0
    assert depth_metrics(inverse, gt, max_depth=10.0, align="lstsq-shift")["abs_rel"] > 0.1  # wrong space
    assert default_alignment("inverse-depth") == default_alignment("disparity") == "lstsq-shift-inverse"
    assert default_alignment("relative-depth") == "lstsq-shift" and default_alignment("metric-depth") is None
    assert report_alignments("metric-depth") == (None, "median")
    assert report_alignments("inverse-depth") == ("lstsq-shift-inverse",)


@pytest.mark.parametrize("align", [None, "median", "lstsq", "lstsq-shift", "disparity"])
def test_align_prediction_is_what_the_metrics_score(align):
    """The aligned map scored without alignment gives the metrics of the aligned scoring."""
    from xnet_edge.eval.metrics import align_prediction

    rng = np.random.default_rng(3)
    gt = rng.uniform(0.5, 12.0, (24, 32)).astype(np.float32)
    gt[:3] = 0.0                       # unknown: not part of the fit
    pred = (gt * 0.6 + rng.uniform(0.0, 0.4, gt.shape)).astype(np.float32)
    pred[:3] = 50.0
    aligned = align_prediction(pred, gt, align, max_depth=10.0)
    want = depth_metrics(pred, gt, max_depth=10.0, align=align)
    got = depth_metrics(aligned, gt, max_depth=10.0)
    for key in ("abs_rel", "rmse", "d1"):
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6)


def test_align_prediction_fits_inside_the_cap_and_applies_everywhere():
    from xnet_edge.eval.metrics import align_prediction

    gt = np.full((10, 10), 2.0, np.float32)
    gt[0] = 40.0                       # beyond the 10 m cap: not part of the median
    pred = gt * 0.5
    aligned = align_prediction(pred, gt, "median", max_depth=10.0)
    np.testing.assert_allclose(aligned[1:], 2.0, rtol=1e-6)   # scale 2 from the capped pixels only
    np.testing.assert_allclose(aligned[0], 10.0)              # 20 m after scaling, clipped to the cap
    with pytest.raises(UsageError):
        align_prediction(pred, gt, "bogus")
