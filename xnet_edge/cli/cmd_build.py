"""``xnet-edge build``: build an engine folder (TensorRT plan or optimized ONNX + manifest) for a target."""

from __future__ import annotations

import sys
import warnings

from ..targets import PRECISIONS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build", help="build an engine for a target device (TensorRT plan or optimized ONNX)",
        description="Build MODEL.onnx for --target into OUT_DIR: the engine (model.plan on GPU targets, "
                    "model.opt.onnx on cpu), copies of the inputs, manifest.json, and on GPU targets the "
                    "equivalent trtexec command (build.sh) and per-layer JSON (layers.json). "
                    "See `xnet-edge targets` for the targets.")
    p.add_argument("onnx", metavar="MODEL.onnx", help="exported model (FP32, FP16 or Q/DQ INT8 ONNX)")
    p.add_argument("--target", "-t", required=True, help="target device profile, e.g. jetson-orin-nano or cpu")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="engine folder to create")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="default: int8 for a Q/DQ model, else the target's default")
    p.add_argument("--dla", type=int, metavar="N", help="run on DLA core N with GPU fallback (Jetson)")
    p.add_argument("--workspace", type=int, metavar="MB", help="TensorRT workspace limit in MiB")
    p.add_argument("--timing-cache", metavar="PATH", help="TensorRT timing cache, loaded and saved "
                   "(default: ~/.cache/xnet-edge/timing/, per TensorRT version and GPU)")
    p.add_argument("--opt-level", type=int, metavar="N", help="TensorRT builder optimization level 0-5; "
                   "cpu: ONNX Runtime level 0-3 (default 2, extended)")
    p.add_argument("--calibration-cache", metavar="PATH", help="TensorRT calibration cache for legacy INT8 "
                   "of an FP32 model (TensorRT 8/10)")
    p.add_argument("--calibration-images", metavar="DIR", help="calibrate legacy INT8 on these images "
                   "(TensorRT 10, IInt8EntropyCalibrator2)")
    p.add_argument("--max-batch", type=int, metavar="N", help="largest batch of the profile for a dynamic batch")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="cpu: ONNX Runtime intra-op threads recorded for the runtime (0: its default)")
    p.add_argument("--verbose", action="store_true", help="TensorRT INFO log")
    p.add_argument("--quiet", "-q", action="store_true", help="print only warnings and errors")
    p.set_defaults(func=run_build)


def run_build(args) -> int:
    from ..engine.build import TargetMismatchWarning, build_engine

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TargetMismatchWarning)  # printed below, once
        result = build_engine(args.onnx, args.target, args.output, precision=args.precision, dla=args.dla,
                              workspace_mb=args.workspace, timing_cache=args.timing_cache,
                              opt_level=args.opt_level, calibration_cache=args.calibration_cache,
                              calibration_images=args.calibration_images, threads=args.threads,
                              max_batch=args.max_batch, log=log, verbose=args.verbose)
    for message in result.warnings:
        print(f"xnet-edge: warning: {message}", file=sys.stderr)
    m = result.manifest
    print(f"{result.out_dir}: {m['artifact']['kind']} {m['artifact']['file']} for {m['target']['name']}, "
          f"precision {m['precision']}")
    return 0
