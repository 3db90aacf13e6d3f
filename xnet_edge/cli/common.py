"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import math

from ..preprocess import size_arg


def positive_int(text: str) -> int:
    """argparse ``type=`` for a whole number >= 1 (errors exit 2 via argparse)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def thread_count(text: str) -> int:
    """argparse ``type=`` for a thread count: a whole number >= 1 within this machine's bound."""
    from ..limits import thread_count_problem

    value = positive_int(text)
    problem = thread_count_problem(value, allow_zero=False)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


#: ``xnet-edge build`` / ``bundle`` flags: (flag, BuildOptions field, argparse keywords); a bundle
#: leaves out the ones it cannot carry (BUILD_ONLY)
BUILD_ARGUMENTS = (
    ("--precision", "precision", dict(help="fp32, fp16, int8 or best (default: int8 for a Q/DQ model, fp16 for an "
                                           "FP16 model, else the target's default)")),
    ("--dla", "dla", dict(type=int, metavar="N", help="run on DLA core N with GPU fallback (Jetson)")),
    ("--workspace", "workspace_mb", dict(type=int, metavar="MB", help="TensorRT workspace limit in MiB")),
    ("--timing-cache", "timing_cache", dict(metavar="PATH", help="TensorRT timing cache, loaded and saved "
                                            "(default: ~/.cache/xnet-edge/timing/, per TensorRT version and GPU)")),
    ("--opt-level", "opt_level", dict(type=int, metavar="N", help="TensorRT builder optimization level 0-5; "
                                      "cpu: ONNX Runtime level 0-3 (default 2, extended)")),
    ("--calibration-cache", "calibration_cache", dict(metavar="PATH", help="TensorRT calibration cache for legacy "
                                                      "INT8 of an FP32 model (TensorRT 8/10)")),
    ("--calibration-images", "calibration_images", dict(metavar="DIR", help="calibrate legacy INT8 on these images "
                                                        "(TensorRT 10, IInt8EntropyCalibrator2)")),
    ("--max-batch", "max_batch", dict(type=int, metavar="N", help="largest batch of the profile for a dynamic batch")),
    ("--threads", "threads", dict(type=int, default=0, metavar="N",
                                  help="cpu: ONNX Runtime intra-op threads recorded for the runtime (0: its default)")),
)
BUILD_ONLY = ("timing_cache", "calibration_images")


def add_build_arguments(parser: argparse.ArgumentParser, *, bundle: bool = False) -> None:
    """The :class:`~xnet_edge.engine.build_options.BuildOptions` flags of ``build`` (``bundle=True``: of ``bundle``)."""
    from ..targets import PRECISIONS

    for flag, name, keywords in BUILD_ARGUMENTS:
        if bundle and name in BUILD_ONLY:
            continue
        extra = {"choices": PRECISIONS} if name == "precision" else {}
        parser.add_argument(flag, dest=name, **keywords, **extra)


def build_options(args: argparse.Namespace):
    """The :class:`~xnet_edge.engine.build_options.BuildOptions` of the flags :func:`add_build_arguments` added.

    Raises:
        UsageError: an invalid value (exit 2), from ``BuildOptions``.
    """
    from ..engine.build_options import BuildOptions

    return BuildOptions(**{name: getattr(args, name) for _, name, _ in BUILD_ARGUMENTS if hasattr(args, name)})


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``runtime`` argument group shared by the commands that open a :class:`~xnet_edge.runtime.Runtime`."""
    from ..runtime.runtime_options import BACKENDS

    rt = parser.add_argument_group("runtime")
    rt.add_argument("--backend", default="auto", choices=list(BACKENDS),
                    help="auto (by artifact), onnxruntime, tensorrt or torch")
    rt.add_argument("--providers", help="ONNX Runtime providers: cpu (default), cuda, tensorrt, auto, or a list")
    rt.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: manifest's, else all cores)")
    rt.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (PyTorch; TensorRT uses N)")
    rt.add_argument("--cuda-graph", action="store_true", help="TensorRT: capture and replay a CUDA graph")
    rt.add_argument("--input-size", type=size_arg, metavar="HxW", help="network input for dynamic-size models")
    rt.add_argument("--no-check", action="store_true",
                    help="skip the engine's hash and machine compatibility checks (not recommended)")


def runtime_options(args: argparse.Namespace):
    """The :class:`~xnet_edge.runtime.runtime_options.RuntimeOptions` of the arguments :func:`add_runtime_arguments` added.

    Raises:
        UsageError: an invalid value (exit 2), from ``RuntimeOptions``.
    """
    from ..runtime.runtime_options import RuntimeOptions

    return RuntimeOptions(backend=args.backend, providers=args.providers, threads=args.threads, device=args.device,
                          cuda_graph=args.cuda_graph, input_size=args.input_size, check=not args.no_check)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse ``type=`` for a finite number >= 0 (nan, inf and negatives exit 2 via argparse)."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse ``type=`` for a finite number > 0 (errors exit 2 via argparse)."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def require_torch(command: str) -> None:
    """Fail early, with one line naming the ``torch`` extra, when PyTorch is not installed.

    Args:
        command: the sub-command, for the message (``"export"``).

    Raises:
        MissingDependencyError: torch, timm, safetensors or onnxscript is missing.
    """
    from .._deps import TORCH_EXTRA, require_extra

    require_extra(TORCH_EXTRA, f"xnet-edge {command}")
