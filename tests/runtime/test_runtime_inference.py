"""``xnet_edge.runtime.infer``: the library entry point behind ``xnet-edge infer``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.runtime import InferResult, Runtime, infer
from xnet_edge.runtime.sources import Frame


@pytest.fixture
def frames_dir(tmp_path, rgb_image):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.roll(rgb_image, 7 * i, axis=1)[..., ::-1])
    return folder


class RecordingSink:
    """A context-managed sink that records what it was given and how the run ended."""

    def __init__(self):
        self.stems, self.entered, self.exit_error = [], False, "not exited"

    def __enter__(self):
        self.entered = True
        return self

    def __exit__(self, exc_type, exc, tb):
        self.exit_error = exc_type
        return False

    def write(self, frame, result):
        self.stems.append((frame.stem, result.shape))


def test_infer_files_and_sinks_match_runtime_predict(tiny_onnx, frames_dir, tmp_path):
    sink = RecordingSink()
    out = tmp_path / "out"
    result = infer(tiny_onnx, frames_dir, out, formats="npy", sinks=[sink])
    assert isinstance(result, InferResult)
    assert result.exit_code == 0 and result.summary.frames == 3 and result.output == out
    assert result.runtime["backend"] == "onnxruntime" and result.metrics is None
    assert sink.entered and sink.exit_error is None
    assert sink.stems == [(f"f{i}", (48, 80)) for i in range(3)]
    with Runtime(tiny_onnx) as rt:
        for i in range(3):
            rgb = cv2.imread(str(frames_dir / f"f{i}.png"))[..., ::-1]
            np.testing.assert_allclose(np.load(out / f"f{i}_depth.npy"), rt.predict(rgb), atol=1e-6)
    assert set(result.to_dict()) == {"summary", "runtime"}


def test_infer_on_frames_with_an_open_runtime_and_no_files(tiny_onnx, rgb_image):
    frames = [Frame(0, "a", "mem#0", image=rgb_image), Frame(1, "b", "mem#1", error="corrupt"),
              Frame(2, "c", "mem#2", image=rgb_image[:, ::-1])]
    sink = RecordingSink()
    with Runtime(tiny_onnx) as rt:
        result = infer(rt, frames, sinks=[sink])
        assert not rt.closed  # a Runtime handed in stays open
        expected = rt.predict(rgb_image)
    assert result.summary.frames == 2 and result.summary.skipped == [("mem#1", "corrupt")]
    assert result.exit_code == 1 and result.output is None
    assert [s for s, _ in sink.stems] == ["a", "c"]
    assert expected.shape == rgb_image.shape[:2]


def test_a_failing_sink_is_exited_with_the_error(tiny_onnx, rgb_image):
    class Broken(RecordingSink):
        def write(self, frame, result):
            raise XnetEdgeError("disk full")

    sink = Broken()
    with pytest.raises(XnetEdgeError, match="disk full"):
        infer(tiny_onnx, [Frame(0, "a", "mem#0", image=rgb_image)], sinks=[sink])
    assert sink.entered and sink.exit_error is XnetEdgeError


def test_usage_errors_before_the_model_loads(tmp_path, frames_dir):
    # the artifact does not exist: the bad format must be reported first
    with pytest.raises(UsageError, match="bad --format"):
        infer(tmp_path / "missing.onnx", frames_dir, tmp_path / "o", formats="jpeg")
    with pytest.raises(UsageError, match="intrinsics"):
        infer(tmp_path / "missing.onnx", frames_dir, tmp_path / "o", formats=["ply"])
    with pytest.raises(UsageError, match="scores one input image"):
        infer(tmp_path / "missing.onnx", frames_dir, None, gt=frames_dir / "f0.png")
    assert not (tmp_path / "o").exists()


def test_eval_and_infer_share_the_runtime_arguments():
    from xnet_edge.cli import build_parser
    from xnet_edge.runtime.artifact import BACKENDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices

    def runtime_group(name):
        group = next(g for g in sub[name]._action_groups if g.title == "runtime")
        return [(a.dest, a.help, tuple(a.choices or ())) for a in group._group_actions]

    assert runtime_group("infer") == runtime_group("eval")
    assert dict((d, c) for d, _, c in runtime_group("eval"))["backend"] == BACKENDS
