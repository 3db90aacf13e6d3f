"""Benchmark subjects: a :class:`~xnet_edge.runtime.Runtime` driven one call at a time.

Two modes:

* **model-only** — ``runtime.infer(batch)`` on inputs preprocessed beforehand:
  host→device, the network, device→host (the span trtexec calls "Latency");
* **end-to-end** — ``runtime.predict`` / ``predict_batch`` on camera-size frames:
  preprocessing, the network and postprocessing back to the frame size.

Per-stage times come from the Runtime's timing hooks; peak host memory is read
around every slice (see :mod:`.memory`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import UsageError, XnetEdgeError
from ..runtime.timing import StageTimes
from .memory import PeakRss, cuda_used_mb, current_rss_mb, torch_cuda_peak_mb
from .method import Measurement, Subject
from .stats import latency_stats

MODES = ("model-only", "end-to-end")
#: stages whose times add up to a call (enqueue overlaps compute on the GPU, so it is left out)
SERIAL_STAGES = ("preprocess", "h2d", "compute", "d2h", "postprocess")


def rotation(items: Sequence[Any], batch: int) -> list[list[Any]]:
    """Group ``items`` into ``len(items)`` batches of ``batch``, wrapping around.

    Batch ``j`` holds items ``j*batch, j*batch+1, ...`` modulo the count, so every
    item is used equally often and consecutive calls never see the same inputs
    (unless there is only one item).
    """
    n = len(items)
    if n == 0:
        raise XnetEdgeError("no benchmark inputs")
    return [[items[(j * batch + m) % n] for m in range(batch)] for j in range(n)]


class RuntimeSubject(Subject):
    """One open Runtime under measurement.

    Args:
        runtime: an open :class:`~xnet_edge.runtime.Runtime` (closed by :meth:`close`).
        label: the name shown in reports.
        frames: HxWx3 uint8 frames to rotate over.
        batch: images per call.
        end_to_end: time ``predict`` (pre + network + post) instead of ``infer``.
        peak: the peak-RSS tracker shared by all subjects.
        load: memory figures measured while the runtime was opened.
    """

    def __init__(self, runtime, label: str, frames: Sequence[np.ndarray], batch: int = 1,
                 end_to_end: bool = False, peak: Optional[PeakRss] = None, load: Optional[dict] = None):
        self.runtime = runtime
        self.label = label
        self.batch = int(batch)
        self.end_to_end = bool(end_to_end)
        self.peak = peak or PeakRss()
        self.load = dict(load or {})
        self.peak_rss_mb: Optional[float] = None
        self.run_extra_rss_mb: Optional[float] = None
        self._slice_rss: Optional[float] = None
        self.gpu_peak_mb: Optional[float] = None
        #: the shared ``--input-size`` this model was rounded from (None: its own size)
        self.requested_size: Optional[tuple[int, int]] = None
        groups = rotation(list(frames), self.batch)
        if self.end_to_end:
            self._calls = groups
        else:  # preprocess once, outside the measurement (and before our hook is attached)
            tensors = {id(f): runtime.preprocess(f)[0] for f in frames}
            self._calls = [np.concatenate([tensors[id(f)] for f in group]) for group in groups]
        self._next = 0
        self.times = StageTimes()
        runtime.add_timing_hook(self.times)

    @property
    def mode(self) -> str:
        return MODES[1] if self.end_to_end else MODES[0]

    def step(self) -> None:
        call = self._calls[self._next]
        self._next = (self._next + 1) % len(self._calls)
        if not self.end_to_end:
            self.runtime.infer(call)
        elif self.batch == 1:
            self.runtime.predict(call[0])
        else:
            self.runtime.predict_batch(call)

    def settle(self) -> None:
        self.runtime.remove_timing_hook(self.times)  # a discarded call leaves no stage times
        try:
            self.step()
        finally:
            self.runtime.add_timing_hook(self.times)

    def after_warmup(self) -> None:
        self.times.reset()
        torch_cuda_peak_mb(reset=True)

    def begin_slice(self) -> None:
        self.peak.reset()
        self._slice_rss = current_rss_mb()

    def end_slice(self) -> None:
        rss = self.peak.peak_mb()
        if rss is not None:
            self.peak_rss_mb = _max(self.peak_rss_mb, rss)
            if self._slice_rss is not None and self.peak.scope == "window":
                self.run_extra_rss_mb = _max(self.run_extra_rss_mb, max(0.0, rss - self._slice_rss))
        if getattr(self.runtime, "backend_name", None) == "torch":
            gpu = torch_cuda_peak_mb()
            if gpu is not None:
                self.gpu_peak_mb = _max(self.gpu_peak_mb, gpu)

    # ------------------------------------------------------------------ reporting

    def stage_summary(self, calls: int) -> dict[str, dict]:
        """Per stage: statistics over its samples (ms) and its time per call (``per_call``)."""
        out = {}
        for stage in self.times.stages():
            samples_ms = self.times.samples(stage) * 1e3
            entry = latency_stats(samples_ms)
            entry["count"] = int(samples_ms.size)
            entry["per_call"] = float(samples_ms.sum() / max(calls, 1))
            out[stage] = entry
        return out

    def memory_summary(self) -> dict:
        """Memory in MiB: the process's peak RSS while this artifact ran (everything loaded counts),
        the RSS its loading added, the most its calls added on top of the RSS at the start of a slice
        (activations, workspaces), and GPU memory where known."""
        gpu, source = self.gpu_peak_mb, "torch.cuda.max_memory_allocated" if self.gpu_peak_mb is not None else None
        if gpu is None and self.load.get("gpu_mb") is not None:
            gpu, source = self.load["gpu_mb"], "cudaMemGetInfo after load"
        return {"peak_rss_mb": self.peak_rss_mb, "peak_rss_scope": "artifact" if self.peak.scope == "window"
                else "process", "load_rss_mb": self.load.get("rss_mb"), "run_extra_rss_mb": self.run_extra_rss_mb,
                "gpu_mb": gpu, "gpu_source": source}

    def describe(self) -> dict:
        """What ran: backend settings, artifact kind, precision, input size."""
        info = self.runtime.describe()
        info.pop("preprocessing", None)
        return info

    def size_record(self) -> dict:
        """``{"input_size", "input_size_requested", "size_multiple"}``: the size run, the shared
        ``--input-size`` it was rounded from (None without one) and the model's size multiple."""
        return {"input_size": list(self.runtime.input_size),
                "input_size_requested": list(self.requested_size) if self.requested_size else None,
                "size_multiple": self.runtime.preprocessing.multiple}

    def size_note(self) -> Optional[str]:
        """A note when the shared ``--input-size`` was rounded for this model, else None."""
        used = tuple(self.runtime.input_size)
        if self.requested_size is None or used == self.requested_size:
            return None
        (rh, rw), (h, w) = self.requested_size, used
        return (f"--input-size {rh}x{rw} rounded to {h}x{w}, the nearest multiple of "
                f"{self.runtime.preprocessing.multiple} (this model's size multiple)")

    def close(self) -> None:
        self.runtime.close()


def stage_split(subject: RuntimeSubject, measurement: Measurement) -> dict[str, dict]:
    """:meth:`RuntimeSubject.stage_summary` plus ``other``: call time no stage accounts for.

    ``other`` is the mean call latency minus the per-call times of the serial stages
    (Python overhead, batching, copies between stages).
    """
    stages = subject.stage_summary(measurement.count)
    mean_ms = float(np.mean(measurement.samples_s)) * 1e3
    accounted = sum(stages[s]["per_call"] for s in SERIAL_STAGES if s in stages)
    stages["other"] = {"per_call": mean_ms - accounted}
    return stages


def set_torch_threads(threads: Optional[int]) -> None:
    """Apply a thread count to PyTorch's intra-op pool (torch is imported only if already loaded)."""
    torch = sys.modules.get("torch")
    if threads and torch is not None:
        torch.set_num_threads(int(threads))


def open_subject(path: str | Path, label: str, frames: Sequence[np.ndarray], *, batch: int = 1,
                 end_to_end: bool = False, peak: Optional[PeakRss] = None, threads: Optional[int] = None,
                 cuda_graph: bool = False, input_size: Optional[Sequence[int]] = None) -> RuntimeSubject:
    """Open ``path`` with a Runtime and wrap it for benchmarking, measuring what loading costs.

    Args:
        path: an engine folder, ``.onnx``, ``.plan`` or checkpoint (anything ``Runtime`` opens).
        label: name for reports.
        frames: benchmark frames.
        batch, end_to_end: see :class:`RuntimeSubject`.
        peak: shared peak-RSS tracker.
        threads: ONNX Runtime intra-op threads / PyTorch threads (None: defaults).
        cuda_graph: TensorRT: capture and replay a CUDA graph.
        input_size: a network (H, W) shared by every artifact of a run, rounded to this model's
            size multiple (:func:`shared_input_size`); None: the model's own size.

    Raises:
        UsageError / XnetEdgeError: from opening the Runtime, or a fixed-size model whose size
            is not ``input_size`` rounded to its multiple.
    """
    from ..runtime import Runtime, RuntimeOptions, resolve_artifact

    kind = resolve_artifact(path).kind
    onnx_threads = int(threads) if kind == "onnx" and threads is not None else None  # torch: set_torch_threads
    options = RuntimeOptions(threads=onnx_threads, cuda_graph=kind == "tensorrt-plan" and bool(cuda_graph))
    rss_before = current_rss_mb()
    gpu_before = cuda_used_mb() if kind == "tensorrt-plan" else None
    runtime = Runtime(path, options)  # at its own size; the rounding below needs the model's contract
    try:
        load = {"rss_mb": _difference(current_rss_mb(), rss_before)}
        if kind == "tensorrt-plan":
            load["gpu_mb"] = _difference(cuda_used_mb(), gpu_before)
        size = shared_input_size(runtime, input_size, label)
        if size != runtime.input_size:
            runtime.set_input_size(size)
        if runtime.backend_name == "torch":
            set_torch_threads(threads)
        subject = RuntimeSubject(runtime, label, frames, batch=batch, end_to_end=end_to_end, peak=peak, load=load)
        subject.requested_size = tuple(int(v) for v in input_size) if input_size else None
        return subject
    except BaseException:
        runtime.close()
        raise


def shared_input_size(runtime, requested: Optional[Sequence[int]], label: str) -> tuple[int, int]:
    """The network size one ``--input-size`` gives this model: rounded to its size multiple.

    ×Net takes multiples of 32, a ViT with 14-pixel patches multiples of 14; one shared size
    therefore runs each model at the nearest size it takes (``256x320`` → ``252x322`` for 14).

    Args:
        runtime: the model, opened at its own size.
        requested: the shared (H, W), or None for the model's own size.
        label: the artifact's name, for messages.

    Returns:
        (H, W) to run the model at.

    Raises:
        UsageError: the model's input is fixed at another size than the rounded one.
    """
    if requested is None:
        return runtime.input_size
    size = runtime.preprocessing.round_input_size(requested)
    fixed = runtime.backend.network_size() if runtime.backend is not None else None
    if fixed is not None and tuple(fixed) != size:
        multiple = runtime.preprocessing.multiple
        rounded = f" rounds to {size[0]}x{size[1]} (size multiple {multiple})" if multiple else ""
        raise UsageError(f"{label}: its input is fixed at {fixed[0]}x{fixed[1]}, but --input-size "
                         f"{requested[0]}x{requested[1]}{rounded}; export or build it for that size, "
                         "or leave out --input-size")
    return size


def _max(current: Optional[float], value: float) -> float:
    return value if current is None else max(current, value)


def _difference(after: Optional[float], before: Optional[float]) -> Optional[float]:
    return after - before if after is not None and before is not None else None


__all__ = ["MODES", "RuntimeSubject", "SERIAL_STAGES", "open_subject", "rotation", "shared_input_size",
           "stage_split"]
