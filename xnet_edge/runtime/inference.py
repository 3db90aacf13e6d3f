"""``infer``: frames in, depth out — the orchestration behind ``xnet-edge infer``, callable from Python.

    from xnet_edge.runtime import infer

    result = infer("engines/orin", "clip.mp4", "out/", formats="npy,png16", max_frames=300)
    print(result.summary.fps, result.exit_code)

Sources (:class:`~.sources.FrameSource` or any iterable of :class:`~.sources.Frame`) feed the
streaming pipeline (:func:`~.streaming.run_stream`); each result goes to the file writer
(:class:`~.outputs.OutputWriter`), the ground-truth scorer and any extra sinks, on the
writer thread, in frame order.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, Sequence

import numpy as np

from ..errors import UsageError
from ..io_utils import check_writable
from .runtime_options import RuntimeOptions
from .outputs import Intrinsics, OutputWriter, parse_formats, parse_intrinsics, parse_range
from .sources import Frame, FrameSource
from .streaming import StreamSummary, run_stream


class ResultSink(Protocol):
    """Receives every result: ``write(frame, result)`` on the writer thread, in frame order.

    A sink that is also a context manager is entered before the first frame and exited after
    the last (with the exception, if the run failed), e.g. to publish a bag only when complete.
    A sink with a ``bind(runtime)`` method is told the open runtime first (task, classes).
    """

    def write(self, frame: Frame, result: np.ndarray) -> None: ...


@dataclass
class InferResult:
    """What :func:`infer` did.

    Attributes:
        summary: frames, skipped frames, latencies, FPS (a :class:`~.streaming.StreamSummary`).
        runtime: :meth:`Runtime.describe` of the runtime that ran.
        metrics: the ground-truth report when ``gt`` was given, else None.
        output: the output folder, or None when no files were written.
    """

    summary: StreamSummary
    runtime: dict
    metrics: Optional[dict] = None
    output: Optional[Path] = None

    @property
    def exit_code(self) -> int:
        """0 all frames done, 1 frames skipped / none done / stopped early, 130 interrupted."""
        if self.summary.interrupted:
            return 130
        return 1 if (self.summary.stopped or self.summary.skipped or self.summary.frames == 0) else 0

    def to_dict(self) -> dict:
        """The JSON report: ``{"summary", "runtime"[, "metrics"]}``."""
        report = {"summary": self.summary.to_dict(), "runtime": self.runtime}
        if self.metrics is not None:
            report["metrics"] = self.metrics
        return report


def _as_intrinsics(value) -> Optional[Intrinsics]:
    if value is None or isinstance(value, Intrinsics):
        return value
    if isinstance(value, str):
        return parse_intrinsics(value)
    return Intrinsics(*map(float, value))


def open_writer(output, formats=None, intrinsics=None, colormap: str = "turbo",
                depth_range=None, with_input: bool = True, overlay: bool = False,
                depth_scale: Optional[float] = None) -> Optional[OutputWriter]:
    """The file writer for :func:`infer`'s options (None without an output folder).

    Strings are parsed as on the command line (``"npy,png16"``, ``"fx,fy,cx,cy"``, ``"near,far"``);
    ``formats=None`` leaves the choice to the model's task (:meth:`OutputWriter.bind`).

    Raises:
        UsageError: a bad format list, intrinsics, depth range or colormap, or ply without intrinsics.
        OutputError: ``output`` cannot be written (checked before any work).
    """
    if output is None:
        return None
    check_writable(output, "output", is_dir=True)
    if formats is not None:
        formats = parse_formats(formats if isinstance(formats, str) else ",".join(formats))
    depth_range = parse_range(depth_range) if isinstance(depth_range, str) or depth_range is None \
        else tuple(map(float, depth_range))
    return OutputWriter(output, formats, _as_intrinsics(intrinsics), colormap=colormap,
                        depth_range=depth_range, with_input=with_input, overlay=overlay, depth_scale=depth_scale)


def infer(artifact: Any, inputs: Any, output: Optional[str | Path] = None, *,
          formats: Optional[str | Sequence[str]] = None, intrinsics: Any = None, colormap: str = "turbo",
          depth_range: Any = None, with_input: bool = True, overlay: bool = False,
          depth_scale: Optional[float] = None, gt: Optional[str | Path] = None,
          max_frames: Optional[int] = None, queue_size: int = 4, progress: bool = False,
          sinks: Sequence[ResultSink] = (), runtime_options: Optional[RuntimeOptions] = None) -> InferResult:
    """Run a model over a stream of frames and write the results.

    Every usage error (bad formats, missing input, ground truth for several frames) is raised
    before the model loads or a frame is read.

    Args:
        artifact: anything :class:`~xnet_edge.runtime.Runtime` opens (engine folder, ``.onnx``,
            plan, checkpoint, ``"demo"``), or an open ``Runtime`` (left open).
        inputs: an image, folder, glob, video or ``camera:N`` (a :class:`~.sources.FrameSource` spec),
            or an iterable of :class:`~.sources.Frame` (its ``total``, ``kind``, ``notes`` and
            ``close()`` are used when present).
        output: folder for the files (None: no files).
        formats: a list or a comma-separated string; depth models: ``npy``, ``png16``, ``color``,
            ``ply`` (default the first three); segmentation models: ``labels``, ``labels-npy``,
            ``seg-color`` (default all three).
        intrinsics: fx, fy, cx, cy (for ``ply``): an :class:`~.outputs.Intrinsics`, 4 numbers or a string.
        colormap, depth_range, with_input: the ``color`` output's colormap, fixed (near, far) range
            (per-frame percentiles when None) and whether the input is shown beside it.
        overlay: segmentation: ``seg-color`` blends the palette over the input.
        depth_scale: for depth models without a metric scale (relative / inverse depth, disparity),
            what makes metres for ``png16`` and ``ply`` (:func:`~.outputs.to_metric`); without it
            those formats are skipped for them.
        gt: ground truth to score against (see :class:`~.groundtruth.GroundTruthScorer`); depth
            kinds without a metric scale are aligned the standard way (:func:`xnet_edge.eval.report_alignments`).
        max_frames: stop after this many frames (spec inputs).
        queue_size: frames buffered between stages (bounds memory).
        progress: show a progress bar.
        sinks: more consumers of each result (:class:`ResultSink`), e.g. a bag writer or a live view.
        runtime_options: a :class:`~.options.RuntimeOptions` for the ``Runtime`` infer opens (backend,
            providers, threads, ...); refused with an open ``Runtime`` as ``artifact``.

    Returns:
        An :class:`InferResult` (its ``exit_code`` is what the command line returns).

    Raises:
        UsageError: bad options or inputs.
        SourceError: a video or camera cannot be opened.
        XnetEdgeError: the model cannot load, inference or writing failed.
    """
    from .runtime import Runtime

    own = not isinstance(artifact, Runtime)
    if runtime_options is not None and not isinstance(runtime_options, RuntimeOptions):
        raise UsageError(f"infer takes runtime_options=RuntimeOptions(...), not a {type(runtime_options).__name__}")
    if runtime_options is not None and not own:
        raise UsageError("runtime_options apply to the Runtime infer opens; this Runtime is already open")
    writer = open_writer(output, formats, intrinsics, colormap, depth_range, with_input, overlay, depth_scale)
    source = FrameSource(str(inputs), max_frames) if isinstance(inputs, (str, Path)) else inputs
    try:
        scorer = None
        if gt is not None:
            from .groundtruth import GroundTruthScorer

            single = getattr(source, "kind", None) == "images" and getattr(source, "total", None) == 1
            scorer = GroundTruthScorer(gt, single)
        runtime = Runtime(artifact, runtime_options) if own else artifact
        try:
            _fit_to_task(runtime, writer, scorer)
            for sink in sinks:
                if hasattr(sink, "bind"):
                    sink.bind(runtime)
            consumers = ([_FileSink(writer)] if writer else []) + ([_ScoreSink(scorer)] if scorer else []) \
                + list(sinks)
            summary = _stream(runtime, source, consumers, queue_size, progress)
            info = runtime.describe()
        finally:
            if own:
                runtime.close()
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    summary.notes.extend(getattr(source, "notes", []))
    incomplete = getattr(source, "incomplete", None)
    if incomplete and not summary.stopped:
        summary.stopped = incomplete
    summary.notes.extend(writer.notes if writer is not None else [])
    return InferResult(summary, info, scorer.report() if scorer is not None else None,
                       Path(output) if output is not None else None)


def _fit_to_task(runtime, writer: Optional[OutputWriter], scorer) -> None:
    """Match the writer's formats and the scorer to what the model predicts (depth or class ids)."""
    if writer is not None:
        classes = runtime.num_classes
        if classes is None and runtime.task == "segmentation":  # not declared: the logits' channels, if fixed
            shape = runtime.contract.primary_output.shape
            classes = shape[1] if len(shape) == 4 and shape[1] > 0 else None
        writer.bind(runtime.output_kind, classes)
    if scorer is not None and runtime.task == "segmentation":
        raise UsageError("--gt scores depth; for a segmentation model use xnet-edge eval --dataset "
                         "folder:DIR (images + label PNGs)")
    if scorer is not None:
        scorer.set_model(runtime.max_depth, runtime.output_kind)


class _FileSink:
    def __init__(self, writer: OutputWriter):
        self.writer = writer

    def write(self, frame: Frame, result: np.ndarray) -> None:
        self.writer.write(frame.stem, frame.image, result)


class _ScoreSink:
    def __init__(self, scorer):
        self.scorer = scorer

    def write(self, frame: Frame, result: np.ndarray) -> None:
        self.scorer.add(frame.stem, result)


def _stream(runtime, source: Iterable[Frame], sinks: list, queue_size: int, progress: bool) -> StreamSummary:
    from tqdm import tqdm

    def on_result(frame, result):
        for sink in sinks:
            sink.write(frame, result)

    bar = tqdm(total=getattr(source, "total", None), unit="frame", desc="infer", disable=not progress,
               dynamic_ncols=True)
    with contextlib.ExitStack() as stack:
        for sink in sinks:
            if hasattr(sink, "__enter__"):
                stack.enter_context(sink)
        try:
            return run_stream(runtime, source, on_result, queue_size=queue_size,
                              on_progress=lambda s: bar.update(1),
                              on_skip=lambda src, why: bar.write(f"skipped {src}: {why}", file=sys.stderr))
        finally:
            bar.close()
