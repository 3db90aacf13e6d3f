"""Constant memory in the streaming pipeline: peak RSS of ``xnet-edge infer`` at 100 vs 300 frames.

The script writes a 300-frame video (a camera panning across real photos that ship
with scikit-image), exports a model to ONNX unless one is given, then runs the
``xnet-edge infer`` command in a fresh process for each frame count and reports:

* peak RSS of each run (``VmHWM`` of the fresh process: ``ru_maxrss`` would carry the
  parent's high-water mark across fork+exec),
* RSS sampled every 50 ms during the run, and its growth from 50% to 90% of the run,
* frames per second and latency from the run's own summary.

A pipeline that kept frames (or outputs) around would show the 300-frame peak far above
the 100-frame one; bounded queues keep them within a few MiB.

    python benchmarks/bench_stream_memory.py                     # xnet_lite0 at 256x320, 100 and 300 frames
    python benchmarks/bench_stream_memory.py --artifact ENGINE_DIR --frames 100 300 1000

Outputs (``--out``, default ``bench_out/stream_memory``): ``stream_memory.json`` and
``stream_memory.png`` (RSS over time for each run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

FRAME_SIZE = (240, 320)  # H, W of the generated video
CHILD_FLAG = "--child-run"


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def panorama() -> np.ndarray:
    """Real photos side by side (RGB uint8), the scene the virtual camera pans across."""
    import cv2
    from skimage import data

    photos = [data.stereo_motorcycle()[0], data.astronaut(), data.coffee(), data.chelsea()]
    height = 480
    tiles = [cv2.resize(p, (int(p.shape[1] * height / p.shape[0]), height), interpolation=cv2.INTER_AREA)
             for p in photos]
    return np.concatenate(tiles, axis=1)


def write_video(path: Path, frames: int, size=FRAME_SIZE) -> Path:
    """An MJPG .avi of ``frames`` frames: a camera panning and slowly zooming across the panorama."""
    import cv2

    scene = panorama()
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot write MJPG video here")
    for i in range(frames):
        t = i / max(frames - 1, 1)
        zoom = 1.0 + 0.3 * np.sin(2 * np.pi * t)
        crop_h, crop_w = int(scene.shape[0] / zoom), int(scene.shape[0] / zoom * w / h)
        x0 = int(t * (scene.shape[1] - crop_w))
        y0 = (scene.shape[0] - crop_h) // 2
        crop = scene[y0:y0 + crop_h, x0:x0 + crop_w]
        writer.write(cv2.cvtColor(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def export_model(name: str, size, path: Path) -> Path:
    """Export a registered variant (random weights: memory does not depend on them) to ONNX."""
    import xnet_edge
    from xnet_edge.export import export_onnx

    model = xnet_edge.create_model(name, input_size=tuple(size))
    export_onnx(model, path, batch=1)
    return path


def child_run(args: list[str]) -> None:
    """In a fresh process: run ``xnet-edge infer`` while sampling RSS; print one JSON line."""
    from xnet_edge.cli import main

    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    start = time.perf_counter()

    def sample():
        while not stop.is_set():
            samples.append((time.perf_counter() - start, rss_mib()))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = main(args)
    stop.set()
    sampler.join()
    print(json.dumps({"rc": rc, "peak_rss_mib": peak_rss_mib(), "samples": samples}))


def run_frames(artifact: Path, video: Path, frames: int, out: Path, formats: str, threads) -> dict:
    summary = out / f"summary_{frames}.json"
    cli = ["infer", str(artifact), "--input", str(video), "--output", str(out / f"frames_{frames}"),
           "--max-frames", str(frames), "--format", formats, "--no-progress", "--summary-json", str(summary)]
    if threads:
        cli += ["--threads", str(threads)]
    proc = subprocess.run([sys.executable, __file__, CHILD_FLAG, *cli], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run with {frames} frames failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"xnet-edge infer exited {result['rc']}:\n{proc.stdout[-3000:]}")
    result["summary"] = json.loads(summary.read_text())["summary"]
    return result


def rss_growth(samples) -> float:
    """RSS at 90% of the run's time minus RSS at 50% (MiB); the tail after close() is left out."""
    if len(samples) < 4:
        return float("nan")
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    return float(np.interp(0.9 * t[-1], t, rss) - np.interp(0.5 * t[-1], t, rss))


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for frames, res in results.items():
        t, rss = zip(*res["samples"])
        ax.plot(t, rss, label=f"{frames} frames (peak {res['peak_rss_mib']:.0f} MiB)")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("xnet-edge infer: streaming RSS over a video")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", help="engine folder / .onnx to run (default: export --model)")
    parser.add_argument("--model", default="xnet_lite0", help="variant exported when no --artifact (xnet_lite0)")
    parser.add_argument("--input-size", default="256x320", help="network input for the exported model")
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 300], help="frame counts to compare")
    parser.add_argument("--format", default="npy,png16,color", help="outputs written per frame")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    parser.add_argument("--out", default="bench_out/stream_memory", help="output folder")
    args = parser.parse_args()

    from xnet_edge.io_utils import write_json_atomic
    from xnet_edge.preprocess import parse_size
    from xnet_edge.tables import print_table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    video = write_video(out / "pan.avi", max(args.frames))
    artifact = Path(args.artifact) if args.artifact else export_model(
        args.model, parse_size(args.input_size), out / f"{args.model}.onnx")
    results = {}
    for frames in args.frames:
        print(f"running {frames} frames ...", flush=True)
        results[frames] = run_frames(artifact, video, frames, out, args.format, args.threads)
    rows = []
    for frames, res in results.items():
        s = res["summary"]
        rows.append({"frames": s["frames"], "peak RSS (MiB)": f"{res['peak_rss_mib']:.1f}",
                     "RSS growth 50%->90% (MiB)": f"{rss_growth(res['samples']):+.1f}",
                     "FPS": f"{s['fps']:.1f}", "latency mean (ms)": f"{s['latency']['mean_ms']:.1f}",
                     "latency p90 (ms)": f"{s['latency']['p90_ms']:.1f}"})
    print_table(rows, list(rows[0]))
    first, last = results[args.frames[0]], results[args.frames[-1]]
    ratio = last["peak_rss_mib"] / first["peak_rss_mib"]
    print(f"peak RSS {args.frames[-1]} vs {args.frames[0]} frames: {last['peak_rss_mib']:.1f} / "
          f"{first['peak_rss_mib']:.1f} MiB = {ratio:.3f}x")
    report = {"artifact": str(artifact), "video": str(video), "frame_size": list(FRAME_SIZE),
              "formats": args.format, "ratio_peak_rss": ratio,
              "runs": {str(k): {"peak_rss_mib": v["peak_rss_mib"], "summary": v["summary"],
                                "rss_growth_50_to_90_mib": rss_growth(v["samples"]),
                                "samples": v["samples"]} for k, v in results.items()}}
    write_json_atomic(out / "stream_memory.json", report)
    plot(results, out / "stream_memory.png")
    print(f"wrote {out / 'stream_memory.json'} and {out / 'stream_memory.png'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        child_run(sys.argv[2:])
    else:
        sys.exit(main())
