"""PyTorch reference for the two ×Net bridge ops (docs/design.md, "The model").

Re-Shape bridge::

    y = act( norm( Up(Wx·x) + We·e + Wi·img + b ) )

Post Feature Pyramid merge::

    p = act( Σ_l Up(W_l·d_l) + b )

W· are 1×1 projections given as (Cout, Cin) matrices; Up is bilinear with
align_corners=False to the target size. Because bilinear weights sum to one,
``Up(W·x) == W·Up(x)``, so projections run at the coarse resolution. These
functions use only ops that export to ONNX (Conv, Resize, LayerNormalization).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

#: Activations the bridge ops support, by name.
ACTIVATIONS = ("gelu", "relu", "relu6", "silu", "identity")


def apply_activation(y: torch.Tensor, act: str) -> torch.Tensor:
    """Apply the named activation (GELU uses the exact erf form)."""
    if act == "gelu":
        return F.gelu(y)
    if act == "relu":
        return F.relu(y)
    if act == "relu6":
        return F.relu6(y)
    if act == "silu":
        return F.silu(y)
    if act == "identity":
        return y
    raise ValueError(f"unknown activation {act!r}; supported: {', '.join(ACTIVATIONS)}")


def project(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """1×1 projection of an NCHW tensor by a (Cout, Cin) matrix."""
    return F.conv2d(x, weight[:, :, None, None])


def upsample_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False); identity when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def channel_layer_norm(y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm over the channel axis of an NCHW tensor (ConvNeXt's LayerNorm2d)."""
    y = y.permute(0, 2, 3, 1)
    y = F.layer_norm(y, (y.shape[-1],), weight, bias, eps)
    return y.permute(0, 3, 1, 2)


def bridge_reference(
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
) -> torch.Tensor:
    """Re-Shape bridge: ``act(norm(Up(Wx·x) + We·e + Wi·img + b))``.

    Args:
        x: previous decoder output (B, Cx, h, w), or None at the deepest level.
        e: encoder feature (B, Ce, H, W); sets the output size.
        img: image pooled to (B, 3, H, W), or None.
        wx, we, wi: (Cout, Cx), (Cout, Ce), (Cout, 3) projections (wx/wi None with x/img).
        bias: (Cout,) shared bias.
        norm_weight, norm_bias: channel LayerNorm affine parameters; None means no norm
            (BatchNorm is folded into the weights and bias beforehand).
        eps: LayerNorm epsilon.
        act: one of :data:`ACTIVATIONS`.

    Returns:
        (B, Cout, H, W) tensor.
    """
    y = project(e, we)
    if img is not None:
        y = y + project(img, wi)
    if x is not None:
        y = y + upsample_to(project(x, wx), y.shape[-2:])
    y = y + bias[None, :, None, None]
    if norm_weight is not None:
        y = channel_layer_norm(y, norm_weight, norm_bias, eps)
    return apply_activation(y, act)


def pyramid_merge_reference(
    feats: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    bias: torch.Tensor,
    *,
    act: str = "identity",
) -> torch.Tensor:
    """Post Feature Pyramid: ``act(Σ_l Up(W_l·d_l) + b)`` at the finest level's size.

    Args:
        feats: decoder outputs (B, C_l, H_l, W_l), any order.
        weights: (Cout, C_l) projection per level.
        bias: (Cout,) bias.
        act: one of :data:`ACTIVATIONS`.

    Returns:
        (B, Cout, H_max, W_max) tensor, at the size of the largest feature.
    """
    size = max((f.shape[-2:] for f in feats), key=lambda s: s[0] * s[1])
    total = None
    for feat, weight in zip(feats, weights):
        term = upsample_to(project(feat, weight), size)
        total = term if total is None else total + term
    return apply_activation(total + bias[None, :, None, None], act)
