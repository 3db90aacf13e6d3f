"""Warm-up, interleaving and the iteration/duration stopping rule, with a fake clock and fake subjects."""

import math

import pytest

from xnet_edge.bench.method import BenchSettings, Subject, measure, round_order
from xnet_edge.errors import UsageError


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSubject(Subject):
    """Each call takes ``latency_s`` on the fake clock; every event goes to a shared log."""

    def __init__(self, label, latency_s, clock, log):
        self.label, self.latency_s, self.clock, self.log = label, latency_s, clock, log

    def step(self):
        self.log.append(("step", self.label))
        self.clock.now += self.latency_s

    def after_warmup(self):
        self.log.append(("warm", self.label))

    def begin_slice(self):
        self.log.append(("begin", self.label))

    def end_slice(self):
        self.log.append(("end", self.label))


def run(settings, latencies):
    clock, log = FakeClock(), []
    subjects = [FakeSubject(chr(65 + i), lat, clock, log) for i, lat in enumerate(latencies)]
    return measure(subjects, settings, clock=clock), log


def test_warmup_runs_by_time_and_is_not_measured():
    settings = BenchSettings(warmup_ms=100, duration_s=0.0, iterations=1, rounds=1)
    (rec,), log = run(settings, [0.03])
    assert rec.warmup_calls == 4          # 30, 60, 90 ms < 100 ms; the 4th call reaches 120 ms
    assert rec.warmup_s == pytest.approx(0.12)
    assert rec.count == 1                 # only the measured call is kept
    assert log.index(("warm", "A")) == 4  # warm-up steps come first


def test_iteration_minimum_dominates_when_calls_are_fast():
    settings = BenchSettings(warmup_ms=0, duration_s=0.1, iterations=200, rounds=10)
    (rec,), _ = run(settings, [0.001])
    assert rec.count == 200               # 20 calls per round x 10 rounds; 0.2 s > 0.1 s already
    assert rec.measured_s >= 0.1


def test_duration_minimum_dominates_when_calls_are_slow():
    settings = BenchSettings(warmup_ms=0, duration_s=2.0, iterations=5, rounds=4)
    (rec,), _ = run(settings, [0.3])
    # each round needs >= 2 calls (ceil(5/4)) and >= 0.5 s -> 2 calls of 0.3 s = 0.6 s per round;
    # after 3 rounds 1.8 s < 2 s, after 4 rounds 2.4 s with 8 calls
    assert rec.count == 8
    assert rec.measured_s == pytest.approx(2.4)
    assert max(rec.rounds) == 3


def test_rounds_interleave_and_rotate():
    settings = BenchSettings(warmup_ms=0, duration_s=0.0, iterations=3, rounds=3)
    records, log = run(settings, [0.01, 0.02, 0.04])
    slices = [label for kind, label in log if kind == "begin"]
    assert slices == ["A", "B", "C", "B", "C", "A", "C", "A", "B"]
    assert all(r.count == 3 for r in records)
    # begin/end pairs enclose the steps of one subject only
    current = None
    for kind, label in log:
        if kind == "begin":
            current = label
        elif kind == "end":
            current = None
        elif kind == "step" and current is not None:
            assert label == current


def test_every_subject_meets_both_minimums_and_runs_in_every_round():
    settings = BenchSettings(warmup_ms=5, duration_s=1.0, iterations=30, rounds=5)
    records, _ = run(settings, [0.002, 0.05, 0.011])
    for rec in records:
        assert rec.count >= 30 and rec.measured_s >= 1.0
        assert sorted(set(rec.rounds)) == list(range(max(rec.rounds) + 1))
    assert len({max(r.rounds) for r in records}) == 1  # same number of rounds for all
    # every slice holds >= ceil(30/5) = 6 calls and >= 1.0/5 = 0.2 s: the fast subject runs ~100 calls
    # per round (time-bound), the slow one 6 (count-bound)
    for rec in records:
        for r in set(rec.rounds):
            times = [t for t, k in zip(rec.samples_s, rec.rounds) if k == r]
            assert len(times) >= 6 and sum(times) >= 0.2 - 1e-9
    assert records[0].count > 10 * records[1].count


def test_round_order_and_settings_validation():
    assert [round_order(3, r) for r in range(4)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]
    assert BenchSettings(iterations=50, rounds=10).slice_iterations == 5
    assert BenchSettings(iterations=7, rounds=10).slice_iterations == 1
    assert math.isclose(BenchSettings(duration_s=3, rounds=10).slice_s, 0.3)
    for bad in (dict(iterations=0), dict(duration_s=-1), dict(warmup_ms=-5), dict(batch=0), dict(rounds=0)):
        with pytest.raises(UsageError):
            BenchSettings(**bad).validate()
    with pytest.raises(UsageError):
        measure([], BenchSettings())


class SwitchSensitiveSubject(FakeSubject):
    """A call takes twice as long when another subject made the previous call (cold caches)."""

    def step(self):
        cold = bool(self.log) and self.log[-1][0] in ("step", "settle") and self.log[-1][1] != self.label
        self.log.append(("step", self.label))
        self.clock.now += self.latency_s * (2 if cold else 1)


def test_switch_calls_are_discarded_not_measured():
    settings = BenchSettings(warmup_ms=0, duration_s=0.0, iterations=12, rounds=4)
    clock, log = FakeClock(), []
    subjects = [SwitchSensitiveSubject(label, 0.01, clock, log) for label in "AB"]
    records = measure(subjects, settings, clock=clock)
    for record in records:
        assert record.count == 12
        assert record.samples_s == pytest.approx([0.01] * 12)   # no slow switch call among the samples
    # one per block that follows the other subject's: order (warm-up A B) A B | B A | A B | B A
    assert [r.discarded_calls for r in records] == [3, 2]
    # blocks: each subject runs its calls back to back, the switch call first
    steps = [label for kind, label in log if kind == "step"]
    assert steps[2:10] == ["A"] * 4 + ["B"] * 4  # after one warm-up call each: A's block, then B's


def test_a_single_subject_has_no_switch_calls():
    settings = BenchSettings(warmup_ms=0, duration_s=0.0, iterations=6, rounds=3)
    (rec,), _ = run(settings, [0.01])
    assert rec.count == 6 and rec.discarded_calls == 0


def test_switch_calls_setting_validated():
    with pytest.raises(UsageError, match="--switch-calls"):
        BenchSettings(switch_calls=-1).validate()
