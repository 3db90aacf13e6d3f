"""Streaming inference: decoding and preprocessing of frame N+1 overlap inference of frame N.

Three stages, joined by bounded queues so memory stays constant however long the stream:

    reader thread:  decode frame -> Runtime.preprocess      ─┐ queue (depth ``queue_size``)
    caller thread:  Runtime.infer -> Runtime.postprocess     ─┤
    writer thread:  write outputs (npy/png/color/ply)        ─┘ queue (depth ``queue_size``)

numpy, OpenCV's decoders and ONNX Runtime / TensorRT release the GIL, so the stages run
in parallel on a multi-core robot computer.
"""

from __future__ import annotations

import queue
import threading
import time
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from ..errors import XnetEdgeError
from ..preprocess import Letterbox
from .sources import Frame, SourceError
from .timing import summarize_ms

_DONE = object()


class _Failure:
    """Carries an exception from a worker thread to the caller."""

    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[Any], fn: Callable[[Any], Any], depth: int = 2) -> Iterator[Any]:
    """Yield ``fn(item)`` for each item, computed ahead in a background thread.

    At most ``depth`` results wait in the queue. An exception in the iterator or in ``fn``
    is re-raised in the caller after the results before it. Closing the generator early
    (``break``, an exception) stops and joins the thread.
    """
    results: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                results.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if stop.is_set() or not put(fn(item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="xnet-edge-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            value = results.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                results.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class BackgroundWorker:
    """Runs ``fn(*args)`` calls in order on one thread, with at most ``depth`` calls waiting.

    The first exception raised by ``fn`` is re-raised by the next :meth:`submit` or by :meth:`close`.
    """

    def __init__(self, fn: Callable[..., Any], depth: int = 2):
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._work, name="xnet-edge-writer", daemon=True)
        self._thread.start()

    def _work(self):
        while True:
            args = self._queue.get()
            if args is _DONE:
                return
            if self._error is None:
                try:
                    self._fn(*args)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    self._error = exc

    def _raise(self):
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, *args) -> None:
        """Queue one call (blocks while ``depth`` calls are waiting)."""
        self._raise()
        self._queue.put(args)

    def close(self) -> None:
        """Wait for queued calls to finish; re-raise the first failure."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
        self._raise()


@dataclass
class Prepared:
    """A frame after the reader stage: its network input and letterbox, or its error."""

    frame: Frame
    tensor: Optional[np.ndarray] = None
    box: Optional[Letterbox] = None
    preprocess_s: float = 0.0


@dataclass
class StreamSummary:
    """What a streaming run did.

    Attributes:
        frames: frames processed.
        skipped: (source, reason) of frames that could not be used.
        latency_s: per-frame latency (preprocess + inference + postprocess), seconds.
        infer_s: per-frame inference time (network only), seconds.
        wall_s: wall time of the whole run.
        notes: things worth telling the user (downscaled images, short videos).
        stopped: why the stream ended early (a camera that stopped, Ctrl-C), or None.
        interrupted: True when Ctrl-C ended the run.
    """

    frames: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    latency_s: array = field(default_factory=lambda: array("d"))
    infer_s: array = field(default_factory=lambda: array("d"))
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    stopped: Optional[str] = None
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        """JSON-friendly summary (latencies in ms)."""
        return {"frames": self.frames, "skipped": len(self.skipped),
                "skipped_frames": [{"source": s, "reason": r} for s, r in self.skipped],
                "fps": self.fps, "wall_s": self.wall_s,
                "latency": summarize_ms(np.frombuffer(self.latency_s, dtype=np.float64) if self.latency_s else []),
                "inference": summarize_ms(np.frombuffer(self.infer_s, dtype=np.float64) if self.infer_s else []),
                "notes": list(self.notes), "stopped": self.stopped}


def _prepare(runtime, frame: Frame) -> Prepared:
    if frame.error is not None:
        return Prepared(frame)
    start = time.perf_counter()
    try:
        tensor, box = runtime.preprocess(frame.image)
    except XnetEdgeError as exc:
        frame.error = str(exc)
        frame.image = None
        return Prepared(frame)
    return Prepared(frame, tensor, box, time.perf_counter() - start)


def run_stream(runtime, frames: Iterable[Frame], on_result: Callable[[Frame, np.ndarray], None], *,
               queue_size: int = 4, on_progress: Optional[Callable[[StreamSummary], None]] = None,
               on_skip: Optional[Callable[[str, str], None]] = None) -> StreamSummary:
    """Run every frame through ``runtime`` with decode/preprocess and output writing overlapped.

    Args:
        runtime: a :class:`~xnet_edge.runtime.Runtime`.
        frames: :class:`Frame` objects (e.g. a :class:`~xnet_edge.runtime.sources.FrameSource`).
        on_result: ``on_result(frame, depth)``, run on the writer thread in frame order.
        queue_size: frames allowed to wait between stages (bounds memory).
        on_progress: called after each frame with the running summary (progress bars).
        on_skip: called with (source, reason) for each skipped frame.

    Returns:
        A :class:`StreamSummary`. Frames that fail to decode or preprocess are skipped and listed.
        A source that fails mid-stream (a camera that stops) or Ctrl-C ends the run early and is
        recorded in ``stopped``; the frames before it are still written.

    Raises:
        XnetEdgeError: inference or writing an output failed.
    """
    summary = StreamSummary()
    writer = BackgroundWorker(on_result, depth=queue_size)
    start = time.perf_counter()
    prepared = prefetch(frames, lambda f: _prepare(runtime, f), depth=queue_size)
    try:
        for item in prepared:
            frame = item.frame
            if frame.note:
                summary.notes.append(f"{frame.source}: {frame.note}")
            if item.tensor is None:
                summary.skipped.append((frame.source, frame.error or "unknown error"))
                if on_skip:
                    on_skip(frame.source, frame.error or "unknown error")
                continue
            t0 = time.perf_counter()
            output = runtime.infer(item.tensor)[0]
            t1 = time.perf_counter()
            depth = runtime.postprocess(output, item.box)
            t2 = time.perf_counter()
            summary.infer_s.append(t1 - t0)
            summary.latency_s.append(item.preprocess_s + (t2 - t0))
            summary.frames += 1
            writer.submit(frame, depth)
            if on_progress:
                on_progress(summary)
    except SourceError as exc:
        summary.stopped = str(exc)
    except KeyboardInterrupt:
        summary.stopped, summary.interrupted = "interrupted (Ctrl-C)", True
    finally:
        prepared.close()  # stops and joins the reader thread, also when inference failed
        writer.close()
        summary.wall_s = time.perf_counter() - start
    return summary
