"""Depth outputs: 16-bit PNG, colorized PNG, point cloud, and argument parsing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xnet_edge.data import read_depth_png
from xnet_edge.errors import UsageError
from xnet_edge.runtime.outputs import (BAR_WIDTH, Intrinsics, OutputWriter, colorize, depth_to_png16, depth_to_points,
                                       parse_formats, parse_intrinsics, parse_range, ply_bytes)


def test_png16_is_millimetres():
    depth = np.array([[0.0, np.nan, -1.0, 1.2346, 70.0, 0.0001]], np.float32)
    assert depth_to_png16(depth).tolist() == [[0, 0, 0, 1235, 65535, 1]]


def test_writer_outputs_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 9.0, size=(12, 20)).astype(np.float32)
    depth[0, :5] = 0.0
    image = rng.integers(0, 256, size=(12, 20, 3), dtype=np.uint8)
    writer = OutputWriter(tmp_path / "out", ["npy", "png16", "color", "ply"], Intrinsics(10, 10, 10, 6))
    paths = writer.write("frame", image, depth)
    assert [p.name for p in paths] == ["frame_depth.npy", "frame_depth16.png", "frame_color.png", "frame.ply"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files
    np.testing.assert_array_equal(np.load(paths[0]), depth)
    np.testing.assert_allclose(read_depth_png(paths[1], 1000.0), depth, atol=5e-4)
    color = cv2.imread(str(paths[2]))
    assert color.shape == (12, 40 + BAR_WIDTH, 3)  # input beside the depth, then the colour bar
    np.testing.assert_array_equal(color[:, :20, ::-1], image)
    assert (color[0, 20:25] == 0).all()  # invalid depth is black


def test_colorize_uses_the_colormap_ends():
    import matplotlib

    depth = np.array([[1.0, 2.0, 3.0, 0.0]], np.float32)
    rgb = colorize(depth, "viridis", (1.0, 3.0))
    cmap = matplotlib.colormaps["viridis"]
    expected_lo = np.round(np.array(cmap(0.0)[:3]) * 255).astype(int)
    expected_hi = np.round(np.array(cmap(1.0)[:3]) * 255).astype(int)
    np.testing.assert_allclose(rgb[0, 0], expected_lo, atol=1)
    np.testing.assert_allclose(rgb[0, 2], expected_hi, atol=1)
    assert rgb[0, 3].tolist() == [0, 0, 0]
    with pytest.raises(UsageError, match="colormap"):
        colorize(depth, "no-such-map")


def test_color_output_has_a_labelled_colour_bar(tmp_path):
    depth = np.tile(np.linspace(1.0, 5.0, 64, dtype=np.float32), (96, 1))
    writer = OutputWriter(tmp_path, ["color"], colormap="viridis", depth_range=(1.0, 5.0), with_input=False)
    picture = cv2.imread(str(writer.write("ramp", None, depth)[0]))[:, :, ::-1]
    assert picture.shape == (96, 64 + BAR_WIDTH, 3)
    bar = picture[:, 64:]
    lut = colorize(np.linspace(1.0, 5.0, 256, dtype=np.float32)[None], "viridis", (1.0, 5.0))[0]
    column = bar[:, 12].astype(int)
    np.testing.assert_allclose(column[8], lut[-1], atol=2)      # top: far end of the range
    np.testing.assert_allclose(column[96 - 9], lut[0], atol=2)  # bottom: near end
    # the range is written beside the bar, in metres
    labels = bar[:, 23:]
    assert (labels.max(axis=2) > 200).sum() > 20
    top, bottom = labels[:40].max(axis=2) > 200, labels[56:].max(axis=2) > 200
    assert top.any() and bottom.any()
    # a per-frame range (no --depth-range) still gets a bar
    plain = OutputWriter(tmp_path / "auto", ["color"], with_input=False).write("ramp", None, depth)[0]
    assert cv2.imread(str(plain)).shape == (96, 64 + BAR_WIDTH, 3)


def test_back_projection_by_hand():
    depth = np.zeros((2, 3), np.float32)
    depth[1, 2] = 3.0
    depth[0, 0] = 2.0
    points, mask = depth_to_points(depth, Intrinsics(fx=2.0, fy=4.0, cx=1.0, cy=0.5))
    assert mask.sum() == 2
    np.testing.assert_allclose(points, [[(0 - 1) * 2 / 2, (0 - 0.5) * 2 / 4, 2.0],
                                        [(2 - 1) * 3 / 2, (1 - 0.5) * 3 / 4, 3.0]])


def test_ply_layout():
    points = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    data = ply_bytes(points, np.array([[255, 0, 1], [2, 3, 4]], np.uint8))
    header, body = data.split(b"end_header\n")
    assert b"format binary_little_endian 1.0" in header and b"element vertex 2" in header
    rows = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"),
                                      ("b", "u1")])
    assert rows["z"].tolist() == [3, 6] and rows["r"].tolist() == [255, 2]


def test_argument_parsing():
    assert parse_formats("npy, ply,npy") == ("npy", "ply")
    assert parse_intrinsics("525 525 319.5 239.5") == Intrinsics(525, 525, 319.5, 239.5)
    assert parse_range("0.5,8") == (0.5, 8.0) and parse_range(None) is None
    for bad in ("", "npy,jpeg"):
        with pytest.raises(UsageError):
            parse_formats(bad)
    for bad in ("1,2,3", "0,1,2,3", "a,b,c,d"):
        with pytest.raises(UsageError):
            parse_intrinsics(bad)
    for bad in ("3,1", "x"):
        with pytest.raises(UsageError):
            parse_range(bad)
    with pytest.raises(UsageError, match="intrinsics"):
        OutputWriter("unused", ["ply"])
