"""Latency statistics: the numbers a benchmark reports, computed one documented way.

Percentiles use linear interpolation between closest ranks (numpy's default,
Hyndman & Fan type 7): for sorted samples ``x[0..n-1]`` the q-th percentile sits
at rank ``(n - 1) * q / 100``. The standard deviation is the population one
(divide by n). trtexec picks the nearest rank instead; on a few thousand samples
the two differ by less than the gap between neighbouring samples.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

#: The keys of every latency summary, in report order.
LATENCY_KEYS = ("min", "mean", "median", "p90", "p95", "p99", "max", "std")


def _as_samples(samples: Iterable[float]) -> np.ndarray:
    values = np.asarray(list(samples) if not isinstance(samples, np.ndarray) else samples, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of samples, got shape {values.shape}")
    if values.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(values)):
        raise ValueError("samples must be finite")
    return values


def percentile(samples: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``samples`` by linear interpolation.

    Raises:
        ValueError: no samples, non-finite samples, or ``q`` outside 0..100.
    """
    if not 0.0 <= float(q) <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(_as_samples(samples), float(q), method="linear"))


def latency_stats(samples_ms: Iterable[float]) -> dict[str, float]:
    """min, mean, median, p90, p95, p99, max and std of latencies in milliseconds.

    Args:
        samples_ms: one latency per measured iteration.

    Returns:
        A dict with exactly the keys of :data:`LATENCY_KEYS`.

    Raises:
        ValueError: no samples or non-finite samples.
    """
    x = _as_samples(samples_ms)
    p50, p90, p95, p99 = np.percentile(x, [50, 90, 95, 99], method="linear")
    return {"min": float(x.min()), "mean": float(x.mean()), "median": float(p50), "p90": float(p90),
            "p95": float(p95), "p99": float(p99), "max": float(x.max()), "std": float(x.std())}


def throughput(samples_ms: Iterable[float], batch: int) -> dict[str, float]:
    """Inferences and images per second over the measured time.

    Iterations run one after another, so the measured time is the sum of the
    latencies (time spent on other artifacts between interleaved rounds is not
    counted against this one).

    Args:
        samples_ms: one latency per inference call.
        batch: images per call.

    Returns:
        ``{"inferences_per_s", "images_per_s"}``.
    """
    x = _as_samples(samples_ms)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    per_s = x.size / (x.sum() / 1e3) if x.sum() > 0 else float("inf")
    return {"inferences_per_s": float(per_s), "images_per_s": float(per_s * batch)}


def coefficient_of_variation(stats: Mapping[str, float]) -> Optional[float]:
    """std / mean of a :func:`latency_stats` summary (None when the mean is 0)."""
    mean = float(stats["mean"])
    return float(stats["std"]) / mean if mean > 0 else None


def speedups(reference: Mapping[str, float], other: Mapping[str, float],
             keys: Sequence[str] = ("median", "mean")) -> dict[str, Optional[float]]:
    """How many times faster ``other`` is than ``reference``: reference / other, per statistic.

    A value above 1 means ``other`` is faster. None where ``other`` is 0.
    """
    return {k: (float(reference[k]) / float(other[k]) if float(other[k]) > 0 else None) for k in keys}
