"""Calibration data sources: folders, videos, arrays, builtin photos; bad files; determinism."""

import cv2
import numpy as np
import pytest

from xnet_edge.calibration.calibration_images import (BUILTIN_CALIBRATION, CalibrationDataWarning,
                                                      calibration_inputs, load_images, video_frames)
from xnet_edge.contract import Preprocessing
from xnet_edge.errors import UsageError
from xnet_edge.preprocess import preprocess

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _write_images(folder, count, size=(20, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        cv2.imwrite(str(folder / f"img{i:02d}.png"), rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return folder


def test_unreadable_images_are_skipped_with_a_warning(tmp_path):
    folder = _write_images(tmp_path / "imgs", 3)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    with pytest.warns(CalibrationDataWarning, match="broken.jpg"):
        images, source = load_images(folder, num_images=10)
    assert [n for n, _ in images] == ["img00.png", "img01.png", "img02.png"]
    assert all(img.dtype == np.uint8 and img.shape == (20, 30, 3) for _, img in images)
    with pytest.warns(CalibrationDataWarning), pytest.raises(UsageError, match="only 3 usable"):
        calibration_inputs(folder, Preprocessing((16, 24), MEAN, STD), num_images=10, min_images=4)


def test_empty_or_missing_sources_are_usage_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        load_images(tmp_path / "empty")
    with pytest.raises(UsageError, match="not found"):
        load_images(tmp_path / "nope")
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    with pytest.raises(UsageError, match="neither an image folder nor a video"):
        load_images(other)
    with pytest.raises(UsageError, match="positive"):
        load_images("builtin", num_images=0)


def test_folder_sampling_is_seeded(tmp_path):
    folder = _write_images(tmp_path / "many", 8)
    first = [n for n, _ in load_images(folder, num_images=3, seed=0)[0]]
    again = [n for n, _ in load_images(folder, num_images=3, seed=0)[0]]
    others = {tuple(n for n, _ in load_images(folder, num_images=3, seed=s)[0]) for s in range(1, 6)}
    assert first == again and len(first) == 3 and first == sorted(first)
    assert len(others | {tuple(first)}) > 1


def test_video_frames_are_spread_evenly(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(10):
        writer.write(np.full((24, 32, 3), i * 25, dtype=np.uint8))
    writer.release()
    frames = video_frames(path, 4)
    assert [n for n, _ in frames] == ["clip.avi#0", "clip.avi#3", "clip.avi#6", "clip.avi#9"]
    levels = [int(np.median(f)) for _, f in frames]
    assert levels == pytest.approx([0, 75, 150, 225], abs=6)


def test_builtin_photos_are_real_and_deterministic():
    a = calibration_inputs("builtin", Preprocessing((32, 48), MEAN, STD), num_images=20, seed=0)
    b = calibration_inputs("builtin", Preprocessing((32, 48), MEAN, STD), num_images=20, seed=0)
    c = calibration_inputs("builtin", Preprocessing((32, 48), MEAN, STD), num_images=20, seed=1)
    assert a.names[:16] == list(BUILTIN_CALIBRATION) and "crop" in a.names[16]
    assert a.fingerprint == b.fingerprint and a.fingerprint != c.fingerprint
    assert all(np.array_equal(x, y) for x, y in zip(a.tensors, b.tensors))
    assert "chelsea" not in a.names and "motorcycle_left" not in " ".join(a.names)  # held out


def test_inputs_use_the_runtime_preprocessing():
    rng = np.random.default_rng(5)
    arrays = rng.integers(0, 255, (3, 40, 50, 3), dtype=np.uint8)
    data = calibration_inputs(arrays, Preprocessing((32, 48), MEAN, STD), num_images=3)
    assert data.names == ["array[0]", "array[1]", "array[2]"]
    for tensor, image in zip(data.tensors, arrays):
        np.testing.assert_array_equal(tensor, preprocess(image, (32, 48), MEAN, STD)[0])
