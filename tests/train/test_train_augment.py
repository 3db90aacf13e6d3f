"""Batches: deterministic per (seed, step), flips keep image and depth aligned."""

import numpy as np
import pytest
import torch

from xnet_edge.train.augment import AugmentConfig, batch_generator, make_batch
from xnet_edge.train.scene_set import epoch_order, fit_scene, iter_batches, parse_data_spec

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _scenes(n=3, h=8, w=10):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    # depth encodes the column so a flip or crop offset is visible
    depth = np.broadcast_to(np.arange(1, w + 1, dtype=np.float32), (n, h, w)).copy()
    return rgb, depth


def test_no_augment_is_normalized_centre_crop():
    rgb, depth = _scenes()
    x, y = make_batch(rgb, depth, [2, 0], (4, 6), MEAN, STD, None)
    expected = (rgb[[2, 0], 2:6, 2:8].astype(np.float32) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(y[:, 0].numpy(), depth[[2, 0], 2:6, 2:8])


def test_batches_repeat_for_same_seed_and_step_and_differ_otherwise():
    rgb, depth = _scenes()
    cfg = AugmentConfig()
    a = make_batch(rgb, depth, [0, 1, 2], (4, 6), MEAN, STD, batch_generator(3, 7), cfg)
    b = make_batch(rgb, depth, [0, 1, 2], (4, 6), MEAN, STD, batch_generator(3, 7), cfg)
    c = make_batch(rgb, depth, [0, 1, 2], (4, 6), MEAN, STD, batch_generator(3, 8), cfg)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_flip_moves_image_and_depth_together():
    rgb, depth = _scenes(n=1)
    cfg = AugmentConfig(hflip=1.0, brightness=0, contrast=0, colour=0, gamma=0)
    x, y = make_batch(rgb, depth, [0], None, (0, 0, 0), (1, 1, 1), batch_generator(0, 0), cfg)
    np.testing.assert_array_equal(y[0, 0].numpy(), depth[0, :, ::-1])
    np.testing.assert_allclose(x[0].permute(1, 2, 0).numpy(), rgb[0, :, ::-1] / 255.0, rtol=1e-6)


def test_photometric_jitter_changes_colour_only_within_bounds():
    rgb, depth = _scenes()
    x, y = make_batch(rgb, depth, [0, 1], None, (0, 0, 0), (1, 1, 1), batch_generator(0, 1),
                      AugmentConfig(hflip=0.0))
    assert x.min() >= 0 and x.max() <= 1
    assert not torch.allclose(x, torch.from_numpy(rgb[:2]).permute(0, 3, 1, 2).float() / 255)
    np.testing.assert_array_equal(y[:, 0].numpy(), depth[:2])


def test_epoch_order_and_rank_shards():
    order = epoch_order(10, seed=0, epoch=1)
    assert sorted(order.tolist()) == list(range(10))
    assert not np.array_equal(order, epoch_order(10, seed=0, epoch=2))
    r0 = list(iter_batches(order, 2, rank=0, world=2))
    r1 = list(iter_batches(order, 2, rank=1, world=2))
    assert len(r0) == len(r1) == 2  # 10 scenes, 4 per step: the tail of 2 is dropped
    used = np.concatenate(r0 + r1)
    assert len(set(used.tolist())) == 8


def test_fit_scene_covers_and_crops():
    rgb = np.zeros((20, 40, 3), np.uint8)
    depth = np.full((20, 40), 2.0, np.float32)
    depth[0, 0] = np.inf
    r, d = fit_scene(rgb, depth, (10, 10))
    assert r.shape == (10, 10, 3) and d.shape == (10, 10)
    assert np.all(d == 2.0)  # the inf corner fell outside the centre crop
    _, d2 = fit_scene(rgb, depth, (20, 40))
    assert d2[0, 0] == 0.0  # invalid depth is stored as 0


def test_parse_data_spec():
    import pytest

    from xnet_edge.errors import UsageError

    assert parse_data_spec("synthetic:12") == ("synthetic", "12")
    assert parse_data_spec("nyu:/data/x.mat?split=train") == ("nyu", "/data/x.mat")
    assert parse_data_spec("motorcycle:")[0] == "motorcycle"
    for bad in ("synthetic:0", "synthetic:abc", "bogus:/x", ":x"):
        with pytest.raises(UsageError):
            parse_data_spec(bad)


def test_scene_set_from_a_reader_folder_is_fitted_and_cached(tmp_path):
    from xnet_edge.data import write_depth_png
    from xnet_edge.data.formats import write_rgb
    from xnet_edge.train import build_scene_set

    for name in ("rgb", "depth"):
        (tmp_path / "ds" / name).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        write_rgb(tmp_path / "ds" / "rgb" / f"{i}.png", rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
        write_depth_png(tmp_path / "ds" / "depth" / f"{i}.png", np.full((30, 40), 1.5 + i, np.float32))
    spec = f"folder:{tmp_path / 'ds'}"
    scenes = build_scene_set(spec, (16, 16), cache_dir=tmp_path / "cache", progress=False)
    assert len(scenes) == 3 and scenes.size == (16, 16)
    np.testing.assert_allclose(scenes.depth[:, 0, 0], [1.5, 2.5, 3.5], atol=1e-3)
    assert isinstance(scenes.rgb, np.memmap)  # served from the cache
    again = build_scene_set(spec, (16, 16), cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(again.rgb, scenes.rgb)


def test_generated_cache_is_rebuilt_when_the_generator_changes(tmp_path, monkeypatch):
    import json

    from xnet_edge.train import build_scene_set, scene_set

    first = build_scene_set("synthetic:2", (32, 32), 0, cache_dir=tmp_path, progress=False)
    meta = next(tmp_path.glob("*/meta.json"))
    assert json.loads(meta.read_text())["generator"] == scene_set.generator_fingerprint()
    monkeypatch.setattr(scene_set, "generator_fingerprint", lambda: "changed")
    calls = []
    real = scene_set._collect
    monkeypatch.setattr(scene_set, "_collect", lambda *a: calls.append(a) or real(*a))
    again = build_scene_set("synthetic:2", (32, 32), 0, cache_dir=tmp_path, progress=False)
    assert len(calls) == 1 and json.loads(meta.read_text())["generator"] == "changed"
    np.testing.assert_array_equal(again.depth, first.depth)


def test_train_settings_bound_the_thread_count():
    """The Python API holds threads to the same bound as the command line (limits.max_threads)."""
    from xnet_edge.errors import UsageError
    from xnet_edge.limits import max_threads
    from xnet_edge.train import TrainSettings

    assert TrainSettings(threads=max_threads()).threads == max_threads()
    with pytest.raises(UsageError, match="too many"):
        TrainSettings(threads=max_threads() + 1)
