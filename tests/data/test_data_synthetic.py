"""Procedural scenes: determinism, ranges, and geometry checked by back-projection."""

import numpy as np
import pytest

from xnet_edge.data import open_dataset
from xnet_edge.data.synthetic import (CLASS_NAMES, HELD_OUT_SEED, MAX_DEPTH, MIN_DEPTH, SyntheticDataset, generate,
                                      generate_scenes, generate_with_intrinsics, render_scene)

SIZE = (96, 128)
FLOOR, CEILING = CLASS_NAMES.index("floor"), CLASS_NAMES.index("ceiling")


def _world_points(scene):
    """Back-project every pixel with K and the pose: an independent check of depth + intrinsics."""
    h, w = scene.depth.shape
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = np.linalg.inv(scene.intrinsics) @ np.stack([jj.ravel(), ii.ravel(), np.ones(h * w)])
    cam = rays * scene.depth.ravel()[None, :].astype(np.float64)
    world = scene.cam_to_world[:3, :3] @ cam + scene.cam_to_world[:3, 3:4]
    return world.reshape(3, h, w)


def test_types_shapes_and_depth_range():
    pairs = list(generate(12, size=SIZE, seed=0))
    assert len(pairs) == 12
    for rgb, depth in pairs:
        assert rgb.shape == (*SIZE, 3) and rgb.dtype == np.uint8
        assert depth.shape == SIZE and depth.dtype == np.float32
        # strictly inside the range: the generator's clip is a safety net, not what shapes the scenes
        assert MIN_DEPTH < depth.min() and depth.max() < MAX_DEPTH
        assert rgb.std() > 10  # textured and lit, not flat
    assert len({d.max().round(3) for _, d in pairs}) > 6  # scenes differ


def test_seeded_deterministic_and_random_access():
    a = list(generate(3, size=SIZE, seed=7))
    b = list(generate(3, size=SIZE, seed=7))
    for (ra, da), (rb, db) in zip(a, b):
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(da, db)
    scene = render_scene(2, SIZE, seed=7)
    np.testing.assert_array_equal(scene.rgb, a[2][0])
    np.testing.assert_array_equal(scene.depth, a[2][1])
    other = next(generate(1, size=SIZE, seed=8))
    assert not np.array_equal(other[1], a[0][1])


def test_floor_and_ceiling_pixels_back_project_onto_planes():
    floor_pixels = 0
    for scene in generate_scenes(6, size=SIZE, seed=3):
        world = _world_points(scene)
        floor = scene.labels == FLOOR
        floor_pixels += floor.sum()
        np.testing.assert_allclose(world[1][floor], 0.0, atol=2e-3)  # the floor is the plane y = 0
        ceiling = scene.labels == CEILING
        if ceiling.sum() > 20:
            heights = world[1][ceiling]
            assert 2.3 < heights.mean() < 3.1 and heights.std() < 2e-3
        assert np.isclose(np.linalg.det(scene.cam_to_world[:3, :3]), 1.0)
    assert floor_pixels > 0.1 * 6 * SIZE[0] * SIZE[1]


def test_output_size_changes_sampling_not_content():
    small = render_scene(4, (48, 64), seed=1)
    large = render_scene(4, (96, 128), seed=1)
    np.testing.assert_allclose(large.intrinsics[:2], 2 * small.intrinsics[:2], rtol=1e-12)
    pooled = large.depth.reshape(48, 2, 64, 2).mean(axis=(1, 3))
    assert np.median(np.abs(pooled - small.depth) / small.depth) < 0.01


def test_generate_with_intrinsics_and_scene_labels():
    (rgb, depth, k), = list(generate_with_intrinsics(1, size=SIZE, seed=5))
    scene = render_scene(0, SIZE, seed=5)
    np.testing.assert_array_equal(depth, scene.depth)
    np.testing.assert_array_equal(k, scene.intrinsics)
    assert k[0, 0] == k[1, 1] and 0.4 * SIZE[1] < k[0, 2] < 0.6 * SIZE[1]
    assert set(np.unique(scene.labels)) <= set(range(len(CLASS_NAMES)))


def test_dataset_uses_held_out_seed():
    ds = open_dataset("synthetic:3?size=48x64")
    assert isinstance(ds, SyntheticDataset) and len(ds) == 3 and ds.seed == HELD_OUT_SEED
    rgb, depth = ds[2]
    np.testing.assert_array_equal(depth, render_scene(2, (48, 64), HELD_OUT_SEED).depth)
    assert open_dataset("synthetic:2?seed=4&size=48x64").seed == 4
    with pytest.raises(ValueError):
        render_scene(0, (0, 10))
