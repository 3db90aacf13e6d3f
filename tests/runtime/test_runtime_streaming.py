"""The streaming pipeline: bounded prefetch, ordering, overlap, skipped frames and early stops."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.preprocess import Letterbox
from xnet_edge.runtime.sources import Frame, SourceError
from xnet_edge.runtime.streaming import BackgroundWorker, prefetch, run_stream


def _alive(name):
    return [t for t in threading.enumerate() if t.name == name]


def test_prefetch_keeps_order_and_bounds_the_queue():
    produced = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    seen = []
    for value in prefetch(items(), lambda v: v * 10, depth=2):
        time.sleep(0.005)
        seen.append(value)
        # the reader may run ahead by the queue depth plus the item in its hands, never more
        assert len(produced) - len(seen) <= 2 + 2
    assert seen == [i * 10 for i in range(20)]


def test_prefetch_errors_and_early_exit():
    def items():
        yield 1
        yield 2
        raise SourceError("camera 0 stopped")

    got = []
    with pytest.raises(SourceError, match="stopped"):
        for value in prefetch(items(), lambda v: v):
            got.append(value)
    assert got == [1, 2]
    gen = prefetch(iter(range(1000)), lambda v: v, depth=1)
    assert next(gen) == 0
    gen.close()
    assert not _alive("xnet-edge-prefetch")


def test_background_worker_reports_failures():
    done = []
    worker = BackgroundWorker(lambda v: done.append(v))
    for i in range(5):
        worker.submit(i)
    worker.close()
    assert done == list(range(5))

    def fail(v):
        raise XnetEdgeError(f"disk full at {v}")

    worker = BackgroundWorker(fail)
    worker.submit(1)
    with pytest.raises(XnetEdgeError, match="disk full at 1"):
        worker.close()


class FakeRuntime:
    """Preprocess / infer / postprocess with hooks to observe the threads."""

    def __init__(self, on_infer=None, on_preprocess=None):
        self.on_infer, self.on_preprocess = on_infer, on_preprocess

    def preprocess(self, image):
        if self.on_preprocess:
            self.on_preprocess(image)
        if image.size == 0:
            raise UsageError("expected a non-empty image")
        h, w = image.shape[:2]
        return np.full((1, 3, 4, 4), float(image.flat[0]), np.float32), Letterbox((h, w), (4, 4), (4, 4))

    def infer(self, tensor):
        if self.on_infer:
            self.on_infer(tensor)
        return tensor[:, :1] * 2

    def postprocess(self, out, box):
        return out[0]


def _frames(n, bad=()):
    for i in range(n):
        if i in bad:
            yield Frame(i, f"f{i}", f"src{i}", error="cannot decode")
        else:
            yield Frame(i, f"f{i}", f"src{i}", image=np.full((4, 4, 3), i, np.uint8))


def test_decode_of_next_frame_overlaps_inference():
    # infer(frame 0) waits until frame 1 has been preprocessed: a sequential loop would time out here.
    preprocessed = {i: threading.Event() for i in range(4)}
    overlapped = []

    def on_preprocess(image):
        preprocessed[int(image.flat[0])].set()

    def on_infer(tensor):
        index = int(tensor.flat[0])
        if index + 1 in preprocessed:
            overlapped.append(preprocessed[index + 1].wait(timeout=5))

    written = []
    summary = run_stream(FakeRuntime(on_infer, on_preprocess), _frames(4), lambda f, d: written.append(f.stem))
    assert overlapped == [True, True, True]
    assert written == ["f0", "f1", "f2", "f3"] and summary.frames == 4


def test_skipped_frames_and_summary():
    frames = list(_frames(5, bad={1}))
    frames[3] = Frame(3, "f3", "src3", image=np.zeros((0, 4, 3), np.uint8))
    written, skipped = [], []
    summary = run_stream(FakeRuntime(), frames, lambda f, d: written.append((f.stem, float(d.max()))),
                         on_skip=lambda src, why: skipped.append(src))
    assert written == [("f0", 0.0), ("f2", 4.0), ("f4", 8.0)]
    assert skipped == ["src1", "src3"]
    report = summary.to_dict()
    assert report["frames"] == 3 and report["skipped"] == 2 and "non-empty" in report["skipped_frames"][1]["reason"]
    assert report["latency"]["count"] == 3 and report["fps"] > 0 and report["stopped"] is None


def test_source_failure_and_interrupt_end_the_run_cleanly():
    def stopping():
        yield from _frames(3)
        raise SourceError("camera 0 stopped delivering frames after 3")

    written = []
    summary = run_stream(FakeRuntime(), stopping(), lambda f, d: written.append(f.stem))
    assert written == ["f0", "f1", "f2"] and "stopped delivering" in summary.stopped

    def interrupt(tensor):
        if tensor.flat[0] == 2:
            raise KeyboardInterrupt

    written.clear()
    summary = run_stream(FakeRuntime(on_infer=interrupt), _frames(5), lambda f, d: written.append(f.stem))
    assert summary.interrupted and written == ["f0", "f1"]
    assert not _alive("xnet-edge-prefetch") and not _alive("xnet-edge-writer")


def test_inference_errors_propagate():
    def broken(tensor):
        raise XnetEdgeError("TensorRT execute_async_v3 failed")

    with pytest.raises(XnetEdgeError, match="execute_async_v3"):
        run_stream(FakeRuntime(on_infer=broken), _frames(3), lambda f, d: None)
    assert not _alive("xnet-edge-writer") and not _alive("xnet-edge-prefetch")
