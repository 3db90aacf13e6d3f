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
from pathlib import Path
from typing import Optional

from ..errors import UsageError
from ..preprocess import size_arg
from ..tables import print_table
from .common import add_runtime_arguments, positive_int, runtime_options

FORMAT_HELP = ("comma-separated outputs. Depth models: npy (float32 metres), png16 (16-bit millimetres), "
               "color (colorized, beside the input), ply (point cloud, needs --intrinsics); default npy,png16,color. "
               "Segmentation models: labels (class-id PNG, 8-bit up to 256 classes, else 16-bit), labels-npy "
               "(class ids .npy), seg-color (palette PNG; --overlay blends it over the input); default all three")


def register(sub) -> None:
    p = sub.add_parser("infer", help="run depth inference on images, a folder, a video or a camera",
                       description="Turn images, videos or camera frames into metric depth with an engine "
                                   "folder, an ONNX model, a TensorRT plan or a model checkpoint.")
    p.add_argument("artifact", help="engine folder, .onnx, .plan/.engine, .safetensors checkpoint, or demo[:MODEL]")
    p.add_argument("--input", "-i", required=True, metavar="PATH|DIR|GLOB|VIDEO|camera:N|BAG",
                   help="an image, a folder of images, a quoted glob, a video file, camera:N, or a ROS 2 bag "
                        "(rosbag2 folder, .mcap or .db3)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="output folder for --format files (created); needed unless --output-bag or --serve is given")
    p.add_argument("--format", help=FORMAT_HELP)
    p.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="camera intrinsics in pixels (for ply)")
    p.add_argument("--gt", metavar="PATH",
                   help="ground truth: depth .npy (metres) / 16-bit .png (mm), a Middlebury disp .pfm with "
                        "calib.txt beside it, or a folder of such files named after the inputs; prints metrics")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    add_runtime_arguments(p)
    add_bag_arguments(p)
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="live view: serve the input and colour depth as a web page (MJPEG) while inference "
                        "runs, on 127.0.0.1 unless a host is given")
    out = p.add_argument_group("output")
    out.add_argument("--colormap", default="turbo", help="matplotlib colormap for color output (default turbo)")
    out.add_argument("--depth-range", metavar="NEAR,FAR", help="fixed colormap range in metres (default: per frame)")
    out.add_argument("--depth-only", action="store_true", help="color output without the input beside it")
    out.add_argument("--depth-scale", type=float, metavar="S",
                     help="relative-depth models: metres = S * output; inverse-depth / disparity: S / output "
                          "(e.g. focal x baseline); enables png16 and ply for them")
    out.add_argument("--overlay", action="store_true", help="segmentation: blend the seg-color palette over the input")
    out.add_argument("--queue-size", type=positive_int, default=4, help="frames buffered between stages")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    out.add_argument("--summary-json", metavar="PATH", help="also write the summary (and metrics) as JSON")
    p.set_defaults(func=run)


def add_bag_arguments(p) -> None:
    """The ``ROS 2 bags`` argument group of ``infer``."""
    bag = p.add_argument_group("ROS 2 bags (--input BAG)")
    bag.add_argument("--topic", help="image topic (Image or CompressedImage); optional when the bag has one")
    bag.add_argument("--camera-info-topic", metavar="TOPIC",
                     help="CameraInfo topic (default <ns>/camera_info of the image topic, when recorded)")
    bag.add_argument("--output-bag", metavar="DIR", help="write depth, camera info (and points) into this new bag")
    bag.add_argument("--bag-storage", choices=["mcap", "sqlite3"], help="output bag storage (default: the input's)")
    bag.add_argument("--depth-encoding", choices=["32FC1", "16UC1"], default="32FC1",
                     help="32FC1 metres (default) or 16UC1 millimetres, 0 = no depth")
    bag.add_argument("--depth-size", type=size_arg, metavar="HxW",
                     help="publish depth (and its camera info) at this size instead of the image's")
    bag.add_argument("--points", action="store_true", help="also write an organized PointCloud2 (xyz)")
    bag.add_argument("--points-rgb", action="store_true", help="PointCloud2 with the input's colours (xyz + rgb)")
    bag.add_argument("--output-ns", metavar="NS", help="namespace of the output topics (default: the camera's)")
    for name in ("depth-topic", "depth-info-topic", "points-topic"):
        bag.add_argument(f"--{name}", metavar="TOPIC", help=f"override the {name.replace('-', ' ')} name")


def _bag_io(args):
    from ..ros2.bags import OutputTopics, is_bag, open_bag_io
    from ..runtime.outputs import parse_intrinsics

    if not is_bag(args.input):
        given = [f"--{n.replace('_', '-')}" for n in ("topic", "camera_info_topic", "output_bag")
                 if getattr(args, n)]
        if given and not Path(args.input).exists():
            raise UsageError(f"input not found: {args.input}")
        if given:
            raise UsageError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} a ROS 2 bag as --input "
                             "(a rosbag2 folder, .mcap or .db3)")
        return args.input, None
    topics = None
    if args.output_ns is not None or args.depth_topic or args.depth_info_topic or args.points_topic:
        topics = OutputTopics(args.output_ns, args.depth_topic, args.depth_info_topic, args.points_topic)
    return open_bag_io(args.input, args.output_bag, topic=args.topic, camera_info_topic=args.camera_info_topic,
                       intrinsics=parse_intrinsics(args.intrinsics) if args.intrinsics else None,
                       max_frames=args.max_frames, storage=args.bag_storage, topics=topics,
                       depth_encoding=args.depth_encoding, points=args.points, points_rgb=args.points_rgb,
                       depth_size=args.depth_size)


def run(args) -> int:
    from ..io_utils import check_writable, write_json_atomic
    from ..runtime import infer
    from ..runtime.inference import open_writer

    if not (args.output or args.output_bag or args.serve):
        raise UsageError("nothing to write: give --output DIR (files), --output-bag DIR (ROS 2 bag) or --serve PORT")
    options = runtime_options(args)
    if args.summary_json:
        check_writable(args.summary_json, "--summary-json")
    open_writer(args.output, args.format, args.intrinsics, args.colormap, args.depth_range,  # usage errors first
                overlay=args.overlay, depth_scale=args.depth_scale)
    source, bag_out = _bag_io(args)
    sinks = [bag_out] if bag_out is not None else []
    view = None
    try:
        if args.serve:
            from ..runtime.live_view import LiveView
            from ..runtime.outputs import parse_range

            view = LiveView(args.serve, title=f"{args.artifact} on {args.input}", colormap=args.colormap,
                            depth_range=parse_range(args.depth_range))
            print(f"live view: {view.url}", flush=True)
            sinks.append(view)
        result = infer(args.artifact, source, args.output, formats=args.format, intrinsics=args.intrinsics,
                       colormap=args.colormap, depth_range=args.depth_range, with_input=not args.depth_only,
                       overlay=args.overlay, depth_scale=args.depth_scale, gt=args.gt, max_frames=args.max_frames,
                       queue_size=args.queue_size, progress=not args.no_progress, sinks=sinks, runtime_options=options)
    finally:
        if view is not None:
            view.close()
        if not isinstance(source, str):
            source.close()
    print_summary(result.summary, result.runtime, result.output)
    report = result.to_dict()
    if not isinstance(source, str):
        report["bag"] = _print_bag_summary(source, bag_out, args.output_bag)
    if result.metrics is not None:
        print_metrics(result.metrics)
    if args.summary_json:
        write_json_atomic(args.summary_json, report)
    return result.exit_code


def _print_bag_summary(source, bag_out, output_bag) -> dict:
    read = ", ".join(f"{t} {n} msgs" for t, n in source.read.items())
    print(f"bag in:  {source.path} ({source.storage}): {read}")
    info = {"input": str(source.path), "read": dict(source.read)}
    if bag_out is not None:
        wrote = ", ".join(f"{t} {n} msgs" for t, n in bag_out.written.items()) or "nothing"
        print(f"bag out: {output_bag} ({bag_out.storage}): {wrote}")
        info.update(output=str(output_bag), written=dict(bag_out.written))
    return info


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
    if output_dir is not None and Path(output_dir).is_dir():  # never created when no frame was written
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
