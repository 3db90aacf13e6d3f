"""Range observers: from the values a tensor took during calibration to one clipping range ``amax``.

Activations are quantized per tensor and symmetrically: ``scale = amax / 127``,
zero point 0. Every method works on the same statistics, gathered in two passes
over the calibration images (:class:`StatsCollector`): the signed min/max, then a
2048-bin histogram of ``|x|`` over ``[0, absmax]``.

Methods:

* ``max`` — ``amax = max |x|``: no clipping, coarsest steps.
* ``percentile`` — the ``p``-th percentile of ``|x|`` (default 99.99).
* ``entropy`` — TensorRT's calibration (Migacz, "8-bit Inference with TensorRT",
  GTC 2017): for every candidate of ``i`` kept bins (128 ≤ i < 2048), fold the
  outliers into the last kept bin (P), merge the kept bins into 128 levels and
  expand them back over the non-empty bins (Q), and take the ``i`` that minimizes
  KL(P‖Q); ``amax = (i + 0.5) · bin width``. Computed exactly for all candidates
  at once from prefix sums; a candidate whose Q is zero where P is not has
  infinite divergence.
* ``mse`` — the bin edge ``amax`` that minimizes the mean squared quantization
  error of the histogram (values at bin centres).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import UsageError

NUM_BINS = 2048
QUANT_BINS = 128  # TensorRT's entropy calibration merges into 128 levels
INT8_MAX = 127
METHODS = ("max", "percentile", "entropy", "mse")
DEFAULT_PERCENTILE = 99.99


@dataclass
class TensorStats:
    """What calibration saw of one tensor.

    Attributes:
        name: tensor name.
        min, max: signed extremes.
        hist: counts of ``|x|`` in ``NUM_BINS`` equal bins over ``[0, absmax]`` (None before pass 2).
        channel_sum, channel_count: running per-channel (axis 1) sum and element count of
            4-D tensors, for the bias correction.
    """

    name: str
    min: float
    max: float
    hist: Optional[np.ndarray] = None
    channel_sum: Optional[np.ndarray] = None
    channel_count: int = 0

    @property
    def channel_mean(self) -> Optional[np.ndarray]:
        """Mean of each channel over all calibration images and positions (None for non-4-D tensors)."""
        if self.channel_sum is None or self.channel_count == 0:
            return None
        return self.channel_sum / self.channel_count

    @property
    def absmax(self) -> float:
        return max(abs(self.min), abs(self.max))

    @property
    def nonnegative(self) -> bool:
        """True when no negative value was seen (e.g. after ReLU / ReLU6)."""
        return self.min >= 0.0

    @property
    def bin_width(self) -> float:
        return self.absmax / len(self.hist) if self.hist is not None else 0.0

    @property
    def count(self) -> int:
        return int(self.hist.sum()) if self.hist is not None else 0


class StatsCollector:
    """Accumulates :class:`TensorStats` over calibration batches in two passes.

    Pass 1 (:meth:`observe_range`) finds each tensor's range; pass 2
    (:meth:`observe_hist`) fills the ``|x|`` histograms over ``[0, absmax]``, so
    every bin has the same width for every image (exact, order-independent).
    """

    def __init__(self, bins: int = NUM_BINS):
        self.bins = bins
        self.stats: dict[str, TensorStats] = {}

    def observe_range(self, name: str, array: np.ndarray) -> None:
        """Pass 1: update the signed min/max (and per-channel sums) of ``name``."""
        lo, hi = float(np.min(array)), float(np.max(array))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise UsageError(f"tensor {name!r} holds NaN or Inf during calibration; check the model and inputs")
        st = self.stats.get(name)
        if st is None:
            st = self.stats[name] = TensorStats(name, lo, hi)
        else:
            st.min, st.max = min(st.min, lo), max(st.max, hi)
        if array.ndim == 4:
            sums = array.sum(axis=(0, 2, 3), dtype=np.float64)
            st.channel_sum = sums if st.channel_sum is None else st.channel_sum + sums
            st.channel_count += array.shape[0] * array.shape[2] * array.shape[3]

    def observe_hist(self, name: str, array: np.ndarray) -> None:
        """Pass 2: add ``|array|`` to the histogram of ``name`` (its range must be known)."""
        st = self.stats[name]
        if st.hist is None:
            st.hist = np.zeros(self.bins, dtype=np.int64)
        if st.absmax == 0.0:
            st.hist[0] += array.size
            return
        idx = (np.abs(array, dtype=np.float32).ravel() * np.float32(self.bins / st.absmax)).astype(np.int32)
        np.minimum(idx, self.bins - 1, out=idx)
        st.hist += np.bincount(idx, minlength=self.bins)


def amax_max(stats: TensorStats) -> float:
    """``max |x|``."""
    return stats.absmax


def amax_percentile(stats: TensorStats, percentile: float = DEFAULT_PERCENTILE) -> float:
    """Upper edge of the bin where the cumulative share of ``|x|`` reaches ``percentile``."""
    if not 0.0 < percentile <= 100.0:
        raise UsageError(f"percentile must be in (0, 100], got {percentile}")
    total = stats.count
    if total == 0 or stats.absmax == 0.0:
        return stats.absmax
    cdf = np.cumsum(stats.hist) / total
    j = int(np.searchsorted(cdf, percentile / 100.0 - 1e-12))
    return min(stats.absmax, (j + 1) * stats.bin_width)


def kl_divergences(hist: np.ndarray, quant_bins: int = QUANT_BINS, start: int = QUANT_BINS) -> np.ndarray:
    """KL(P‖Q) of TensorRT's entropy calibration for every candidate ``i`` in ``[start, len(hist))``.

    Args:
        hist: histogram counts of ``|x|``.
        quant_bins: levels the kept bins are merged into.
        start: first candidate (at least ``quant_bins``).

    Returns:
        float64 array of divergences, one per candidate ``i = start, start+1, ...``;
        ``inf`` where Q is zero on a bin where P is not.
    """
    h = np.asarray(hist, dtype=np.float64)
    nbins, total = len(h), h.sum()
    cand = np.arange(max(start, quant_bins), nbins)
    if total == 0 or len(cand) == 0:
        return np.zeros(len(cand))
    zero = np.zeros(1)
    csum = np.concatenate([zero, np.cumsum(h)])                                      # Σ_{j<t} h_j
    cnz = np.concatenate([zero, np.cumsum(h > 0)])                                   # #{j<t : h_j > 0}
    chl = np.concatenate([zero, np.cumsum(np.where(h > 0, h * np.log(np.maximum(h, 1)), 0.0))])  # Σ h log h
    outliers = total - csum[cand]                                                    # folded into bin i-1
    last = h[cand - 1] + outliers                                                    # P_{i-1}
    # Σ_j P_j log P_j, then Σ_j p_j log p_j with p = P / total
    plogp = chl[cand - 1] + np.where(last > 0, last * np.log(np.maximum(last, 1e-300)), 0.0)
    entropy_term = plogp / total - np.log(total)
    # chunk boundaries: chunk k = [k*m, (k+1)*m), the last chunk runs to i
    merged = cand // quant_bins
    k = np.arange(quant_bins)
    lo = k[None, :] * merged[:, None]
    hi = np.minimum((k[None, :] + 1) * merged[:, None], cand[:, None])
    hi[:, -1] = cand
    chunk_sum = csum[hi] - csum[lo]                                                  # S_k (no outliers)
    chunk_nz = cnz[hi] - cnz[lo]
    # bin i-1 becomes non-empty when it receives outliers
    chunk_nz[:, -1] += ((h[cand - 1] == 0) & (outliers > 0)).astype(np.float64)
    p_chunk = chunk_sum.copy()
    p_chunk[:, -1] += outliers                                                       # Σ_{j∈k} P_j
    kept_total = (total - outliers)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log(chunk_sum / (np.maximum(chunk_nz, 1) * kept_total))
    impossible = ((p_chunk > 0) & (chunk_sum == 0)).any(axis=1)
    cross = np.where(p_chunk > 0, p_chunk * np.where(chunk_sum > 0, log_q, 0.0), 0.0).sum(axis=1) / total
    kl = entropy_term - cross
    kl[impossible] = np.inf
    return np.maximum(kl, 0.0)


def amax_entropy(stats: TensorStats, quant_bins: int = QUANT_BINS, start: int = QUANT_BINS) -> float:
    """TensorRT's entropy (KL) threshold: ``(argmin_i KL_i + 0.5) · bin width``."""
    if stats.count == 0 or stats.absmax == 0.0:
        return stats.absmax
    kl = kl_divergences(stats.hist, quant_bins, start)
    if len(kl) == 0 or not np.isfinite(kl).any():
        return stats.absmax
    best = int(np.argmin(kl)) + max(start, quant_bins)
    return min(stats.absmax, (best + 0.5) * stats.bin_width)


def quantization_mse(hist: np.ndarray, bin_width: float, candidates: np.ndarray, levels: int = INT8_MAX,
                     chunk: int = 128) -> np.ndarray:
    """Mean squared error of symmetric quantization with ``amax = candidates[c] · bin_width``.

    Each bin's values are represented by its centre. Returns one MSE per candidate.
    """
    h = np.asarray(hist, dtype=np.float64)
    nz = np.nonzero(h)[0]
    centres, counts = (nz + 0.5) * bin_width, h[nz]
    out = np.empty(len(candidates))
    for s in range(0, len(candidates), chunk):
        scale = (candidates[s:s + chunk, None] * bin_width) / levels
        q = np.minimum(np.round(centres[None, :] / scale), levels) * scale
        out[s:s + chunk] = ((centres[None, :] - q) ** 2 * counts[None, :]).sum(axis=1)
    return out / max(h.sum(), 1.0)


def amax_mse(stats: TensorStats, levels: int = INT8_MAX, start: int = QUANT_BINS) -> float:
    """The bin edge ``amax`` (at least ``start`` bins) with the least quantization MSE."""
    if stats.count == 0 or stats.absmax == 0.0:
        return stats.absmax
    candidates = np.arange(start, len(stats.hist) + 1)
    err = quantization_mse(stats.hist, stats.bin_width, candidates, levels)
    return float(candidates[int(np.argmin(err))] * stats.bin_width)


def compute_amax(stats: TensorStats, method: str, percentile: float = DEFAULT_PERCENTILE) -> float:
    """``amax`` of one tensor by the named method.

    Raises:
        UsageError: unknown method.
    """
    if method == "max":
        return amax_max(stats)
    if method == "percentile":
        return amax_percentile(stats, percentile)
    if method == "entropy":
        return amax_entropy(stats)
    if method == "mse":
        return amax_mse(stats)
    raise UsageError(f"unknown calibration method {method!r}; choose one of: {', '.join(METHODS)}")
