"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import math

from ..errors import UsageError
from ..preprocess import parse_size
from ..tables import print_table  # noqa: F401  (the commands print their tables through here)


def size_arg(text: str) -> tuple[int, int]:
    """argparse ``type=`` wrapper around :func:`xnet_edge.preprocess.parse_size` (errors exit 2 via argparse)."""
    try:
        return parse_size(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """argparse ``type=`` for a whole number >= 1 (errors exit 2 via argparse)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``runtime`` argument group shared by the commands that open a :class:`~xnet_edge.runtime.Runtime`."""
    from ..runtime.artifact import BACKENDS

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


def runtime_options(args: argparse.Namespace) -> dict:
    """``Runtime`` keyword options from the arguments :func:`add_runtime_arguments` added."""
    return dict(backend=args.backend, providers=args.providers, threads=args.threads, device=args.device,
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
