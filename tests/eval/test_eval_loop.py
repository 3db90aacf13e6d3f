"""The evaluation loop with oracle predictors, a torch model and the eval CLI."""

import json

import numpy as np
import pytest

from xnet_edge.data import NYU_EIGEN_CROP, open_dataset
from xnet_edge.errors import UsageError
from xnet_edge.eval import depth_metrics, evaluate, score_sample

SPEC = "synthetic:3?size=64x96&seed=11"


class Oracle:
    """Predicts the ground truth of the dataset it was built from, times ``scale``."""

    def __init__(self, dataset, scale=1.0, outside_crop=None):
        self.truth = {ds_rgb.tobytes(): depth for ds_rgb, depth in dataset}
        self.scale, self.outside_crop = scale, outside_crop

    def predict(self, rgb):
        depth = self.truth[rgb.tobytes()] * self.scale
        if self.outside_crop is not None:
            inside = NYU_EIGEN_CROP.mask(*depth.shape)
            depth = np.where(inside, depth, self.outside_crop)
        return depth


def test_oracle_is_perfect_and_median_alignment_undoes_scale():
    ds = open_dataset(SPEC)
    report = evaluate(Oracle(ds), ds, progress=False)
    assert report.images == 3 and report.skipped == 0
    assert report.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-7) and report.metrics["d1"] == 1.0
    scaled = evaluate(Oracle(ds, scale=0.5), ds, progress=False)
    assert scaled.metrics["abs_rel"] == pytest.approx(0.5) and scaled.metrics["d3"] == 0.0  # ratio 2 > 1.25^3
    aligned = evaluate(Oracle(ds, scale=2.5), ds, align="median", progress=False)
    assert aligned.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    assert [r["index"] for r in aligned.per_image] == [0, 1, 2]
    assert evaluate(Oracle(ds), ds, max_images=2, progress=False).images == 2


def test_crop_restricts_the_pixels_that_count():
    ds = open_dataset(SPEC + "&crop=eigen")
    wrong_outside = Oracle(ds, outside_crop=100.0)
    assert evaluate(wrong_outside, ds, progress=False).metrics["abs_rel"] == pytest.approx(0.0, abs=1e-7)
    ds.crop = None
    assert evaluate(wrong_outside, ds, progress=False).metrics["abs_rel"] > 0.3


def test_torch_model_matches_direct_metrics(tiny_model):
    ds = open_dataset(SPEC)
    report = evaluate(tiny_model, ds, align="lstsq", max_images=2, progress=False)
    preds, gts = zip(*[(tiny_model.predict(ds[i][0]), ds[i][1]) for i in range(2)])
    reference = depth_metrics(np.stack(preds), np.stack(gts), max_depth=ds.max_depth, align="lstsq")
    for key, value in reference.items():
        assert report.metrics[key] == pytest.approx(value, rel=1e-5), key
    assert report.seconds_per_image > 0
    row = report.table_row()
    assert row["align"] == "lstsq" and row["images"] == 2
    assert json.loads(json.dumps(report.to_dict()))["protocol"] == {"min_depth": 1e-3, "max_depth": 10.0,
                                                                     "crop": None}


def test_evaluate_usage_errors():
    ds = open_dataset(SPEC)
    with pytest.raises(UsageError, match="alignment"):
        evaluate(Oracle(ds), ds, align="mean", progress=False)
    with pytest.raises(UsageError, match="max_images"):
        evaluate(Oracle(ds), ds, max_images=0, progress=False)


def test_score_sample_is_one_image_of_evaluate_under_each_alignment(tiny_model):
    ds = open_dataset(SPEC + "&crop=eigen")
    calls = []

    def predict(rgb):
        calls.append(1)
        return tiny_model.predict(rgb)

    pred, scores = score_sample(predict, ds, 1, aligns=(None, "median"), max_depth=5.0)
    assert len(calls) == 1 and pred.shape == ds[1][1].shape and set(scores) == {"none", "median"}
    single = [ds[1]]  # a plain list: no crop, no range of its own
    for align, name in ((None, "none"), ("median", "median")):
        report = evaluate(tiny_model, ds, align=align, max_depth=5.0, progress=False)
        assert scores[name] == pytest.approx({k: v for k, v in report.per_image[1].items() if k != "index"})
        mask = NYU_EIGEN_CROP.mask(*pred.shape)
        assert scores[name] == pytest.approx(depth_metrics(pred, ds[1][1], max_depth=5.0, align=align, mask=mask))
        assert score_sample(predict, single, aligns=(align,))[1][name] == \
            pytest.approx(depth_metrics(pred, ds[1][1], align=align))
