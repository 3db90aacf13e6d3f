"""File formats: PFM, 16-bit depth PNG, Middlebury calib.txt and the disparity formula."""

import struct

import numpy as np
import pytest

from xnet_edge.data import DataFormatError, read_depth_png, read_pfm, write_depth_png, write_pfm
from xnet_edge.data.formats import disparity_to_depth, read_middlebury_calib
from xnet_edge.errors import UsageError


def test_pfm_reads_big_endian_bottom_row_first(tmp_path):
    # written by hand: positive scale = big-endian, first stored row is the image's bottom row
    rows_bottom_up = [[1.0, 2.0, 3.0], [4.0, float("inf"), 6.0]]
    payload = b"".join(struct.pack(">3f", *row) for row in rows_bottom_up)
    (tmp_path / "d.pfm").write_bytes(b"Pf\n3 2\n1.0\n" + payload)
    out = read_pfm(tmp_path / "d.pfm")
    assert out.dtype == np.float32 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[4.0, np.inf, 6.0], [1.0, 2.0, 3.0]])


def test_pfm_round_trip_and_errors(tmp_path):
    arr = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    write_pfm(tmp_path / "a.pfm", arr)
    assert (tmp_path / "a.pfm").read_bytes().startswith(b"Pf\n7 5\n-1\n")
    np.testing.assert_array_equal(read_pfm(tmp_path / "a.pfm"), arr)
    color = np.random.default_rng(1).random((2, 3, 3)).astype(np.float32)
    write_pfm(tmp_path / "c.pfm", color)
    np.testing.assert_array_equal(read_pfm(tmp_path / "c.pfm"), color)
    (tmp_path / "bad.pfm").write_bytes(b"P6\n1 1\n255\n\x00\x00\x00")
    with pytest.raises(DataFormatError, match="not a PFM"):
        read_pfm(tmp_path / "bad.pfm")
    (tmp_path / "short.pfm").write_bytes(b"Pf\n4 4\n-1\n" + b"\x00" * 8)
    with pytest.raises(DataFormatError, match="truncated"):
        read_pfm(tmp_path / "short.pfm")


def test_depth_png_millimetres_round_trip(tmp_path):
    import cv2

    depth = np.array([[0.5, 1.2344, 0.0], [np.nan, 65.535, -1.0]], np.float32)
    write_depth_png(tmp_path / "d.png", depth, scale=1000)
    raw = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, [[500, 1234, 0], [0, 65535, 0]])  # invalid -> 0
    np.testing.assert_allclose(read_depth_png(tmp_path / "d.png", 1000), [[0.5, 1.234, 0], [0, 65.535, 0]])
    with pytest.raises(UsageError, match="16 bits"):
        write_depth_png(tmp_path / "e.png", np.full((2, 2), 70.0), scale=1000)
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(DataFormatError, match="16-bit"):
        read_depth_png(tmp_path / "rgb.png", 1000)


CALIB = """cam0=[3979.911 0 1244.772; 0 3979.911 1019.507; 0 0 1]
cam1=[3979.911 0 1369.115; 0 3979.911 1019.507; 0 0 1]
doffs=124.343
baseline=193.001
width=2964
height=1988
ndisp=270
vmin=23
"""


def test_middlebury_calib_and_depth_formula(tmp_path):
    (tmp_path / "calib.txt").write_text(CALIB)
    calib = read_middlebury_calib(tmp_path / "calib.txt")
    assert calib["cam0"][0, 0] == 3979.911 and calib["cam0"][1, 2] == 1019.507
    assert calib["doffs"] == 124.343 and calib["baseline"] == 193.001 and calib["width"] == 2964
    # by hand: 193.001 mm * 3979.911 px / (100 + 124.343) px = 3424.02 mm
    depth = disparity_to_depth(np.array([[100.0, np.inf]]), 3979.911, 193.001, 124.343)
    assert depth.dtype == np.float32
    assert depth[0, 0] == pytest.approx(193.001 * 3979.911 / 224.343 / 1000, rel=1e-6)
    assert depth[0, 0] == pytest.approx(3.42392, abs=1e-4) and depth[0, 1] == 0
    (tmp_path / "bad.txt").write_text("doffs=1\n")
    with pytest.raises(DataFormatError, match="cam0"):
        read_middlebury_calib(tmp_path / "bad.txt")
