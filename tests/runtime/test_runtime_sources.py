"""Frame sources: images, folders, globs, videos, cameras and their failure modes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xnet_edge.errors import UsageError
from xnet_edge.runtime import sources
from xnet_edge.runtime.sources import FrameSource, SourceError, parse_camera


def _write(path, image):
    assert cv2.imwrite(str(path), image)
    return path


def test_large_images_are_downscaled(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_SIDE", 32)
    image, note = sources.limit_size(np.zeros((40, 100, 3), np.uint8), cv2)
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
