"""``xnet-edge demo``: the whole job on the bundled model and a real scene, on the CPU, in minutes."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("demo", help="checkpoint -> ONNX -> INT8 -> cpu engines -> depth on a real scene -> bench",
                       description="Run the SDK end to end on the bundled xnet_lite0 and the Middlebury "
                                   "Motorcycle scene: export, INT8 calibration on built-in real photos, cpu "
                                   "engines, depth + metrics for FP32 and INT8, FP32 vs INT8 benchmark.")
    p.add_argument("-o", "--output", default="out/demo", metavar="DIR", help="output folder (default out/demo)")
    p.add_argument("--duration-s", type=float, default=2.0, metavar="S", help="benchmark seconds per engine (default 2)")
    p.add_argument("--iterations", type=int, default=20, metavar="N", help="benchmark calls per engine, at least (default 20)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="ONNX Runtime threads (default: one per core)")
    p.add_argument("--figure-copy", metavar="PNG", default=None,
                   help="also copy the picture there (the README's docs/demo.png is made this way)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .common import require_torch

    require_torch("demo")
    from ..demo import run_demo
    from ..errors import UsageError
    from ..io_utils import check_writable
    from ..limits import check_threads

    if args.duration_s < 0 or args.iterations < 1:
        raise UsageError("--duration-s must be >= 0 and --iterations >= 1")
    check_threads(args.threads)
    if args.figure_copy and not str(args.figure_copy).lower().endswith(".png"):
        raise UsageError(f"--figure-copy {args.figure_copy}: give a .png file name")
    check_writable(args.output, "--output", is_dir=True)
    if args.figure_copy:
        check_writable(args.figure_copy, "--figure-copy")
    run_demo(args.output, duration_s=args.duration_s, iterations=args.iterations, threads=args.threads,
             figure_copy=args.figure_copy)
    return 0
