"""Frame sources: images, folders, globs, videos, cameras and their failure modes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.runtime import sources
from xnet_edge.runtime.sources import FrameSource, SourceError, list_images, parse_camera, read_image


def _write(path, image):
    assert cv2.imwrite(str(path), image)
    return path


def test_list_images(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(str(tmp_path))] == ["a.jpg", "b.png"]
    assert [p.name for p in list_images(str(tmp_path / "*.png"))] == ["b.png"]
    with pytest.raises(UsageError, match="no files match"):
        list_images(str(tmp_path / "*.exr"))
    with pytest.raises(UsageError, match="not found"):
        list_images(str(tmp_path / "missing.png"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        list_images(str(tmp_path / "empty"))


def test_read_image_kinds(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    rgb, note = read_image(_write(tmp_path / "c.png", bgr), cv2)
    assert note is None and rgb[0, 0].tolist() == [0, 0, 200]
    bgra = np.dstack([bgr, np.full((4, 5), 9, np.uint8)])
    assert read_image(_write(tmp_path / "a.png", bgra), cv2)[0][0, 0].tolist() == [0, 0, 200, 9]
    gray = read_image(_write(tmp_path / "g.png", np.full((4, 5), 77, np.uint8)), cv2)[0]
    assert gray.shape == (4, 5)
    deep = read_image(_write(tmp_path / "d.png", np.full((4, 5), 40000, np.uint16)), cv2)[0]
    assert deep.dtype == np.uint16
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(XnetEdgeError, match="empty file"):
        read_image(tmp_path / "empty.png", cv2)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(XnetEdgeError, match="cannot decode"):
        read_image(tmp_path / "bad.jpg", cv2)


def test_large_images_are_downscaled(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_SIDE", 32)
    image, note = read_image(_write(tmp_path / "big.png", np.zeros((40, 100, 3), np.uint8)), cv2)
    assert image.shape == (13, 32, 3) and "downscaled from 100x40 to 32x13" in note


def test_folder_with_a_bad_frame(tmp_path):
    _write(tmp_path / "1.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "2.png").write_bytes(b"not a png")
    _write(tmp_path / "3.png", np.zeros((8, 8), np.uint8))
    frames = list(FrameSource(str(tmp_path)))
    assert [(f.stem, f.error is None) for f in frames] == [("1", True), ("2", False), ("3", True)]
    assert len(list(FrameSource(str(tmp_path), max_frames=2))) == 2
    with pytest.raises(UsageError, match="max-frames"):
        FrameSource(str(tmp_path), max_frames=0)


def test_video_frames(tmp_path, write_video):
    video = write_video(tmp_path / "clip.avi", 12)
    source = FrameSource(str(video))
    assert source.kind == "video" and source.total == 12
    frames = list(source)
    assert len(frames) == 12 and frames[3].stem == "clip_000003"
    assert frames[0].image.shape == (48, 64, 3)
    short = FrameSource(str(video), max_frames=5)
    assert short.total == 5 and len(list(short)) == 5
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="cannot open video"):
        FrameSource(str(broken))


def test_camera_specs(closed_cameras):
    assert parse_camera("camera:2") == 2 and parse_camera("frames/") is None
    with pytest.raises(UsageError, match="camera:N"):
        parse_camera("camera:front")
    with pytest.raises(SourceError, match="cannot open camera 7"):
        FrameSource("camera:7")


def test_camera_that_stops(monkeypatch):
    class FlakyCamera:
        def __init__(self, index):
            self.reads = 0

        def isOpened(self):
            return True

        def read(self):
            self.reads += 1
            ok = self.reads <= 3 or self.reads == 5  # frames 1-3, one dropped read, a 4th frame, then nothing
            return ok, (np.zeros((6, 8, 3), np.uint8) if ok else None)

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", FlakyCamera)
    monkeypatch.setattr(sources, "CAMERA_RETRY_SLEEP_S", 0.0)
    source = FrameSource("camera:0")
    got = []
    with pytest.raises(SourceError, match="stopped delivering frames after 4"):
        for frame in source:
            got.append(frame.stem)
    assert got == [f"camera0_{i:06d}" for i in range(4)]
    assert len(list(FrameSource("camera:0", max_frames=2))) == 2
