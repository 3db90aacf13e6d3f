"""Public fused ops and their ``torch.library`` registrations.

``fused_bridge`` / ``fused_pyramid_merge`` check their arguments, pick a backend
(:mod:`.dispatch`) and run either the PyTorch reference or the custom ops
``torch.ops.xnet_edge.fused_bridge`` / ``torch.ops.xnet_edge.fused_pyramid_merge``.
The custom ops wrap the Triton launchers and have fake (meta) implementations,
so ``torch.compile``, CUDA graphs and ``torch.export`` see each as one opaque op.
"""

# No ``from __future__ import annotations``: torch.library infers the op schema from real annotations.

from typing import List, Optional, Sequence

import torch

from ..errors import UsageError
from . import launchers
from .dispatch import select_backend
from .reference import ACTIVATIONS, bridge_reference, pyramid_merge_reference


# ---------------------------------------------------------------------------------------------
# argument checks (shared by both backends, so a mistake fails the same way everywhere)


def _check_features(name: str, t: torch.Tensor) -> None:
    if t.dim() != 4:
        raise UsageError(f"{name} must be a 4-D (B, C, H, W) tensor, got shape {tuple(t.shape)}")
    if t.dtype not in launchers.FLOAT_DTYPES:
        raise UsageError(f"{name} must be float16, bfloat16 or float32, got {t.dtype}")


def _check_projection(name: str, weight: Optional[torch.Tensor], c_out: int, c_in: int) -> None:
    if weight is None:
        raise UsageError(f"{name} is required when its input is given")
    if tuple(weight.shape) != (c_out, c_in):
        raise UsageError(f"{name} must be (Cout, Cin) = ({c_out}, {c_in}), got {tuple(weight.shape)}")


def _check_common(ref: torch.Tensor, others: Sequence[Optional[torch.Tensor]], bias: torch.Tensor,
                  act: str) -> int:
    if act not in ACTIVATIONS:
        raise UsageError(f"unknown activation {act!r}; supported: {', '.join(ACTIVATIONS)}")
    if bias.dim() != 1:
        raise UsageError(f"bias must be 1-D (Cout,), got shape {tuple(bias.shape)}")
    for t in others:
        if t is None:
            continue
        if t.dtype != ref.dtype or t.device != ref.device or t.shape[0] != ref.shape[0]:
            raise UsageError("all inputs must share dtype, device and batch size; got "
                             f"{t.dtype}/{t.device}/B={t.shape[0]} next to {ref.dtype}/{ref.device}/B={ref.shape[0]}")
    return int(bias.shape[0])


def _check_interpretable(ref: torch.Tensor) -> None:
    if ref.dtype == torch.bfloat16 and not ref.is_cuda:
        raise UsageError("bfloat16 runs on CUDA only: the Triton interpreter computes bfloat16 wrongly")


def check_bridge_args(x, e, img, wx, we, wi, bias, norm_weight, norm_bias, act) -> None:
    """Validate :func:`fused_bridge` arguments.

    Raises:
        UsageError: a shape, dtype, device or option that does not fit.
    """
    _check_features("e", e)
    c_out = _check_common(e, (x, img), bias, act)
    _check_projection("we", we, c_out, e.shape[1])
    if x is not None:
        _check_features("x", x)
        _check_projection("wx", wx, c_out, x.shape[1])
    if img is not None:
        _check_features("img", img)
        _check_projection("wi", wi, c_out, img.shape[1])
        if tuple(img.shape[-2:]) != tuple(e.shape[-2:]):
            raise UsageError(f"img must have e's spatial size {tuple(e.shape[-2:])}, got {tuple(img.shape[-2:])}")
    if (norm_weight is None) != (norm_bias is None):
        raise UsageError("norm_weight and norm_bias must be given together")
    if norm_weight is not None and (tuple(norm_weight.shape) != (c_out,) or tuple(norm_bias.shape) != (c_out,)):
        raise UsageError(f"norm_weight and norm_bias must be ({c_out},)")


def check_pyramid_args(feats, weights, bias, act) -> None:
    """Validate :func:`fused_pyramid_merge` arguments.

    Raises:
        UsageError: a shape, dtype, device or option that does not fit.
    """
    if len(feats) == 0 or len(feats) != len(weights):
        raise UsageError(f"need one weight per feature and at least one feature; got {len(feats)} "
                         f"features and {len(weights)} weights")
    for i, f in enumerate(feats):
        _check_features(f"feats[{i}]", f)
    c_out = _check_common(feats[0], feats, bias, act)
    for i, (f, w) in enumerate(zip(feats, weights)):
        _check_projection(f"weights[{i}]", w, c_out, f.shape[1])


# ---------------------------------------------------------------------------------------------
# custom ops


@torch.library.custom_op("xnet_edge::fused_bridge", mutates_args=())
def _bridge_op(x: Optional[torch.Tensor], e: torch.Tensor, img: Optional[torch.Tensor],
               wx: Optional[torch.Tensor], we: torch.Tensor, wi: Optional[torch.Tensor], bias: torch.Tensor,
               norm_weight: Optional[torch.Tensor], norm_bias: Optional[torch.Tensor],
               eps: float, act: str) -> torch.Tensor:
    return launchers.bridge(x, e, img, wx, we, wi, bias, norm_weight, norm_bias, eps, act)


@_bridge_op.register_fake
def _bridge_fake(x, e, img, wx, we, wi, bias, norm_weight, norm_bias, eps, act):
    return launchers.empty_output(e, bias.shape[0], e.shape[-2:])


@torch.library.custom_op("xnet_edge::fused_pyramid_merge", mutates_args=())
def _pyramid_op(feats: List[torch.Tensor], weights: List[torch.Tensor], bias: torch.Tensor,
                act: str) -> torch.Tensor:
    return launchers.pyramid_merge(feats, weights, bias, act)


@_pyramid_op.register_fake
def _pyramid_fake(feats, weights, bias, act):
    finest = feats[launchers.pyramid_output_index(feats)]
    return launchers.empty_output(finest, bias.shape[0], finest.shape[-2:])


# ---------------------------------------------------------------------------------------------
# public API


def fused_bridge(
    x: Optional[torch.Tensor],
    e: torch.Tensor,
    img: Optional[torch.Tensor],
    wx: Optional[torch.Tensor],
    we: torch.Tensor,
    wi: Optional[torch.Tensor],
    bias: torch.Tensor,
    *,
    norm_weight: Optional[torch.Tensor] = None,
    norm_bias: Optional[torch.Tensor] = None,
    eps: float = 1e-6,
    act: str = "gelu",
    backend: str = "auto",
) -> torch.Tensor:
    """Re-Shape bridge ``act(norm(Up(Wx·x) + We·e + Wi·img + b))`` in one fused op.

    Args:
        x: previous decoder output (B, Cx, h, w) at e's size or smaller, or None (deepest level).
        e: encoder feature (B, Ce, H, W); sets the output size, dtype and memory format.
        img: image pooled to (B, 3, H, W), or None.
        wx, we, wi: (Cout, Cx), (Cout, Ce), (Cout, 3) projections; a weight whose input is None is ignored.
        bias: (Cout,) shared bias.
        norm_weight, norm_bias: channel LayerNorm affine parameters, or None (no norm; BatchNorm
            must be folded into the weights and bias beforehand).
        eps: LayerNorm epsilon.
        act: "gelu" (erf), "relu", "relu6", "silu" or "identity".
        backend: "auto" (Triton on CUDA when possible, see :mod:`.dispatch`), "triton" or "torch".

    Returns:
        (B, Cout, H, W) tensor in e's dtype; fp32 accumulation on the Triton path.

    Raises:
        UsageError: mismatched shapes/dtypes/devices, an unknown activation or backend.
        MissingDependencyError: backend="triton" without triton.
    """
    check_bridge_args(x, e, img, wx, we, wi, bias, norm_weight, norm_bias, act)
    params = (x, e, img, wx if x is not None else None, we, wi if img is not None else None, bias,
              norm_weight, norm_bias)
    if select_backend(backend, e, params) == "triton":
        _check_interpretable(e)
        return torch.ops.xnet_edge.fused_bridge(*params, float(eps), act)
    return bridge_reference(x, e, img, wx, we, wi, bias, norm_weight=norm_weight, norm_bias=norm_bias,
                            eps=eps, act=act)


def fused_pyramid_merge(
    feats: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    bias: torch.Tensor,
    *,
    act: str = "identity",
    backend: str = "auto",
) -> torch.Tensor:
    """Post Feature Pyramid ``act(Σ_l Up(W_l·d_l) + b)`` at the largest level's size, fused.

    Two launches at most: every level smaller than 2× (or wide) is projected at its own
    resolution in one launch, then one launch samples, sums, biases and activates.

    Args:
        feats: decoder outputs (B, C_l, H_l, W_l), any order, same dtype and device.
        weights: (Cout, C_l) projection per level.
        bias: (Cout,) bias.
        act: activation name.
        backend: "auto", "triton" or "torch".

    Returns:
        (B, Cout, H_max, W_max) tensor in the features' dtype.

    Raises:
        UsageError: mismatched arguments, an unknown activation or backend.
        MissingDependencyError: backend="triton" without triton.
    """
    feats, weights = list(feats), list(weights)
    check_pyramid_args(feats, weights, bias, act)
    finest = feats[launchers.pyramid_output_index(feats)]
    if select_backend(backend, finest, [*feats, *weights, bias]) == "triton":
        _check_interpretable(finest)
        return torch.ops.xnet_edge.fused_pyramid_merge(feats, weights, bias, act)
    return pyramid_merge_reference(feats, weights, bias, act=act)
