"""``xnet-edge bundle``: pack the ONNX, calibration cache, target profile and a build script for the device."""

from __future__ import annotations

from ..engine.trt_releases import TENSORRT_CHOICES
from ..targets import PRECISIONS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bundle", help="pack a model to build its engine on the device itself",
        description="Check the build for --target here, then write a tar.gz with the ONNX, the calibration "
                    "cache, the target profile and build.sh (runs `xnet-edge build`, or trtexec when "
                    "xnet-edge is not installed on the device).")
    p.add_argument("onnx", metavar="MODEL.onnx", help="exported model (FP32, FP16 or Q/DQ INT8 ONNX)")
    p.add_argument("--target", "-t", required=True, help="target device profile (xnet-edge targets)")
    p.add_argument("-o", "--output", required=True, metavar="BUNDLE.tar.gz", help="archive to write")
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--dla", type=int, metavar="N", help="DLA core (Jetson)")
    p.add_argument("--workspace", type=int, metavar="MB", help="TensorRT workspace limit in MiB")
    p.add_argument("--opt-level", type=int, metavar="N", help="TensorRT builder optimization level 0-5")
    p.add_argument("--calibration-cache", metavar="PATH", help="TensorRT calibration cache (legacy INT8)")
    p.add_argument("--tensorrt", choices=TENSORRT_CHOICES,
                   help="TensorRT on the device: a generation (the target's release of it) or a release, e.g. 8.6 "
                        "for JetPack 6.0 (default: the target's)")
    p.add_argument("--max-batch", type=int, metavar="N", help="largest batch for a dynamic batch")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="cpu target: ONNX Runtime threads")
    p.set_defaults(func=run_bundle)


def run_bundle(args) -> int:
    from ..engine.bundle import make_bundle

    result = make_bundle(args.onnx, args.target, args.output, precision=args.precision, dla=args.dla,
                         workspace_mb=args.workspace, opt_level=args.opt_level,
                         calibration_cache=args.calibration_cache, tensorrt=args.tensorrt,
                         max_batch=args.max_batch, threads=args.threads)
    files = ", ".join(f"{name} ({size} B)" for name, size in result.files.items())
    print(f"{result.path}: {files}")
    for note in result.plan.notes:
        print(f"note: {note}")
    print(f"on the device: tar xzf {result.path.name} && sh {result.path.name.split('.')[0]}/build.sh")
    return 0
