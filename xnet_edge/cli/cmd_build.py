"""``xnet-edge build``: build an engine folder (TensorRT plan or optimized ONNX + manifest) for a target."""

from __future__ import annotations

import sys
import warnings

from .common import add_build_arguments, build_options


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
    add_build_arguments(p)
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
        result = build_engine(args.onnx, args.target, args.output, build_options(args), log=log,
                              verbose=args.verbose)
    for message in result.warnings:
        print(f"xnet-edge: warning: {message}", file=sys.stderr)
    m = result.manifest
    print(f"{result.out_dir}: {m['artifact']['kind']} {m['artifact']['file']} for {m['target']['name']}, "
          f"precision {m['precision']}")
    return 0
