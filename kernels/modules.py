"""Fused drop-in modules for ×Net's Re-Shape bridges and Post Feature Pyramid.

:class:`FusedBridge` and :class:`FusedPyramidMerge` subclass the model's
:class:`~xnet_edge.models.bridge.Bridge` and
:class:`~xnet_edge.models.bridge.PyramidMerge` and hold the *same* Parameter
and sub-module objects under the same names, so ``state_dict`` keys,
checkpoints and parameter sharing are unchanged. Each call picks its path:
the fused op when :func:`~.dispatch.select_backend` chooses Triton and the
module is in eval mode, otherwise the original module's forward (bit-identical
to the unfused model). BatchNorm is folded into W and b once and re-folded
when any source tensor changes (its version counter or storage moves).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from ..errors import UsageError
from ..models.bridge import Bridge, PyramidMerge
from .dispatch import BACKENDS, select_backend
from .ops import fused_bridge, fused_pyramid_merge


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    return backend


def _version(t: torch.Tensor) -> int:
    """The tensor's in-place version counter; inference tensors have none (they change only by
    storage swaps, which the data pointer in the cache key catches)."""
    return -1 if t.is_inference() else t._version


class FusedBridge(Bridge):
    """A :class:`Bridge` that runs :func:`~.ops.fused_bridge` in eval mode.

    Args:
        bridge: the module to wrap; its parameters and norm module are shared, not copied.
        backend: "auto", "triton" or "torch" (see :mod:`.dispatch`).
    """

    def __init__(self, bridge: Bridge, backend: str = "auto"):
        nn.Module.__init__(self)
        for name in ("wx", "we", "wi", "bias"):
            self.register_parameter(name, getattr(bridge, name))
        self.norm = bridge.norm
        self.norm_kind = bridge.norm_kind
        self.act = bridge.act
        self.out_channels = bridge.out_channels
        self.backend = _check_backend(backend)
        self.train(bridge.training)
        self._folded: Optional[dict] = None
        self._folded_key: Optional[tuple] = None

    def _fold_sources(self) -> list[torch.Tensor]:
        bn = self.norm
        tensors = [self.wx, self.we, self.wi, self.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var]
        return [t for t in tensors if t is not None]

    def fused_arguments(self) -> dict:
        """Parameters for the fused op (BatchNorm folded, cached until a source tensor changes)."""
        if self.norm_kind != "batchnorm":
            return self.fused_parameters()
        if torch.compiler.is_compiling():
            return self.fused_parameters()  # traced: folding becomes part of the graph
        key = tuple((t.data_ptr(), _version(t)) for t in self._fold_sources())
        if key != self._folded_key:
            self._folded = self.fused_parameters()
            self._folded_key = key
        return self._folded

    def forward(self, x: Optional[torch.Tensor], e: torch.Tensor, img: Optional[torch.Tensor]) -> torch.Tensor:
        img = img if self.wi is not None else None
        if self.training or select_backend(self.backend, e, (x, e, img, *self.parameters())) != "triton":
            return super().forward(x, e, img)
        p = self.fused_arguments()
        return fused_bridge(x, e, img, p["wx"], p["we"], p["wi"], p["bias"], norm_weight=p["norm_weight"],
                            norm_bias=p["norm_bias"], eps=p["eps"], act=p["act"], backend="triton")

    def extra_repr(self) -> str:
        return f"norm={self.norm_kind}, act={self.act}, backend={self.backend}"


class FusedPyramidMerge(PyramidMerge):
    """A :class:`PyramidMerge` that runs :func:`~.ops.fused_pyramid_merge` in eval mode.

    Args:
        pyramid: the module to wrap; its weights and bias are shared, not copied.
        backend: "auto", "triton" or "torch".
    """

    def __init__(self, pyramid: PyramidMerge, backend: str = "auto"):
        nn.Module.__init__(self)
        self.weights = pyramid.weights
        self.bias = pyramid.bias
        self.act = pyramid.act
        self.out_channels = pyramid.out_channels
        self.backend = _check_backend(backend)
        self.train(pyramid.training)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        weights = list(self.weights)
        finest = max(feats, key=lambda f: f.shape[-2] * f.shape[-1])
        if self.training or select_backend(self.backend, finest, (*feats, *weights, self.bias)) != "triton":
            return super().forward(feats)
        return fused_pyramid_merge(feats, weights, self.bias, act=self.act, backend="triton")

    def extra_repr(self) -> str:
        return f"act={self.act}, backend={self.backend}"


def fuse_model(model: nn.Module, backend: str = "auto") -> nn.Module:
    """Swap ``model.bridges[i]`` and ``model.pyramid`` for fused modules sharing their parameters.

    Idempotent: already-fused modules get the new ``backend``. Outputs match the unfused
    model (exactly on the reference path; to kernel tolerance on the Triton path).

    Args:
        model: an :class:`~xnet_edge.models.xnet.XNet` (anything with ``bridges`` and ``pyramid``).
        backend: "auto", "triton" or "torch", applied to every fused module.

    Returns:
        ``model``, modified in place.

    Raises:
        UsageError: the model has no bridges/pyramid, or an unknown backend.
    """
    _check_backend(backend)
    if not isinstance(getattr(model, "bridges", None), nn.ModuleList) or not hasattr(model, "pyramid"):
        raise UsageError(f"{type(model).__name__} has no ×Net bridges/pyramid to fuse")
    for i, bridge in enumerate(model.bridges):
        if isinstance(bridge, FusedBridge):
            bridge.backend = backend
        elif isinstance(bridge, Bridge):
            model.bridges[i] = FusedBridge(bridge, backend)
    if isinstance(model.pyramid, FusedPyramidMerge):
        model.pyramid.backend = backend
    elif isinstance(model.pyramid, PyramidMerge):
        model.pyramid = FusedPyramidMerge(model.pyramid, backend)
    return model


def is_fused(model: nn.Module) -> bool:
    """True if every bridge and the pyramid of ``model`` are fused modules."""
    bridges = getattr(model, "bridges", [])
    return (len(bridges) > 0 and all(isinstance(b, FusedBridge) for b in bridges)
            and isinstance(getattr(model, "pyramid", None), FusedPyramidMerge))
