"""``xnet-edge infer`` end to end on the tiny ONNX model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.data import write_pfm
from xnet_edge.data.middlebury import MOTORCYCLE_BASELINE_MM, MOTORCYCLE_DOFFS, MOTORCYCLE_FOCAL_PX


@pytest.fixture
def scene(tmp_path):
    """A small real-looking frame with ground truth: skimage's Motorcycle, downscaled 4x."""
    from skimage.data import stereo_motorcycle

    left, _, disparity = stereo_motorcycle()
    rgb = np.ascontiguousarray(left[::4, ::4])
    disp = np.ascontiguousarray(disparity[::4, ::4]) / 4.0  # disparity scales with the image
    depth = np.zeros(disp.shape, np.float32)
    valid = np.isfinite(disp)
    focal, doffs = MOTORCYCLE_FOCAL_PX / 4, MOTORCYCLE_DOFFS / 4
    depth[valid] = MOTORCYCLE_BASELINE_MM * focal / (disp[valid] + doffs) / 1000.0
    cv2.imwrite(str(tmp_path / "moto.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.save(tmp_path / "moto_gt.npy", depth)
    mb = tmp_path / "middlebury"
    mb.mkdir()
    write_pfm(mb / "disp0.pfm", disp.astype(np.float32))
    (mb / "calib.txt").write_text(f"cam0=[{focal} 0 90; 0 {focal} 60; 0 0 1]\ndoffs={doffs}\n"
                                  f"baseline={MOTORCYCLE_BASELINE_MM}\n")
    return tmp_path


def _infer(*args):
    return main(["infer", *map(str, args), "--no-progress"])


def test_single_image_all_formats_and_metrics(tiny_onnx, scene, tmp_path, capsys):
    out = tmp_path / "out"
    rc = _infer(tiny_onnx, "--input", scene / "moto.png", "--output", out, "--format", "npy,png16,color,ply",
                "--intrinsics", "248.7,248.7,92,62", "--gt", scene / "moto_gt.npy",
                "--summary-json", tmp_path / "s.json")
    text = capsys.readouterr().out
    assert rc == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["moto.ply", "moto_color.png", "moto_depth.npy",
                                                     "moto_depth16.png"]
    assert np.load(out / "moto_depth.npy").shape == (125, 186)
    assert "abs_rel" in text and "FPS" in text and "latency p90 (ms)" in text
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["summary"]["frames"] == 1 and report["runtime"]["backend"] == "onnxruntime"
    from xnet_edge.eval import depth_metrics

    expected = depth_metrics(np.load(out / "moto_depth.npy"), np.load(scene / "moto_gt.npy"), max_depth=10.0)
    assert report["metrics"]["metrics"]["none"]["abs_rel"] == pytest.approx(expected["abs_rel"])
    # the same scene as Middlebury disparity + calib.txt gives the same metrics
    rc = _infer(tiny_onnx, "--input", scene / "moto.png", "--output", out, "--format", "npy",
                "--gt", scene / "middlebury" / "disp0.pfm", "--summary-json", tmp_path / "m.json")
    assert rc == 0
    mb = json.loads((tmp_path / "m.json").read_text())["metrics"]["metrics"]["none"]
    assert mb["abs_rel"] == pytest.approx(expected["abs_rel"], rel=1e-4)


def test_folder_with_bad_frame_and_gt_folder(tiny_onnx, scene, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    image = cv2.imread(str(scene / "moto.png"))
    cv2.imwrite(str(frames / "a.png"), image)
    (frames / "b.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(frames / "c.jpg"), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    gt = tmp_path / "gt"
    gt.mkdir()
    np.save(gt / "a_depth.npy", np.load(scene / "moto_gt.npy"))
    out = tmp_path / "out"
    rc = _infer(tiny_onnx, "--input", frames, "--output", out, "--format", "png16", "--gt", gt)
    text = capsys.readouterr().out
    assert rc == 1  # a frame was skipped; the others were still processed
    assert sorted(p.name for p in out.iterdir()) == ["a_depth16.png", "c_depth16.png"]
    assert "skipped: " in text and "b.png" in text and "no ground truth for 1 frame(s)" in text


def test_video_stream(tiny_onnx, tmp_path, write_video):
    video = write_video(tmp_path / "clip.avi", 6)
    out = tmp_path / "out"
    assert _infer(tiny_onnx, "--input", video, "--output", out, "--format", "npy", "--max-frames", 4) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"clip_{i:06d}_depth.npy" for i in range(4)]


@pytest.mark.parametrize("extra,message", [
    (["--input", "missing.png"], "input not found"),
    (["--input", "{img}", "--format", "jpeg"], "bad --format"),
    (["--input", "{img}", "--format", "ply"], "intrinsics"),
    (["--input", "camera:front"], "camera:N"),
    (["--input", "{img}", "--gt", "nowhere.npy"], "ground truth not found"),
    (["--input", "{dir}", "--gt", "{gt}"], "scores one input image"),
    (["--input", "{img}", "--backend", "torch"], "cannot run"),
])
def test_usage_errors_exit_2(tiny_onnx, scene, tmp_path, capsys, extra, message):
    two = tmp_path / "two"
    two.mkdir()
    for name in ("1.png", "2.png"):
        (two / name).write_bytes((scene / "moto.png").read_bytes())
    fill = {"img": scene / "moto.png", "dir": two, "gt": scene / "moto_gt.npy"}
    args = [a.format(**fill) for a in extra]
    assert _infer(tiny_onnx, "--output", tmp_path / "out", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_runtime_failures_exit_1(tiny_onnx, tmp_path, capsys, closed_cameras):
    bad_model = tmp_path / "bad.onnx"
    bad_model.write_bytes(b"junk")
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert _infer(bad_model, "--input", image, "--output", tmp_path / "o") == 2  # as in build and calibrate
    assert "is not an ONNX model" in capsys.readouterr().err
    assert _infer(tiny_onnx, "--input", "camera:3", "--output", tmp_path / "o") == 1
    assert "cannot open camera 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        _infer(tiny_onnx, "--input", image, "--output", tmp_path / "o", "--max-frames", "0")
    assert info.value.code == 2
