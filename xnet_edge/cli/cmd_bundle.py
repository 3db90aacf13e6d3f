"""``xnet-edge bundle``: pack the ONNX, calibration cache, target profile and a build script for the device."""

from __future__ import annotations

from ..engine.trt_releases import TENSORRT_CHOICES
from .common import add_build_arguments, build_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bundle", help="pack a model to build its engine on the device itself",
        description="Check the build for --target here, then write a tar.gz with the ONNX, the calibration "
                    "cache, the target profile and build.sh (runs `xnet-edge build`, or trtexec when "
                    "xnet-edge is not installed on the device).")
    p.add_argument("onnx", metavar="MODEL.onnx", help="exported model (FP32, FP16 or Q/DQ INT8 ONNX)")
    p.add_argument("--target", "-t", required=True, help="target device profile (xnet-edge targets)")
    p.add_argument("-o", "--output", required=True, metavar="BUNDLE.tar.gz", help="archive to write")
    add_build_arguments(p, bundle=True)
    p.add_argument("--tensorrt", choices=TENSORRT_CHOICES,
                   help="TensorRT on the device: a generation (the target's release of it) or a release, e.g. 8.6 "
                        "for JetPack 6.0 (default: the target's)")
    p.set_defaults(func=run_bundle)


def run_bundle(args) -> int:
    from ..engine.bundle import make_bundle

    result = make_bundle(args.onnx, args.target, args.output, build_options(args), tensorrt=args.tensorrt)
    files = ", ".join(f"{name} ({size} B)" for name, size in result.files.items())
    print(f"{result.path}: {files}")
    for note in result.plan.notes:
        print(f"note: {note}")
    print(f"on the device: tar xzf {result.path.name} && sh {result.path.name.split('.')[0]}/build.sh")
    return 0
