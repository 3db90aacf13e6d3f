"""Training speed on the CPU: one process with 1 or 2 threads vs two DDP processes (gloo), side by side.

Every mode trains the same model on the same cached scenes with the same
global batch (two DDP processes take half the batch each) and reports the
median seconds per optimizer step after the first steps, and images per
second. Run it on the machine that will train, ideally when it is otherwise
idle; the load average is printed with the figures.

    python benchmarks/bench_train_parallel.py --data synthetic:64 --steps 12 --cache-dir runs/cache
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _settings(args, threads: int, batch: int):
    from xnet_edge.train import TrainSettings

    return TrainSettings(model=args.model, pretrained=False, data=args.data, val_data=None,
                         scene_size=(256, 320), crop=tuple(args.crop), batch_size=batch, steps=args.steps,
                         warmup_steps=1, seed=0, save_every=10_000, threads=threads, progress=False,
                         cache_dir=args.cache_dir)


def _timed_run(args, threads: int, batch: int) -> list[float]:
    """Seconds between consecutive optimizer steps of one training process (rank 0 reports)."""
    from xnet_edge.train import train

    stamps = []
    with tempfile.TemporaryDirectory() as run:
        train(_settings(args, threads, batch), run, on_step=lambda step, loss: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps, stamps[1:])]


def _summary(mode: str, gaps: list[float], batch: int, skip: int) -> dict:
    steady = gaps[skip:] or gaps
    median = statistics.median(steady)
    return {"mode": mode, "s_per_step": round(median, 3), "images_per_s": round(batch / median, 2),
            "steps_timed": len(steady)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="xnet_lite0")
    parser.add_argument("--data", default="synthetic:64")
    parser.add_argument("--cache-dir", required=True, help="scene cache shared by every mode")
    parser.add_argument("--crop", type=int, nargs=2, default=(128, 160))
    parser.add_argument("--batch-size", type=int, default=8, help="global batch")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=2, help="steps not timed (warm-up)")
    parser.add_argument("--modes", nargs="+", choices=("1", "2", "ddp"), default=["1", "2", "ddp"],
                        help="1 or 2 threads in one process, ddp: two processes with one thread each")
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_worker:
        gaps = _timed_run(args, 1, args.batch_size // 2)
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps(_summary("ddp 2 processes x 1 thread", gaps, args.batch_size, args.skip)))
        return
    load_before = os.getloadavg()[0]
    rows = [_summary(f"1 process x {t} thread(s)", _timed_run(args, int(t), args.batch_size), args.batch_size,
                     args.skip) for t in args.modes if t != "ddp"]
    if "ddp" in args.modes:
        rows.append(_ddp_row(args))
    from xnet_edge.tables import print_table

    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {os.cpu_count()} CPUs")
    print_table(rows, ["mode", "s_per_step", "images_per_s", "steps_timed"])


def _ddp_row(args) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", __file__, "--ddp-worker",
           "--model", args.model, "--data", args.data, "--cache-dir", args.cache_dir, "--crop", *map(str, args.crop),
           "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--skip", str(args.skip)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


if __name__ == "__main__":
    main()
