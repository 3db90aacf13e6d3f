"""What the first call after switching artifacts costs, and what discarding it changes.

Measures two engines side by side twice, in the same process: once keeping every call
(``switch_calls=0``) and once discarding the first call of each block that follows the
other engine's (``switch_calls=1``, the default). Prints, per engine, the median of the
first calls after a switch against the median of the other calls, and p50/p90/p99 of both runs.

    python benchmarks/bench_switch_cost.py out/demo/engines/cpu-fp32 out/demo/engines/cpu-int8
"""

from __future__ import annotations

import argparse

import numpy as np

from xnet_edge.bench.inputs import benchmark_frames
from xnet_edge.bench.memory import PeakRss
from xnet_edge.bench.method import BenchSettings, measure
from xnet_edge.bench.report import unique_labels
from xnet_edge.bench.subjects import open_subject


def after_switch(measurements) -> list[np.ndarray]:
    """Per measurement, a mask of the calls whose previous call (in time) was another artifact's."""
    timeline = sorted((t, i, k) for i, m in enumerate(measurements) for k, t in enumerate(m.start_s))
    masks = [np.zeros(m.count, bool) for m in measurements]
    for (_, prev, _), (_, i, k) in zip(timeline, timeline[1:]):
        masks[i][k] = prev != i
    return masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs=2)
    parser.add_argument("--duration-s", type=float, default=6.0)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    frames = [f for _, f in benchmark_frames()]
    labels = unique_labels(args.artifacts)
    subjects = [open_subject(p, label, frames, peak=PeakRss(), threads=args.threads)
                for p, label in zip(args.artifacts, labels)]
    try:
        runs = {}
        for switch_calls in (0, 1):
            settings = BenchSettings(warmup_ms=300, duration_s=args.duration_s, iterations=args.iterations,
                                     rounds=args.rounds, switch_calls=switch_calls)
            runs[switch_calls] = measure(subjects, settings)
    finally:
        for s in subjects:
            s.close()
    print(f"{'engine':<24} {'first call after a switch':>26} {'other calls':>12} {'ratio':>6}   "
          f"{'p50/p90/p99 keeping it':>24}   {'p50/p90/p99 discarding it':>26}")
    for i, label in enumerate(labels):
        kept, dropped = runs[0][i], runs[1][i]
        ms = np.asarray(kept.samples_s) * 1e3
        first = after_switch(runs[0])[i]
        a, b = np.median(ms[first]), np.median(ms[~first])
        keep = "/".join(f"{v:.1f}" for v in np.percentile(ms, [50, 90, 99]))
        drop = "/".join(f"{v:.1f}" for v in np.percentile(np.asarray(dropped.samples_s) * 1e3, [50, 90, 99]))
        print(f"{label:<24} {a:>23.1f} ms {b:>9.1f} ms {a / b:>5.2f}x   {keep:>24}   {drop:>26}"
              f"   (n={ms.size}, {int(first.sum())} switches; discarded {dropped.discarded_calls})")


if __name__ == "__main__":
    main()
