"""Statistics on inputs whose answers are known by hand."""

import math

import numpy as np
import pytest

from xnet_edge.bench.stats import LATENCY_KEYS, coefficient_of_variation, latency_stats, percentile, speedups, throughput


def test_percentiles_of_1_to_100():
    # rank (n-1)*q/100 over 1..100: p90 -> rank 89.1 -> 90.1; p95 -> 95.05; p99 -> 99.01; median 50.5
    stats = latency_stats(range(1, 101))
    assert list(stats) == list(LATENCY_KEYS)
    assert stats["min"] == 1 and stats["max"] == 100
    assert stats["median"] == pytest.approx(50.5)
    assert stats["p90"] == pytest.approx(90.1)
    assert stats["p95"] == pytest.approx(95.05)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["mean"] == pytest.approx(50.5)
    # population std of 1..n is sqrt((n^2 - 1) / 12)
    assert stats["std"] == pytest.approx(math.sqrt((100 ** 2 - 1) / 12))


def test_small_sample_interpolates_between_ranks():
    samples = [4.0, 1.0, 3.0, 2.0]  # order must not matter
    assert percentile(samples, 50) == pytest.approx(2.5)
    assert percentile(samples, 90) == pytest.approx(3.7)   # rank 2.7: 3 + 0.7 * (4 - 3)
    assert percentile(samples, 0) == 1.0 and percentile(samples, 100) == 4.0
    stats = latency_stats(samples)
    assert stats["std"] == pytest.approx(math.sqrt(1.25))  # mean 2.5, squared deviations 2.25+0.25+0.25+2.25


def test_single_sample_and_outlier():
    assert latency_stats([7.0]) == {k: (0.0 if k == "std" else 7.0) for k in LATENCY_KEYS}
    stats = latency_stats([1.0] * 99 + [100.0])
    assert stats["median"] == 1.0 and stats["p95"] == 1.0
    assert stats["p99"] == pytest.approx(1.0 + 0.01 * 99)  # rank 98.01: 1 + 0.01 * (100 - 1)
    assert stats["max"] == 100.0 and stats["mean"] == pytest.approx(1.99)


def test_throughput_counts_images():
    thr = throughput([10.0, 10.0, 20.0, 40.0], batch=4)  # 4 calls in 80 ms
    assert thr["inferences_per_s"] == pytest.approx(50.0)
    assert thr["images_per_s"] == pytest.approx(200.0)


def test_ratios_and_variation():
    ref = {"median": 30.0, "mean": 36.0, "std": 0.0}
    assert speedups(ref, {"median": 15.0, "mean": 12.0}) == {"median": 2.0, "mean": 3.0}
    assert coefficient_of_variation({"mean": 10.0, "std": 2.0}) == pytest.approx(0.2)
    assert coefficient_of_variation({"mean": 0.0, "std": 0.0}) is None


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], np.ones((2, 2))])
def test_bad_samples_raise(bad):
    with pytest.raises(ValueError):
        latency_stats(bad)


def test_bad_percentile_and_batch():
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        throughput([1.0], batch=0)
