"""Launchers: validated tensors in, one output tensor out.

Each launcher classifies the terms of ``act(norm(Σ_t Up(W_t·a_t) + b))``
(dense / fine / coarse, see :mod:`._triton_kernels`), picks block sizes
(:mod:`.heuristics`), allocates the output and launches at most two kernels:
``project_levels_kernel`` for every coarse term together, then
``fused_sum_kernel``. Triton is imported here, inside the functions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .heuristics import choose_blocks, choose_up_mode

#: Activation dtypes the kernels take.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@dataclass
class Term:
    """One input of the sum and its (Cout, C) projection."""

    src: torch.Tensor
    weight: torch.Tensor

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.src.shape[-2]), int(self.src.shape[-1])


def flat_strides(t: torch.Tensor) -> Optional[tuple[int, int, int]]:
    """(batch, channel, pixel) strides if H and W flatten to one pixel axis (NCHW or NHWC), else None."""
    _, _, h, w = t.shape
    sb, sc, sh, sw = t.stride()
    if h == 1 or sh == w * sw:
        return sb, sc, sw
    if w == 1:
        return sb, sc, sh
    return None


def flattenable(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself if its pixels flatten to one axis, else a contiguous copy."""
    return t if flat_strides(t) is not None else t.contiguous()


def is_channels_last(t: torch.Tensor) -> bool:
    """True for an NHWC-strided 4-D tensor that is not also NCHW-contiguous."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def allocate(shape: Sequence[int], dtype: torch.dtype, device: torch.device,
             memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Every buffer the launchers hand to a kernel comes from here (tests poison it with NaN)."""
    return torch.empty(tuple(shape), dtype=dtype, device=device, memory_format=memory_format)


def empty_output(ref: torch.Tensor, c_out: int, hw: Sequence[int]) -> torch.Tensor:
    """The output tensor: ``ref``'s batch, dtype, device and memory format (shared with the fake impls)."""
    fmt = torch.channels_last if is_channels_last(ref) else torch.contiguous_format
    return allocate((ref.shape[0], c_out, int(hw[0]), int(hw[1])), ref.dtype, ref.device, fmt)


def dot_precision(dtype: torch.dtype, device: torch.device) -> str:
    """``tl.dot`` precision for fp32 operands: TF32 exactly when cuDNN may use it for the reference conv."""
    if dtype == torch.float32 and device.type == "cuda" and torch.backends.cudnn.allow_tf32:
        return "tf32"
    return "ieee"


def _device_guard(device: torch.device):
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _project_coarse(kernels, terms: list[Term], c_out: int, precision: str,
                    device_index: Optional[int]) -> list[torch.Tensor]:
    """Launch ``project_levels_kernel`` once for every coarse term; returns the fp32 z_t."""
    ref = terms[0].src
    batch = ref.shape[0]
    npix = [h * w for h, w in (t.hw for t in terms)]
    buffer = allocate((batch * c_out * sum(npix),), torch.float32, ref.device)
    zs, offset = [], 0
    for n in npix:
        zs.append(buffer[offset:offset + batch * c_out * n])
        offset += batch * c_out * n
    cfg = choose_blocks(sum(npix), batch, c_out, max(t.src.shape[1] for t in terms), False, device_index,
                        itemsize=ref.element_size())
    first_block = [0]
    for n in npix:
        first_block.append(first_block[-1] + _cdiv(n, cfg.block_p))
    strides = [flat_strides(t.src) for t in terms]
    grid = (first_block[-1], _cdiv(c_out, cfg.block_co), batch)
    kernels.project_levels_kernel[grid](
        tuple(t.src for t in terms), tuple(t.weight for t in terms), tuple(zs),
        tuple(int(t.src.shape[1]) for t in terms), tuple(npix),
        tuple(s[0] for s in strides), tuple(s[1] for s in strides), tuple(s[2] for s in strides),
        tuple(t.weight.stride(0) for t in terms), tuple(t.weight.stride(1) for t in terms),
        tuple(first_block), c_out,
        NUM_LEVELS=len(terms), BLOCK_P=cfg.block_p, BLOCK_CO=cfg.block_co, BLOCK_K=cfg.block_k,
        PRECISION=precision, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    return zs


def classify_terms(terms: Sequence[Term], c_out: int, out_hw: tuple[int, int], itemsize: int
                   ) -> tuple[list[Term], int, list[Term]]:
    """Split terms into those projected in the fused kernel (dense or "fine") and "coarse" ones.

    Returns:
        (in-kernel terms, bitmask of the in-kernel terms that are sampled, coarse terms).
    """
    in_kernel, up_mask, coarse = [], 0, []
    for term in terms:
        if term.hw == out_hw:
            in_kernel.append(term)
        elif choose_up_mode(term.src.shape[1], c_out, itemsize, term.hw, out_hw) == "fine":
            up_mask |= 1 << len(in_kernel)
            in_kernel.append(term)
        else:
            coarse.append(term)
    return in_kernel, up_mask, coarse


def _device_index(t: torch.Tensor) -> Optional[int]:
    if t.device.type != "cuda":
        return None
    return t.device.index if t.device.index is not None else torch.cuda.current_device()


def fused_sum(terms: Sequence[Term], bias: torch.Tensor, out_hw: Sequence[int], *,
              norm_weight: Optional[torch.Tensor], norm_bias: Optional[torch.Tensor],
              eps: float, act: str) -> torch.Tensor:
    """``act(norm(Σ_t Up(W_t·a_t) + bias))`` with the Triton kernels.

    Args:
        terms: the inputs and their projections; the first has the output size and sets the
            output's dtype, device and memory format. All inputs share dtype, device and batch.
        bias: (Cout,).
        out_hw: output (H, W).
        norm_weight, norm_bias: channel LayerNorm affine, or None for no norm.
        eps: LayerNorm epsilon.
        act: activation name.

    Returns:
        (B, Cout, H, W) tensor.
    """
    from . import _triton_kernels as kernels

    terms = [Term(flattenable(t.src), t.weight) for t in terms]
    ref = terms[0].src
    out_hw = (int(out_hw[0]), int(out_hw[1]))
    c_out = int(bias.shape[0])
    in_kernel, up_mask, coarse = classify_terms(terms, c_out, out_hw, ref.element_size())
    precision = dot_precision(ref.dtype, ref.device)
    with _device_guard(ref.device):
        zs = _project_coarse(kernels, coarse, c_out, precision, _device_index(ref)) if coarse else []
        return _launch_fused(kernels, in_kernel, up_mask, coarse, zs, bias, out_hw, norm_weight, norm_bias,
                             eps, act, precision)


def _launch_fused(kernels, in_kernel: list[Term], up_mask: int, coarse: list[Term], zs: list[torch.Tensor],
                  bias: torch.Tensor, out_hw: tuple[int, int], norm_weight: Optional[torch.Tensor],
                  norm_bias: Optional[torch.Tensor], eps: float, act: str, precision: str) -> torch.Tensor:
    """Allocate the output and launch ``fused_sum_kernel`` once."""
    ref = in_kernel[0].src
    c_out, batch, has_norm = int(bias.shape[0]), int(ref.shape[0]), norm_weight is not None
    cfg = choose_blocks(out_hw[0] * out_hw[1], batch, c_out, max(t.src.shape[1] for t in in_kernel), has_norm,
                        _device_index(ref), fine=up_mask != 0, gathers=up_mask != 0 or bool(coarse),
                        itemsize=ref.element_size())
    one_co_block = cfg.block_co >= c_out
    out = empty_output(ref, c_out, out_hw)
    # the two-pass norm keeps pre-norm values in fp32 scratch unless the output already is fp32
    two_pass_scratch = has_norm and not one_co_block and out.dtype != torch.float32
    tmp = allocate(out.shape, torch.float32, out.device) if two_pass_scratch else out
    if norm_weight is None:
        norm_weight = norm_bias = bias  # never read: HAS_NORM is False
    strides = [flat_strides(t.src) for t in in_kernel]
    grid = (_cdiv(out_hw[0] * out_hw[1], cfg.block_p), 1 if has_norm else _cdiv(c_out, cfg.block_co), batch)
    kernels.fused_sum_kernel[grid](
        out, tmp, bias, norm_weight, norm_bias,
        tuple(t.src for t in in_kernel), tuple(t.weight for t in in_kernel), tuple(zs),
        tuple(int(t.src.shape[1]) for t in in_kernel), tuple(t.hw[0] for t in in_kernel),
        tuple(t.hw[1] for t in in_kernel),
        tuple(t.hw[0] / out_hw[0] for t in in_kernel), tuple(t.hw[1] / out_hw[1] for t in in_kernel),
        tuple(s[0] for s in strides), tuple(s[1] for s in strides), tuple(s[2] for s in strides),
        tuple(t.weight.stride(0) for t in in_kernel), tuple(t.weight.stride(1) for t in in_kernel),
        tuple(t.hw[0] for t in coarse), tuple(t.hw[1] for t in coarse),
        tuple(t.hw[0] / out_hw[0] for t in coarse), tuple(t.hw[1] / out_hw[1] for t in coarse),
        *flat_strides(out), *flat_strides(tmp),
        out_hw[0], out_hw[1], c_out, float(eps),
        NUM_MM=len(in_kernel), MM_UP=up_mask, NUM_Z=len(coarse), HAS_NORM=has_norm,
        ONE_CO_BLOCK=one_co_block, ACT=act,
        BLOCK_P=cfg.block_p, BLOCK_CO=cfg.block_co, BLOCK_K=cfg.block_k, PRECISION=precision,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    return out


def bridge(x: Optional[torch.Tensor], e: torch.Tensor, img: Optional[torch.Tensor],
           wx: Optional[torch.Tensor], we: torch.Tensor, wi: Optional[torch.Tensor], bias: torch.Tensor,
           norm_weight: Optional[torch.Tensor], norm_bias: Optional[torch.Tensor],
           eps: float, act: str) -> torch.Tensor:
    """Re-Shape bridge on the Triton kernels (arguments as :func:`~.reference.bridge_reference`)."""
    terms = [Term(e, we)]
    if img is not None:
        terms.append(Term(img, wi))
    if x is not None:
        terms.append(Term(x, wx))
    return fused_sum(terms, bias, e.shape[-2:], norm_weight=norm_weight, norm_bias=norm_bias, eps=eps, act=act)


def pyramid_output_index(feats: Sequence[torch.Tensor]) -> int:
    """Index of the largest feature (the first of equals): it sets the merge's output size."""
    areas = [int(f.shape[-2]) * int(f.shape[-1]) for f in feats]
    return areas.index(max(areas))


def pyramid_merge(feats: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], bias: torch.Tensor,
                  act: str) -> torch.Tensor:
    """Post Feature Pyramid merge on the Triton kernels (arguments as the reference)."""
    first = pyramid_output_index(feats)
    order = [first] + [i for i in range(len(feats)) if i != first]
    terms = [Term(feats[i], weights[i]) for i in order]
    return fused_sum(terms, bias, feats[first].shape[-2:], norm_weight=None, norm_bias=None, eps=0.0, act=act)
