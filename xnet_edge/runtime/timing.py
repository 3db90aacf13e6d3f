"""Per-stage timing hooks.

A Runtime reports how long each stage of every call took to the hooks it was
given. A hook is any callable ``hook(stage: str, seconds: float)``;
:class:`StageTimes` is a ready-made one that collects samples and summarizes
them (the benchmark command uses it).

Stages, in the order a call goes through them:

===============  ==============================================================
``preprocess``   image -> normalized, letterboxed network input (host)
``h2d``          host -> device copy of the input (GPU backends; CUDA events)
``enqueue``      host time to launch the network (``execute_async_v3`` / graph launch)
``compute``      the network itself (GPU time on TensorRT, wall time on CPU backends)
``d2h``          device -> host copy of the output
``postprocess``  crop the padding, resize to the image size, mask invalid values
===============  ==============================================================
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

STAGES = ("preprocess", "h2d", "enqueue", "compute", "d2h", "postprocess")

TimingHook = Callable[[str, float], None]


class HookList:
    """The hooks of one Runtime; ``emit`` calls each of them."""

    def __init__(self, hooks: Sequence[TimingHook] = ()):
        self._hooks: list[TimingHook] = list(hooks)

    def add(self, hook: TimingHook) -> None:
        self._hooks.append(hook)

    def remove(self, hook: TimingHook) -> None:
        self._hooks.remove(hook)

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def emit(self, stage: str, seconds: float) -> None:
        """Report one measurement to every hook."""
        for hook in self._hooks:
            hook(stage, float(seconds))

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Time the ``with`` body with ``perf_counter`` and emit it as ``stage``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            if self._hooks:
                self.emit(stage, time.perf_counter() - start)


class StageTimes:
    """A timing hook that keeps every sample, per stage.

    Example::

        times = StageTimes()
        with Runtime("engine/", timing=times) as rt:
            for image in images:
                rt.predict(image)
        print(times.summary()["compute"]["mean_ms"])
    """

    def __init__(self):
        self._samples: dict[str, list[float]] = {}
        self._lock = threading.Lock()  # preprocessing may report from a reader thread

    def __call__(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._samples.setdefault(stage, []).append(float(seconds))

    def reset(self) -> None:
        """Drop all samples (e.g. after warm-up)."""
        with self._lock:
            self._samples.clear()

    def samples(self, stage: str) -> np.ndarray:
        """All samples of ``stage`` in seconds (empty if never reported)."""
        with self._lock:
            return np.asarray(self._samples.get(stage, ()), dtype=np.float64)

    def stages(self) -> list[str]:
        """Stages with samples, in :data:`STAGES` order, then any others."""
        with self._lock:
            seen = list(self._samples)
        return [s for s in STAGES if s in seen] + [s for s in seen if s not in STAGES]

    def summary(self, percentiles: Sequence[float] = (50, 90, 95, 99)) -> dict[str, dict[str, float]]:
        """Per stage: count, min/mean/max and the given percentiles, in milliseconds."""
        return {stage: summarize_ms(self.samples(stage), percentiles) for stage in self.stages()}


def summarize_ms(seconds: np.ndarray, percentiles: Sequence[float] = (50, 90, 95, 99)) -> dict[str, float]:
    """count, min_ms, mean_ms, max_ms and ``p<q>_ms`` of samples given in seconds.

    Args:
        seconds: 1-D array of durations.
        percentiles: which percentiles to include (linear interpolation, as numpy).

    Returns:
        A dict of floats; only ``count`` (0) when there are no samples.
    """
    seconds = np.asarray(seconds, dtype=np.float64)
    if seconds.size == 0:
        return {"count": 0}
    ms = seconds * 1e3
    out = {"count": int(ms.size), "min_ms": float(ms.min()), "mean_ms": float(ms.mean()), "max_ms": float(ms.max())}
    for q in percentiles:
        out[f"p{q:g}_ms"] = float(np.percentile(ms, q))
    return out


def maybe_hooks(timing: Optional[object]) -> HookList:
    """Normalize the Runtime's ``timing=`` argument (None, one hook or a list) into a HookList."""
    if timing is None:
        return HookList()
    if callable(timing):
        return HookList([timing])
    return HookList(list(timing))
