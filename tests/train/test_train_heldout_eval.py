"""Held-out and Motorcycle evaluation helpers on a tiny model."""

import math

import numpy as np
import pytest
import torch

from xnet_edge.models import create_model
from xnet_edge.train import build_scene_set, validate
from xnet_edge.train.heldout_eval import heldout_scene_metrics, motorcycle_metrics


@pytest.fixture(scope="module")
def model():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids stalls on a busy machine
    torch.manual_seed(0)
    yield create_model("test_xnet_effnet")
    torch.set_num_threads(threads)


def test_heldout_metrics_match_validate_and_alignment_changes_them(model):
    got = heldout_scene_metrics(model, count=3, seed=5, size=(64, 96))
    scenes = build_scene_set("synthetic:3", (64, 96), 5, progress=False)
    ref = validate(model, scenes, min_depth=1e-3, max_depth=model.config.max_depth)
    assert got["none"] == pytest.approx(ref)
    assert set(got) == {"none", "median"}
    assert got["median"]["abs_rel"] != pytest.approx(got["none"]["abs_rel"])
    # SILog is scale-invariant, so median alignment must leave it unchanged
    assert got["median"]["silog"] == pytest.approx(got["none"]["silog"], rel=1e-4)


def test_motorcycle_metrics_are_finite(model):
    got = motorcycle_metrics(model, input_size=(64, 96))
    for align in ("none", "median"):
        assert all(math.isfinite(v) for v in got[align].values())
        assert 0.0 <= got[align]["d1"] <= 1.0
    assert np.isclose(got["median"]["silog"], got["none"]["silog"], rtol=1e-3)
