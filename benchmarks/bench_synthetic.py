"""Throughput of the procedural scene generator (xnet_edge.data.synthetic).

Prints scenes per second (wall clock and CPU time) for one process, and for a
pool of processes when --workers > 1, at one or more sizes; for one process also
the median and fastest single scene (the fastest is the least disturbed by other
work on a shared machine). The issue's goal is
>= 20 scenes/s at 256x320 on a 2-core machine.

    python benchmarks/bench_synthetic.py --count 100 --sizes 256x320 128x160 --workers 2
    python benchmarks/bench_synthetic.py --count 0 --plot docs/images/synthetic_scenes.jpg
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import time

from xnet_edge.data.synthetic import generate, render_scene
from xnet_edge.preprocess import size_arg
from xnet_edge.tables import print_table


def _render(args):
    index, size, seed = args
    scene = render_scene(index, size, seed)
    return scene.rgb, scene.depth


def bench_single(count: int, size, seed: int) -> dict:
    next(generate(1, size, seed + 1))  # warm-up: imports, first allocations
    per_scene = []
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        start = time.perf_counter()
        render_scene(i, size, seed)
        per_scene.append(time.perf_counter() - start)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"size": f"{size[0]}x{size[1]}", "processes": 1, "scenes": count,
            "scenes_per_s": f"{count / wall:.1f}", "cpu_scenes_per_s": f"{count / cpu:.1f}",
            "ms_per_scene": f"{1e3 * wall / count:.1f}", "median_ms": f"{1e3 * statistics.median(per_scene):.1f}",
            "best_ms": f"{1e3 * min(per_scene):.1f}"}


def bench_pool(count: int, size, seed: int, workers: int) -> dict:
    with mp.get_context("fork").Pool(workers) as pool:
        list(pool.imap(_render, [(i, size, seed + 1) for i in range(workers)]))  # warm-up
        wall = time.perf_counter()
        for _ in pool.imap(_render, [(i, size, seed) for i in range(count)], chunksize=4):
            pass
        wall = time.perf_counter() - wall
    return {"size": f"{size[0]}x{size[1]}", "processes": workers, "scenes": count,
            "scenes_per_s": f"{count / wall:.1f}", "cpu_scenes_per_s": "",
            "ms_per_scene": f"{1e3 * wall / count:.1f}"}


def plot_examples(path: str, size, seed: int, count: int = 8) -> None:
    """Save a grid of RGB / depth / label images of the first ``count`` scenes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import numpy as np

    from xnet_edge.data.synthetic import MAX_DEPTH, generate_scenes

    fig, axes = plt.subplots(3, count, figsize=(2.6 * count, 6.2))
    for col, scene in enumerate(generate_scenes(count, size, seed)):
        axes[0, col].imshow(scene.rgb)
        axes[0, col].set_title(scene.kind, fontsize=9)
        depth = np.where(scene.depth > 0, scene.depth, np.nan)  # no depth (sky, too far): blank
        im = axes[1, col].imshow(depth, cmap="turbo", vmin=0, vmax=MAX_DEPTH * 0.8)
        labels = np.where(scene.labels == 255, np.nan, scene.labels)  # 255: sky, no class
        axes[2, col].imshow(labels, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for row, name in enumerate(("rgb", "depth (m)", "labels")):
        axes[row, 0].set_ylabel(name)
    fig.colorbar(im, ax=axes[1, :].tolist(), fraction=0.02, pad=0.01)
    fig.savefig(path, dpi=80, bbox_inches="tight", pil_kwargs={"quality": 85} if path.endswith(".jpg") else None)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--sizes", type=size_arg, nargs="+", default=[(256, 320)])
    parser.add_argument("--workers", type=int, default=2, help="also run a pool of this many processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="also save example scenes (rgb, depth, labels) as an image")
    args = parser.parse_args()
    if args.plot:
        plot_examples(args.plot, args.sizes[0], args.seed)
    if args.count <= 0:
        return
    rows = []
    for size in args.sizes:
        rows.append(bench_single(args.count, size, args.seed))
        if args.workers > 1:
            rows.append(bench_pool(args.count, size, args.seed, args.workers))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (other work on the machine lowers wall-clock figures)")
    print_table(rows, ["size", "processes", "scenes", "scenes_per_s", "cpu_scenes_per_s", "ms_per_scene",
                       "median_ms", "best_ms"])


if __name__ == "__main__":
    main()
