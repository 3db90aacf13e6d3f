"""Image files: listing, decoding every kind of image, the one error type, scikit-image photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.images import ImageReadError, bgr_to_rgb, list_images, read_image, read_rgb, skimage_photo


def _write(path, image):
    assert cv2.imwrite(str(path), image)
    return path


def test_list_images(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt", "sub/c.tif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(str(tmp_path))] == ["a.jpg", "b.png"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.jpg", "b.png", "c.tif"]
    assert [p.name for p in list_images(str(tmp_path / "*.png"))] == ["b.png"]
    assert list_images(str(tmp_path / "notes.txt")) == [tmp_path / "notes.txt"]  # a named file is taken as given
    assert list_images([tmp_path / "b.png", str(tmp_path / "a.jpg")]) == [tmp_path / "b.png", tmp_path / "a.jpg"]
    with pytest.raises(UsageError, match="no files match"):
        list_images(str(tmp_path / "*.exr"))
    with pytest.raises(UsageError, match="calibration images not found"):
        list_images(tmp_path / "missing", what="calibration images")
    with pytest.raises(UsageError, match="no calibration images given"):
        list_images([], what="calibration images")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images .* in input folder"):
        list_images(str(tmp_path / "empty"))


def test_read_image_keeps_what_is_stored_in_rgb_order(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    assert read_image(_write(tmp_path / "c.png", bgr))[0, 0].tolist() == [0, 0, 200]
    bgra = np.dstack([bgr, np.full((4, 5), 9, np.uint8)])
    assert read_image(_write(tmp_path / "a.png", bgra))[0, 0].tolist() == [0, 0, 200, 9]
    assert read_image(_write(tmp_path / "g.png", np.full((4, 5), 77, np.uint8))).shape == (4, 5)
    assert read_image(_write(tmp_path / "d.png", np.full((4, 5), 40000, np.uint16))).dtype == np.uint16


def test_read_rgb_gives_hxwx3_uint8(tmp_path):
    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[..., 0] = 200  # red
    for name in ("r.png", "r.bmp"):
        out = read_rgb(_write(tmp_path / name, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))
        assert out.shape == (8, 10, 3) and out.dtype == np.uint8 and out[0, 0].tolist() == [200, 0, 0]
    gray = read_rgb(_write(tmp_path / "g.png", np.full((4, 5), 77, np.uint8)))
    assert gray.shape == (4, 5, 3) and gray[0, 0].tolist() == [77, 77, 77]
    deep = read_rgb(_write(tmp_path / "d.png", np.full((4, 5), 40000, np.uint16)))
    assert deep.dtype == np.uint8 and deep[0, 0].tolist() == [40000 >> 8] * 3
    bgra = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.full((8, 10), 9, np.uint8)])
    assert read_rgb(_write(tmp_path / "a.png", bgra))[0, 0].tolist() == [200, 0, 0]


@pytest.mark.parametrize("content, message", [(b"", "empty file"), (b"\xff\xd8\xff garbage", "cannot decode"),
                                              (None, "cannot read")])
def test_unreadable_images_raise_one_error_type(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    for reader in (read_image, read_rgb):
        with pytest.raises(ImageReadError, match=message) as exc:
            reader(path)
        assert isinstance(exc.value, UsageError) and isinstance(exc.value, XnetEdgeError)


def test_bgr_to_rgb_matches_opencv():
    bgr = np.random.default_rng(0).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    assert np.array_equal(bgr_to_rgb(bgr), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    bgra = np.random.default_rng(1).integers(0, 255, (3, 4, 4), dtype=np.uint8)
    assert np.array_equal(bgr_to_rgb(bgra), cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA))
    gray = np.zeros((3, 4), np.uint8)
    assert bgr_to_rgb(gray) is gray


def test_skimage_photos():
    left, right, _ = skdata.stereo_motorcycle()
    assert np.array_equal(skimage_photo("motorcycle_left"), left)
    assert np.array_equal(skimage_photo("motorcycle_right"), right)
    camera = skimage_photo("camera")  # a gray photo comes out as RGB
    assert camera.shape == (*skdata.camera().shape, 3) and camera.dtype == np.uint8
    with pytest.raises(UsageError, match="unknown scikit-image photo"):
        skimage_photo("no_such_photo")
