"""Range observers against straightforward reference implementations."""

import numpy as np
import pytest

from xnet_edge.calibration.observers import (StatsCollector, TensorStats, amax_entropy, amax_max, amax_mse,
                                             amax_percentile, compute_amax, kl_divergences, quantization_mse)
from xnet_edge.errors import UsageError


def naive_kl(hist, quant_bins=128):
    """TensorRT's entropy calibration written out literally, one candidate at a time."""
    hist = np.asarray(hist, dtype=np.float64)
    out = []
    for i in range(quant_bins, len(hist)):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()
        nonzero = p > 0
        merged = i // quant_bins
        q = np.zeros(i)
        for k in range(quant_bins):
            lo, hi = k * merged, (i if k == quant_bins - 1 else (k + 1) * merged)
            count = nonzero[lo:hi].sum()
            if count:
                q[lo:hi] = np.where(nonzero[lo:hi], hist[lo:hi].sum() / count, 0.0)
        p, q = p / p.sum(), q / q.sum()
        if np.any(q[p > 0] == 0):
            out.append(np.inf)
            continue
        m = p > 0
        out.append(float(np.sum(p[m] * np.log(p[m] / q[m]))))
    return np.array(out)


def _hist(values, bins):
    values = np.abs(values)
    return np.histogram(values, bins=bins, range=(0, values.max()))[0]


@pytest.mark.parametrize("case", ["heavy_tail", "sparse", "integers"])
def test_kl_matches_literal_algorithm(case):
    rng = np.random.default_rng(1)
    values = {"heavy_tail": rng.standard_t(3, 20000),
              "sparse": rng.standard_normal(20000) * (rng.random(20000) < 0.2),
              "integers": rng.integers(0, 6, 3000).astype(float)}[case]
    hist = _hist(values, 384)
    fast, slow = kl_divergences(hist), naive_kl(hist)
    assert np.array_equal(np.isfinite(fast), np.isfinite(slow))
    finite = np.isfinite(slow)
    np.testing.assert_allclose(fast[finite], slow[finite], rtol=1e-9, atol=1e-12)
    assert int(np.argmin(fast)) == int(np.argmin(slow))


def test_entropy_clips_outliers_but_not_a_uniform_range():
    rng = np.random.default_rng(0)
    gauss = np.concatenate([rng.standard_normal(200000), [40.0]])
    st = TensorStats("g", float(gauss.min()), float(gauss.max()), _hist(gauss, 2048))
    amax = amax_entropy(st)
    assert 2.5 < amax < 10.0  # clipped far below the single outlier at 40
    uniform = rng.uniform(-1, 1, 200000)
    su = TensorStats("u", -1.0, 1.0, _hist(uniform, 2048))
    assert amax_entropy(su) > 0.9  # nothing to gain from clipping a uniform distribution


def test_percentile_and_max_by_hand():
    hist = np.zeros(2048, np.int64)
    hist[:1000] = 1  # 1000 values spread over bins 0..999
    hist[2047] = 1   # one outlier at the top
    st = TensorStats("t", -8.0, 4.0, hist)  # absmax 8 → bin width 8/2048
    width = 8.0 / 2048
    assert amax_max(st) == 8.0
    assert amax_percentile(st, 50.0) == pytest.approx(501 * width)  # 501 of 1001 values reached in bin 500
    assert amax_percentile(st, 100.0) == pytest.approx(8.0)
    with pytest.raises(UsageError):
        amax_percentile(st, 0.0)


def test_mse_picks_the_brute_force_minimum():
    rng = np.random.default_rng(2)
    values = np.abs(rng.laplace(0, 1, 50000))
    hist = _hist(values, 512)
    width = values.max() / 512
    cands = np.arange(128, 513)
    centres = (np.arange(512) + 0.5) * width
    errors = []
    for c in cands:  # quantize every bin centre with scale c*width/127, weigh by counts
        scale = c * width / 127
        q = np.minimum(np.round(centres / scale), 127) * scale
        errors.append(np.sum(hist * (centres - q) ** 2) / hist.sum())
    np.testing.assert_allclose(quantization_mse(hist, width, cands), errors, rtol=1e-10)
    st = TensorStats("l", 0.0, float(values.max()), hist)
    assert amax_mse(st) == pytest.approx(cands[int(np.argmin(errors))] * width)


def test_collector_histogram_is_exact_over_batches():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((2, 4, 8, 8)).astype(np.float32) * s for s in (1.0, 3.0, 0.5)]
    col = StatsCollector(bins=64)
    for b in batches:
        col.observe_range("t", b)
    for b in batches:
        col.observe_hist("t", b)
    st = col.stats["t"]
    allv = np.concatenate([b.ravel() for b in batches])
    assert (st.min, st.max) == (float(allv.min()), float(allv.max()))
    ref = np.histogram(np.abs(allv), bins=64, range=(0, np.abs(allv).max()))[0]
    assert np.abs(st.hist - ref).sum() <= 4  # float32 bin-edge rounding may move a boundary value
    assert st.hist.sum() == allv.size


def test_nan_and_unknown_method_are_errors():
    col = StatsCollector()
    with pytest.raises(UsageError, match="NaN"):
        col.observe_range("bad", np.array([1.0, np.nan], np.float32))
    with pytest.raises(UsageError, match="unknown calibration method"):
        compute_amax(TensorStats("t", 0.0, 1.0, np.ones(2048, np.int64)), "median")


def test_all_zero_tensor_has_zero_range():
    col = StatsCollector()
    zeros = np.zeros((1, 2, 4, 4), np.float32)
    col.observe_range("z", zeros)
    col.observe_hist("z", zeros)
    for method in ("max", "percentile", "entropy", "mse"):
        assert compute_amax(col.stats["z"], method) == 0.0
