"""``xnet-edge infer``: depth for images, folders, globs, videos and cameras, on the robot.

    xnet-edge infer ENGINE_DIR --input frames/ --output out/ --format npy,png16,color
    xnet-edge infer model.onnx --input clip.mp4 --output out/ --max-frames 300
    xnet-edge infer ENGINE_DIR --input camera:0 --output out/ --format png16
    xnet-edge infer model.onnx --input scene.png --output out/ --gt scene_depth.png

Decoding and preprocessing of the next frame overlap inference of the current one, and
outputs are written on a third thread; a summary (frames, latency, FPS) ends the run.
Exit codes: 0 all frames done, 1 a runtime failure or skipped frames, 2 a usage error,
130 interrupted.
"""

from __future__ import annotations

import math
import sys
from typing import Optional

from .common import positive_int, print_table, size_arg

FORMAT_HELP = ("comma-separated outputs: npy (float32 metres), png16 (16-bit millimetres), "
               "color (colorized, beside the input), ply (point cloud, needs --intrinsics); default npy,png16,color")


def register(sub) -> None:
    p = sub.add_parser("infer", help="run depth inference on images, a folder, a video or a camera",
                       description="Turn images, videos or camera frames into metric depth with an engine "
                                   "folder, an ONNX model, a TensorRT plan or a model checkpoint.")
    p.add_argument("artifact", help="engine folder, .onnx, .plan/.engine, .safetensors checkpoint, or demo[:MODEL]")
    p.add_argument("--input", "-i", required=True, metavar="PATH|DIR|GLOB|VIDEO|camera:N",
                   help="an image, a folder of images, a quoted glob, a video file, or camera:N")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--format", default="npy,png16,color", help=FORMAT_HELP)
    p.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="camera intrinsics in pixels (for ply)")
    p.add_argument("--gt", metavar="PATH",
                   help="ground truth: depth .npy (metres) / 16-bit .png (mm), a Middlebury disp .pfm with "
                        "calib.txt beside it, or a folder of such files named after the inputs; prints metrics")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    rt = p.add_argument_group("runtime")
    rt.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "tensorrt", "torch"])
    rt.add_argument("--providers", help="ONNX Runtime providers: cpu (default), cuda, tensorrt, auto, or a list")
    rt.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: manifest's, else all cores)")
    rt.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (PyTorch; TensorRT uses N)")
    rt.add_argument("--cuda-graph", action="store_true", help="TensorRT: capture and replay a CUDA graph")
    rt.add_argument("--input-size", type=size_arg, metavar="HxW", help="network input for dynamic-size models")
    rt.add_argument("--no-check", action="store_true",
                    help="skip the engine's hash and machine compatibility checks (not recommended)")
    out = p.add_argument_group("output")
    out.add_argument("--colormap", default="turbo", help="matplotlib colormap for color output (default turbo)")
    out.add_argument("--depth-range", metavar="NEAR,FAR", help="fixed colormap range in metres (default: per frame)")
    out.add_argument("--depth-only", action="store_true", help="color output without the input beside it")
    out.add_argument("--queue-size", type=positive_int, default=4, help="frames buffered between stages")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--summary-json", metavar="PATH", help="also write the summary (and metrics) as JSON")
    p.set_defaults(func=run)


def _open_runtime(args):
    from ..runtime import Runtime

    return Runtime(args.artifact, backend=args.backend, providers=args.providers, threads=args.threads,
                   device=args.device, cuda_graph=args.cuda_graph, input_size=args.input_size,
                   check=not args.no_check)


def run(args) -> int:
    from ..runtime.groundtruth import GroundTruthScorer
    from ..runtime.outputs import OutputWriter, parse_formats, parse_intrinsics, parse_range
    from ..runtime.sources import FrameSource

    # Every usage error surfaces before the model loads or a frame is read.
    writer = OutputWriter(args.output, parse_formats(args.format),
                          parse_intrinsics(args.intrinsics) if args.intrinsics else None,
                          colormap=args.colormap, depth_range=parse_range(args.depth_range),
                          with_input=not args.depth_only)
    source = FrameSource(args.input, args.max_frames)
    try:
        single = source.kind == "images" and source.total == 1
        scorer = GroundTruthScorer(args.gt, single) if args.gt else None
        with _open_runtime(args) as runtime:
            if scorer is not None:
                scorer.max_depth = runtime.max_depth
            summary = _stream(args, runtime, source, writer, scorer)
            info = runtime.describe()
    finally:
        source.close()
    summary.notes.extend(source.notes)
    return _report(args, summary, info, scorer)


def _stream(args, runtime, source, writer, scorer):
    from tqdm import tqdm

    from ..runtime.pipeline import run_stream

    def on_result(frame, depth):
        writer.write(frame.stem, frame.image, depth)
        if scorer is not None:
            scorer.add(frame.stem, depth)

    bar = tqdm(total=source.total, unit="frame", desc="infer", disable=args.no_progress, dynamic_ncols=True)
    try:
        return run_stream(runtime, source, on_result, queue_size=args.queue_size,
                          on_progress=lambda s: bar.update(1),
                          on_skip=lambda src, why: bar.write(f"skipped {src}: {why}"))
    finally:
        bar.close()


def _report(args, summary, info, scorer) -> int:
    from ..io_utils import write_json_atomic
    print_summary(summary, info, args.output)
    report = {"summary": summary.to_dict(), "runtime": info}
    if scorer is not None:
        report["metrics"] = scorer.report()
        print_metrics(report["metrics"])
    if args.summary_json:
        write_json_atomic(args.summary_json, report)
    if summary.interrupted:
        return 130
    return 1 if (summary.stopped or summary.skipped or summary.frames == 0) else 0


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def print_summary(summary, info: dict, output_dir, file=None) -> None:
    """Print the run's summary table, notes and skipped frames."""
    file = file or sys.stdout
    data = summary.to_dict()
    row = {"backend": info.get("backend"), "frames": data["frames"], "skipped": data["skipped"],
           "latency mean (ms)": _fmt(data["latency"].get("mean_ms")),
           "latency p90 (ms)": _fmt(data["latency"].get("p90_ms")),
           "inference mean (ms)": _fmt(data["inference"].get("mean_ms")), "FPS": _fmt(data["fps"], 1)}
    print(file=file)
    print_table([row], list(row), file=file)
    for note in data["notes"]:
        print(f"note: {note}", file=file)
    for item in data["skipped_frames"][:10]:
        print(f"skipped: {item['source']}: {item['reason']}", file=file)
    if data["skipped"] > 10:
        print(f"skipped: ... and {data['skipped'] - 10} more", file=file)
    if data["stopped"]:
        print(f"stopped early: {data['stopped']}", file=file)
    print(f"outputs in {output_dir}", file=file)


def print_metrics(report: dict, file=None) -> None:
    """Print the depth metrics table (one row per alignment)."""
    from ..eval import DEPTH_METRIC_KEYS

    file = file or sys.stdout
    rows = []
    for align, values in report["metrics"].items():
        row = {"align": align, "frames": report["frames"]}
        row.update({k: _fmt(values[k], 4) for k in DEPTH_METRIC_KEYS})
        rows.append(row)
    print(file=file)
    print_table(rows, ["align", "frames", *DEPTH_METRIC_KEYS], file=file)
    if report["missing_ground_truth"]:
        print(f"no ground truth for {len(report['missing_ground_truth'])} frame(s), e.g. "
              f"{report['missing_ground_truth'][0]}", file=file)
