"""``xnet-edge infer`` under hostile inputs and outputs: FIFOs, corrupt videos, full and read-only disks."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

RUN_CLI = "import sys; from xnet_edge.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "in" / "frame.png"
    path.parent.mkdir()
    rgb = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    cv2.imwrite(str(path), rgb)
    return path


def _no_model(monkeypatch):
    import xnet_edge.runtime.runtime as runtime

    monkeypatch.setattr(runtime.Runtime, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))


@pytest.mark.parametrize("values", ["nan,500,32,48", "500,inf,32,48", "500,500,nan,48", "500,500,32,-inf"])
def test_non_finite_intrinsics_are_refused(tiny_onnx, image, tmp_path, cli_error, values):
    code, err = cli_error("infer", tiny_onnx, "--input", image, "--output", tmp_path / "o", "--format", "ply",
                          "--intrinsics", values)
    assert code == 2 and "finite" in err and not (tmp_path / "o").exists()


def test_a_fifo_input_is_refused_instead_of_blocking(tiny_onnx, tmp_path):
    for name in ("pipe.png", "pipe.mp4"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        out = subprocess.run([sys.executable, "-c", RUN_CLI, "infer", str(tiny_onnx), "--input", str(fifo),
                              "--output", str(tmp_path / "o"), "--no-progress"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "is not a regular file" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_a_video_losing_frames_fails_and_says_how_many(tiny_onnx, tmp_path, write_video, capsys):
    from xnet_edge.cli import main

    video = write_video(tmp_path / "clip.avi", 30)
    data = bytearray(video.read_bytes())
    cut = tmp_path / "cut.avi"
    cut.write_bytes(bytes(data[: len(data) // 2]))  # the header still says 30 frames
    code = main(["infer", str(tiny_onnx), "--input", str(cut), "--output", str(tmp_path / "o"), "--format", "npy",
                 "--no-progress"])
    text = capsys.readouterr().out
    assert code == 1  # like an image that fails to decode
    lost = 30 - len(list((tmp_path / "o").iterdir()))
    assert lost > 0 and f"{lost} frame(s) lost" in text and "of 30 frames" in text
    assert main(["infer", str(tiny_onnx), "--input", str(video), "--output", str(tmp_path / "whole"),
                 "--format", "npy", "--no-progress"]) == 0  # the intact video still passes


def test_skips_go_to_stderr_and_no_outputs_line_without_outputs(tiny_onnx, tmp_path, capsys):
    from xnet_edge.cli import main

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")
    code = main(["infer", str(tiny_onnx), "--input", str(folder), "--output", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 1 and not (tmp_path / "o").exists()
    assert "outputs in" not in captured.out
    assert any(line.startswith("skipped ") and "a.png" in line for line in captured.err.splitlines())
    assert not any(line.startswith("skipped ") for line in captured.out.splitlines())


def test_a_read_only_output_fails_before_the_model_loads(tiny_onnx, image, mount_tmpfs, cli_error, monkeypatch):
    disk = mount_tmpfs("ro", read_only=True)
    _no_model(monkeypatch)
    code, err = cli_error("infer", tiny_onnx, "--input", image, "--output", disk / "o")
    assert code == 1 and "Read-only file system" in err and str(disk / "o") in err
    code, err = cli_error("infer", tiny_onnx, "--input", image, "--output", image.parent / "o",
                          "--summary-json", disk / "s.json")
    assert code == 1 and "Read-only file system" in err and not (image.parent / "o").exists()


def test_a_full_disk_mid_run_is_one_line(tiny_onnx, image, mount_tmpfs, cli_error):
    for i in range(1, 8):
        (image.parent / f"frame{i}.png").write_bytes(image.read_bytes())
    disk = mount_tmpfs("full", size="96k")  # a few frames of npy + png fit, not eight
    code, err = cli_error("infer", tiny_onnx, "--input", image.parent, "--output", disk / "o", "--no-progress")
    assert code == 1 and "No space left on device" in err and str(disk / "o") in err
    leftovers = [p.name for p in (disk / "o").iterdir()] if (disk / "o").exists() else []
    assert not [name for name in leftovers if name.startswith(".")]  # whole files only, no staging


def test_an_unreadable_folder_is_reported_as_such(tiny_onnx, image, tmp_path):
    os.chmod(image.parent, 0)
    try:
        # root reads anything; without the permission-override capabilities it meets the mode bits
        out = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
                              RUN_CLI, "infer", str(tiny_onnx), "--input", str(image.parent),
                              "--output", str(tmp_path / "o"), "--no-progress"],
                             capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("setpriv is not installed")
    finally:
        os.chmod(image.parent, 0o755)
    if "setpriv:" in out.stderr:
        pytest.skip(f"cannot drop capabilities here: {out.stderr.strip()}")
    assert out.returncode == 1 and "cannot read input folder" in out.stderr and "Permission denied" in out.stderr
    assert "no images" not in out.stderr
