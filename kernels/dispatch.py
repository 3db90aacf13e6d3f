"""Which implementation runs: the exportable switch and backend selection.

``backend="auto"`` runs the Triton kernels only when all of these hold, and the
PyTorch reference otherwise:

* the tensors are on a CUDA device and Triton is installed;
* no gradient is needed (the fused ops have no backward);
* the exportable switch is off and no ONNX export is in progress.

``backend="triton"`` forces the kernels (on CPU tensors only under
``TRITON_INTERPRET=1``); ``backend="torch"`` forces the reference. The
exportable switch and a running ONNX export override every backend: ONNX has
no Triton op, so export always traces the reference ops.

The exportable switch follows timm's ``set_exportable`` / ``is_exportable``.
Nothing here imports triton: availability is looked up with ``find_spec``.
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Iterable, Iterator, Optional

import torch

from .._deps import _EXTRAS
from ..errors import MissingDependencyError, UsageError
from .heuristics import interpreting

#: Values the ``backend`` argument takes.
BACKENDS = ("auto", "triton", "torch")

_EXPORTABLE = [False]
_TRITON_INSTALLED = importlib.util.find_spec("triton") is not None


def is_exportable() -> bool:
    """True while modules and ``backend="auto"`` must use the exportable reference ops."""
    return _EXPORTABLE[0]


def set_exportable(value: bool = True) -> None:
    """Turn the exportable switch on (ONNX export: reference ops only) or off."""
    _EXPORTABLE[0] = bool(value)


@contextlib.contextmanager
def exportable(value: bool = True) -> Iterator[None]:
    """Context manager form of :func:`set_exportable`; restores the previous value."""
    saved = _EXPORTABLE[0]
    _EXPORTABLE[0] = bool(value)
    try:
        yield
    finally:
        _EXPORTABLE[0] = saved


def _needs_grad(tensors: Iterable[Optional[torch.Tensor]]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _exporting() -> bool:
    return _EXPORTABLE[0] or torch.onnx.is_in_onnx_export()


def select_backend(backend: str, ref: torch.Tensor, tensors: Iterable[Optional[torch.Tensor]]) -> str:
    """Resolve ``backend`` to "triton" or "torch" for one call.

    Args:
        backend: "auto", "triton" or "torch".
        ref: the tensor whose device decides (the encoder feature / finest feature).
        tensors: every tensor argument (inputs and parameters), for the gradient check.

    Returns:
        "triton" or "torch" ("torch" whenever exporting).

    Raises:
        UsageError: unknown backend; "triton" on CPU tensors without ``TRITON_INTERPRET=1``;
            "triton" when a gradient is needed.
        MissingDependencyError: "triton" without triton installed.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "torch" or _exporting():
        return "torch"
    if backend == "auto":
        use = ref.is_cuda and _TRITON_INSTALLED and not _needs_grad(tensors)
        return "triton" if use else "torch"
    if not _TRITON_INSTALLED:
        raise MissingDependencyError("triton", *_EXTRAS["triton"])
    if not ref.is_cuda and not interpreting():
        raise UsageError("backend='triton' needs CUDA tensors, or TRITON_INTERPRET=1 set before triton "
                         "is imported to run the kernels on the CPU")
    if _needs_grad(tensors):
        raise UsageError("the fused Triton ops have no backward: run under torch.no_grad() / "
                         "torch.inference_mode(), or use backend='torch'")
    return "triton"
