"""``train --task segmentation``: labels of generated scenes, cross-entropy, mIoU validation, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xnet_edge.cli import main
from xnet_edge.data.synthetic import CLASS_NAMES, render_scene
from xnet_edge.errors import UsageError
from xnet_edge.models import read_checkpoint
from xnet_edge.train import TrainSettings, build_scene_set, make_batch, train
from xnet_edge.train.augment import AugmentConfig, batch_generator
from xnet_edge.train.seg_training import head_overrides, segmentation_loss

SIZE = (64, 96)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("seg_cache"))


def _settings(cache, **kw):
    base = dict(model="test_xnet_effnet_seg", task="segmentation", pretrained=False, data="synthetic:8",
                val_data=None, scene_size=SIZE, crop=(64, 64), batch_size=4, steps=4, warmup_steps=1, lr=3e-3,
                save_every=100, seed=5, progress=False, cache_dir=cache, threads=1)
    base.update(kw)
    return TrainSettings(**base)


def test_loss_is_cross_entropy_over_labelled_pixels():
    logits = torch.randn(2, 4, 3, 5, requires_grad=True)
    target = torch.randint(0, 4, (2, 1, 3, 5)).float()
    target[0, 0, 0] = 255
    log_p = torch.log_softmax(logits, 1)
    keep = target[:, 0] != 255
    picked = log_p.gather(1, target[:, 0].long().clamp(max=3).unsqueeze(1))[:, 0]
    expected = -picked[keep].mean()
    assert torch.allclose(segmentation_loss(logits, target), expected)
    empty = segmentation_loss(logits, torch.full((2, 3, 5), 255.0))
    assert float(empty.detach()) == 0.0 and empty.requires_grad
    with pytest.raises(ValueError, match="do not match"):
        segmentation_loss(logits, torch.zeros(2, 3, 4))


def test_scene_set_carries_the_generated_labels_and_batches_keep_them_integer(tmp_path):
    scenes = build_scene_set("synthetic:3", SIZE, seed=7, cache_dir=tmp_path, progress=False, labels=True)
    np.testing.assert_array_equal(scenes.labels[2], render_scene(2, SIZE, 7).labels)
    assert (tmp_path / "synthetic_3_64x96_seed7" / "labels.npy").exists()
    gen = batch_generator(0, 0)
    _, y = make_batch(scenes.rgb, scenes.labels, [0, 1, 2], (32, 64), (0.5,) * 3, (0.5,) * 3, gen,
                      AugmentConfig(hflip=1.0))
    assert y.shape == (3, 1, 32, 64) and torch.equal(y, y.round())
    assert set(torch.unique(y).long().tolist()) <= set(range(len(CLASS_NAMES)))
    # an older cache without labels is rebuilt when labels are needed
    (tmp_path / "synthetic_3_64x96_seed7" / "labels.npy").unlink()
    assert build_scene_set("synthetic:3", SIZE, seed=7, cache_dir=tmp_path, progress=False).labels is None
    again = build_scene_set("synthetic:3", SIZE, seed=7, cache_dir=tmp_path, progress=False, labels=True)
    np.testing.assert_array_equal(again.labels, scenes.labels)
    with pytest.raises(UsageError, match="no semantic labels"):
        build_scene_set("motorcycle", SIZE, labels=True)


def test_task_and_classes_are_checked():
    assert head_overrides("test_xnet_effnet_seg", "segmentation", None, "synthetic:4") == {
        "num_classes": 6, "extra": {"class_names": list(CLASS_NAMES)}}
    assert head_overrides("test_xnet_effnet_seg", None, 9, "synthetic:4") == {"num_classes": 9}
    assert head_overrides("test_xnet_effnet", None, None, "synthetic:4") == {}
    with pytest.raises(UsageError, match="xnet_lite0_seg"):
        head_overrides("test_xnet_effnet", "segmentation", None, "synthetic:4")
    with pytest.raises(UsageError, match="fewer"):
        head_overrides("test_xnet_effnet_seg", None, 3, "synthetic:4")
    with pytest.raises(UsageError, match="generated scenes"):
        head_overrides("test_xnet_effnet_seg", None, None, "folder:/data")
    with pytest.raises(UsageError, match="segmentation models"):
        head_overrides("test_xnet_effnet", None, 6, "synthetic:4")


def test_loss_decreases_and_validation_reports_miou(tmp_path, cache):
    losses = []
    result = train(_settings(cache, steps=12, val_data="synthetic:4", augment=AugmentConfig(0, 0, 0, 0, 0)),
                   tmp_path, on_step=lambda step, loss: losses.append(loss))
    assert result.finished and len(losses) == 12
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    val = result.history[-1]["val"]
    assert set(val) >= {"miou", "pixel_accuracy", "per_class_iou", "loss"} and 0 <= val["miou"] <= 1
    config, _, meta = read_checkpoint(result.model_path)
    assert config.task == "segmentation" and config.num_classes == len(CLASS_NAMES)
    assert config.extra["class_names"] == list(CLASS_NAMES) and meta["metrics"]["miou"] == val["miou"]


def test_resume_gives_identical_weights(tmp_path, cache):
    straight = train(_settings(cache), tmp_path / "a")
    first = train(_settings(cache), tmp_path / "b", stop_at_step=2)
    assert not first.finished
    torch.manual_seed(99)
    second = train(_settings(cache), tmp_path / "b", resume=True)
    assert second.finished and second.step == 4
    a, b = read_checkpoint(straight.model_path)[1], read_checkpoint(second.model_path)[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_task_segmentation(tmp_path, cache, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--task", "segmentation", "--model", "test_xnet_effnet_seg", "--pretrained", "none",
               "--data", "synthetic:4", "--val-data", "synthetic:2", "--scene-size", "64x96", "--crop", "64x64",
               "--batch-size", "4", "--steps", "2", "--warmup-steps", "1", "--threads", "1", "--cache-dir", cache,
               "--no-progress", "-o", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "miou" in printed and "pixel_accuracy" in printed
    settings = json.loads((out / "settings.json").read_text())
    assert settings["task"] == "segmentation" and settings["model"] == "test_xnet_effnet_seg"
    rc = main(["train", "--task", "segmentation", "--model", "test_xnet_effnet", "--pretrained", "none",
               "--data", "synthetic:4", "--no-progress", "-o", str(tmp_path / "bad")])
    assert rc == 2 and "segmentation model" in capsys.readouterr().err
