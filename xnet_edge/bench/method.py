"""The measurement method (trtexec's), applied to several artifacts at once.

1. **Warm-up by time**: each subject runs for ``warmup_ms`` (at least one call);
   nothing from the warm-up is kept.
2. **Interleaved rounds**: in every round each subject runs one *slice* — at least
   ``ceil(iterations / rounds)`` calls and at least ``duration_s / rounds`` seconds —
   before the next subject gets its turn. The order rotates every round (A B C,
   B C A, C A B, ...), so slow drift of the machine (thermal throttling, a
   background job) hits every subject alike. A slice is a block of calls, not one
   call: the first call after switching artifacts runs with caches (CPU caches, the
   allocator's, the GPU's) holding the other artifact's data and takes up to twice as
   long, so each slice that follows another subject's starts with ``switch_calls``
   untimed calls (default 1) that are discarded.
3. **Stopping rule**: rounds continue until *every* subject has both at least
   ``iterations`` measured calls and at least ``duration_s`` seconds of measured
   time. All subjects run in every round, so they end with comparable sample counts.

The loop only needs objects with a ``step()`` method and a clock, which is how
it is tested with a fake clock and fake subjects.
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..errors import UsageError

Clock = Callable[[], float]


@dataclass(frozen=True)
class BenchSettings:
    """How long and how much to measure.

    Attributes:
        warmup_ms: warm-up time per subject before measuring (trtexec ``--warmUp``).
        duration_s: minimum measured time per subject (trtexec ``--duration``).
        iterations: minimum measured calls per subject (trtexec ``--iterations``).
        batch: images per call.
        rounds: the measurement is split into at least this many interleaved rounds.
        switch_calls: untimed calls at the start of every slice that follows another
            subject's slice (the switch call is slow and would inflate p90/p99).
    """

    warmup_ms: float = 200.0
    duration_s: float = 3.0
    iterations: int = 50
    batch: int = 1
    rounds: int = 10
    switch_calls: int = 1

    def validate(self) -> "BenchSettings":
        """Check the values; returns self.

        Raises:
            UsageError: a negative time, or fewer than one iteration, image or round.
        """
        if not (self.warmup_ms >= 0 and math.isfinite(self.warmup_ms)):
            raise UsageError(f"--warmup-ms must be >= 0, got {self.warmup_ms}")
        if not (self.duration_s >= 0 and math.isfinite(self.duration_s)):
            raise UsageError(f"--duration-s must be >= 0, got {self.duration_s}")
        if self.iterations < 1:
            raise UsageError(f"--iterations must be >= 1, got {self.iterations}")
        if self.batch < 1:
            raise UsageError(f"--batch must be >= 1, got {self.batch}")
        if self.rounds < 1:
            raise UsageError(f"--rounds must be >= 1, got {self.rounds}")
        if self.switch_calls < 0:
            raise UsageError(f"--switch-calls must be >= 0, got {self.switch_calls}")
        return self

    @property
    def slice_iterations(self) -> int:
        """Minimum calls per subject per round."""
        return max(1, math.ceil(self.iterations / self.rounds))

    @property
    def slice_s(self) -> float:
        """Minimum seconds per subject per round."""
        return self.duration_s / self.rounds


class Subject(abc.ABC):
    """Something to benchmark. Subclasses implement :meth:`step` (one timed call).

    The hooks run outside the timed region: :meth:`after_warmup` once, then
    :meth:`begin_slice` / :meth:`end_slice` around every slice of every round, and
    :meth:`settle` for the untimed calls at the start of a slice after a switch.
    """

    label = "subject"

    @abc.abstractmethod
    def step(self) -> None:
        """One timed call."""

    def after_warmup(self) -> None:
        """Called once when the warm-up is over (e.g. to drop warm-up stage timings)."""

    def settle(self) -> None:
        """One untimed, discarded call after another subject ran (overrides keep no stage times)."""
        self.step()

    def begin_slice(self) -> None:
        """Called before each slice (e.g. to reset the peak-memory counter)."""

    def end_slice(self) -> None:
        """Called after each slice (e.g. to read the peak-memory counter)."""


@dataclass
class Measurement:
    """What one subject measured.

    Attributes:
        samples_s: latency of every measured call, in seconds, in call order.
        start_s: clock time at which each measured call started.
        rounds: index of the round each call belongs to.
        warmup_calls: calls made during warm-up.
        warmup_s: time the warm-up took.
        discarded_calls: untimed calls at the start of slices that followed another subject.
    """

    samples_s: list[float] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    warmup_calls: int = 0
    warmup_s: float = 0.0
    discarded_calls: int = 0

    @property
    def count(self) -> int:
        return len(self.samples_s)

    @property
    def measured_s(self) -> float:
        return float(sum(self.samples_s))

    def satisfies(self, settings: BenchSettings) -> bool:
        """True once both the iteration and the duration minimum are met."""
        return self.count >= settings.iterations and self.measured_s >= settings.duration_s


def warm_up(subject: Subject, warmup_s: float, clock: Clock = time.perf_counter) -> tuple[int, float]:
    """Run ``subject`` until ``warmup_s`` seconds have passed (at least one call).

    Returns:
        (calls, seconds) spent warming up.
    """
    start = clock()
    calls = 0
    while True:
        subject.step()
        calls += 1
        elapsed = clock() - start
        if elapsed >= warmup_s:
            return calls, elapsed


def run_slice(subject: Subject, record: Measurement, settings: BenchSettings, round_index: int,
              clock: Clock = time.perf_counter, after_switch: bool = False) -> None:
    """One subject's turn in a round: at least ``slice_iterations`` calls and ``slice_s`` seconds.

    Args:
        after_switch: another subject ran last; the first ``settings.switch_calls`` calls are
            made untimed and discarded.
    """
    subject.begin_slice()
    calls, spent = 0, 0.0
    try:
        for _ in range(settings.switch_calls if after_switch else 0):
            subject.settle()
            record.discarded_calls += 1
        while calls < settings.slice_iterations or spent < settings.slice_s:
            t0 = clock()
            subject.step()
            dt = clock() - t0
            record.samples_s.append(dt)
            record.start_s.append(t0)
            record.rounds.append(round_index)
            calls += 1
            spent += dt
    finally:
        subject.end_slice()


def round_order(count: int, round_index: int) -> list[int]:
    """Subject order in a round: rotated by one each round (0 1 2, 1 2 0, 2 0 1, ...)."""
    shift = round_index % count if count else 0
    return [(shift + i) % count for i in range(count)]


def measure(subjects: Sequence[Subject], settings: BenchSettings, clock: Clock = time.perf_counter,
            progress: Optional[Callable[[float], None]] = None) -> list[Measurement]:
    """Warm up every subject, then measure them in interleaved rounds until all are done.

    Args:
        subjects: what to measure, in report order.
        settings: warm-up, minimum iterations and duration, rounds.
        clock: a monotonic clock in seconds (``time.perf_counter``).
        progress: called after each round with the fraction done (0..1) of the subject
            furthest from finishing.

    Returns:
        One :class:`Measurement` per subject, in the order given.

    Raises:
        UsageError: no subjects or invalid settings.
    """
    settings.validate()
    if not subjects:
        raise UsageError("nothing to benchmark")
    records = [Measurement() for _ in subjects]
    for subject, record in zip(subjects, records):
        record.warmup_calls, record.warmup_s = warm_up(subject, settings.warmup_ms / 1e3, clock)
        subject.after_warmup()
    if progress is not None:
        progress(0.0)
    round_index, last = 0, len(subjects) - 1  # the last subject warmed up ran last
    while not all(r.satisfies(settings) for r in records):
        for i in round_order(len(subjects), round_index):
            run_slice(subjects[i], records[i], settings, round_index, clock, after_switch=i != last)
            last = i
        round_index += 1
        if progress is not None:
            progress(min(fraction_done(r, settings) for r in records))
    return records


def fraction_done(record: Measurement, settings: BenchSettings) -> float:
    """How far a subject is towards both minimums (0..1)."""
    by_count = record.count / settings.iterations
    by_time = record.measured_s / settings.duration_s if settings.duration_s > 0 else 1.0
    return min(1.0, by_count, by_time)
