"""Procedural scenes: determinism, ranges, and geometry checked by back-projection."""

import numpy as np
import pytest

from xnet_edge.data import open_dataset
from xnet_edge.data.synthetic import (CLASS_NAMES, HELD_OUT_SEED, MAX_DEPTH, MIN_DEPTH, SKY, SyntheticDataset, generate,
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
        measured = depth[depth > 0]  # 0 = no depth (sky, beyond MAX_DEPTH), as in real RGB-D data
        assert measured.size > 0.5 * depth.size
        # strictly inside the range: the generator's clip is a safety net, not what shapes the scenes
        assert MIN_DEPTH < measured.min() and measured.max() <= MAX_DEPTH
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
    assert set(np.unique(scene.labels)) <= set(range(len(CLASS_NAMES))) | {SKY}


def test_dataset_uses_held_out_seed():
    ds = open_dataset("synthetic:3?size=48x64")
    assert isinstance(ds, SyntheticDataset) and len(ds) == 3 and ds.seed == HELD_OUT_SEED
    rgb, depth = ds[2]
    np.testing.assert_array_equal(depth, render_scene(2, (48, 64), HELD_OUT_SEED).depth)
    assert open_dataset("synthetic:2?seed=4&size=48x64").seed == 4
    with pytest.raises(ValueError):
        render_scene(0, (0, 10))


def test_scene_kinds_and_sky_has_no_depth_and_no_class():
    scenes = list(generate_scenes(24, size=SIZE, seed=11))
    kinds = {s.kind for s in scenes}
    assert kinds == {"room", "tabletop", "bin", "outdoor"}
    assert SKY == 255 and len(CLASS_NAMES) == 6  # the label API segmentation models are trained on
    for scene in scenes:
        assert set(np.unique(scene.labels)) <= set(range(len(CLASS_NAMES))) | {SKY}
        sky = scene.labels == SKY
        if scene.kind == "outdoor":
            assert (scene.depth[sky] == 0).all()
            assert not (scene.labels == CEILING).any()
        else:
            assert not sky.any() and (scene.depth > 0).all()


def test_sky_rays_point_above_the_horizon():
    for scene in generate_scenes(24, size=SIZE, seed=11):
        sky = scene.labels == SKY
        if not sky.any():
            continue
        h, w = SIZE
        jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        pixels = np.stack([jj.ravel(), ii.ravel(), np.ones(h * w)])
        rays = scene.cam_to_world[:3, :3] @ (np.linalg.inv(scene.intrinsics) @ pixels)
        up = rays[1].reshape(h, w)
        assert (up[sky] >= 0).all() and (up[(scene.labels == FLOOR)] < 0).all()


def test_photo_texture_maps_metres_to_texels_and_filters_far_points():
    from xnet_edge.data._photos import PhotoTexture, pyramid

    pyr = pyramid("coffee")
    w0, h0 = int(pyr.widths[0]), int(pyr.heights[0])
    level0 = pyr.flat[:, :w0 * h0].reshape(3, h0, w0)
    tex = PhotoTexture("coffee", (2.0, 1.0), (0.0, 0.0))
    # u runs along the columns (2 m for the whole photo), v up the rows (1 m)
    u = np.array([0.25, 1.5, 2.25], np.float32)
    v = np.array([0.75, 0.1, 0.75], np.float32)
    out = tex(u, v)
    cols = (u / 2.0 % 1.0 * w0).astype(int)
    rows = ((1.0 - v % 1.0) * h0).astype(int)
    np.testing.assert_array_equal(out, level0[:, rows, cols])
    # a pixel covering 8 texels reads mip level 3: the mean of an 8x8 block
    far = tex(u[:1], v[:1], footprint=np.array([8 * 2.0 / w0], np.float32))
    r, c = rows[0] // 8 * 8, cols[0] // 8 * 8
    np.testing.assert_allclose(far[:, 0], level0[:, r:r + 8, c:c + 8].mean(axis=(1, 2)), rtol=1e-4)


def test_photo_textures_come_from_pinned_packages_and_never_from_evaluation_scenes():
    from xnet_edge.data._photos import PHOTOS, pyramid

    assert {p.package for p in PHOTOS} <= {"skimage", "matplotlib"}
    assert not any("motorcycle" in p.file or "aloe" in p.file.lower() for p in PHOTOS)
    for p in PHOTOS:
        assert pyramid(p.name).flat.shape[0] == 3
