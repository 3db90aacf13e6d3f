"""Re-Shape bridge and Post Feature Pyramid modules (plain PyTorch).

Parameters are kept in the exact form of the formulas in docs/design.md (Wx, We,
Wi, b, norm, act) so that the fused Triton ops can take them unchanged.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from ..errors import UsageError
from ..kernels.reference import ACTIVATIONS, apply_activation, bridge_reference, pyramid_merge_reference

NORMS = ("layernorm", "batchnorm", "none")


def _check_choice(kind: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise UsageError(f"unknown {kind} {value!r}; choose one of: {', '.join(choices)}")


def _projection(out_chs: int, in_chs: int) -> nn.Parameter:
    weight = torch.empty(out_chs, in_chs)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Conv2d's default init for a 1×1 conv
    return nn.Parameter(weight)


class ChannelLayerNorm(nn.Module):
    """Affine LayerNorm over channels of an NCHW tensor (parameters only; applied by the op)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps


class Bridge(nn.Module):
    """Re-Shape: ``y = act(norm(Up(Wx·x) + We·e + Wi·img + b))``.

    Args:
        x_channels: channels of the previous decoder output, or None at the deepest level.
        e_channels: channels of the encoder feature at this level.
        out_channels: input channels the next decoder stage expects.
        use_image: mix in the pooled 3-channel image (Wi).
        norm: "layernorm" (ConvNeXt decoders), "batchnorm" (folded into W, b for inference) or "none".
        act: decoder family activation, one of ``ACTIVATIONS``.
    """

    def __init__(self, x_channels: Optional[int], e_channels: int, out_channels: int, *,
                 use_image: bool = True, norm: str = "batchnorm", act: str = "relu6", eps: float = 1e-6):
        super().__init__()
        _check_choice("bridge norm", norm, NORMS)
        _check_choice("activation", act, ACTIVATIONS)
        self.wx = _projection(out_channels, x_channels) if x_channels else None
        self.we = _projection(out_channels, e_channels)
        self.wi = _projection(out_channels, 3) if use_image else None
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.norm_kind = norm
        if norm == "layernorm":
            self.norm = ChannelLayerNorm(out_channels, eps)
        elif norm == "batchnorm":
            self.norm = nn.BatchNorm2d(out_channels, eps=1e-3)
        else:
            self.norm = nn.Identity()
        self.act = act
        self.out_channels = out_channels

    def forward(self, x: Optional[torch.Tensor], e: torch.Tensor, img: Optional[torch.Tensor]) -> torch.Tensor:
        img = img if self.wi is not None else None
        if self.norm_kind == "batchnorm":
            y = bridge_reference(x, e, img, self.wx, self.we, self.wi, self.bias, act="identity")
            return apply_activation(self.norm(y), self.act)
        ln = self.norm if self.norm_kind == "layernorm" else None
        return bridge_reference(
            x, e, img, self.wx, self.we, self.wi, self.bias,
            norm_weight=ln.weight if ln is not None else None,
            norm_bias=ln.bias if ln is not None else None,
            eps=ln.eps if ln is not None else 1e-6, act=self.act)

    @torch.no_grad()
    def fused_parameters(self) -> dict:
        """Parameters for the fused op, with BatchNorm (running stats) folded into W and b.

        Returns:
            dict with keys wx, we, wi, bias, norm_weight, norm_bias, eps, act.
        """
        wx, we, wi, bias = self.wx, self.we, self.wi, self.bias
        norm_weight = norm_bias = None
        eps = 1e-6
        if self.norm_kind == "batchnorm":
            bn = self.norm
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            wx = wx * scale[:, None] if wx is not None else None
            we = we * scale[:, None]
            wi = wi * scale[:, None] if wi is not None else None
            bias = (bias - bn.running_mean) * scale + bn.bias
        elif self.norm_kind == "layernorm":
            norm_weight, norm_bias, eps = self.norm.weight, self.norm.bias, self.norm.eps
        return dict(wx=wx, we=we, wi=wi, bias=bias, norm_weight=norm_weight,
                    norm_bias=norm_bias, eps=eps, act=self.act)


class PyramidMerge(nn.Module):
    """Post Feature Pyramid: ``p = act(Σ_l Up(W_l·d_l) + b)`` at the finest level.

    Args:
        in_channels: channels of each decoder stage output, in the order given to forward.
        width: common output width.
        act: activation, one of ``ACTIVATIONS``.
    """

    def __init__(self, in_channels: Sequence[int], width: int, act: str = "identity"):
        super().__init__()
        _check_choice("activation", act, ACTIVATIONS)
        self.weights = nn.ParameterList([_projection(width, c) for c in in_channels])
        self.bias = nn.Parameter(torch.zeros(width))
        self.act = act
        self.out_channels = width

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return pyramid_merge_reference(feats, list(self.weights), self.bias, act=self.act)
