"""Block sizes and launch settings for the fused bridge kernels.

The fused ops are per-pixel matmuls (K = input channels, N = output channels)
over a few thousand to a few hundred thousand pixels, so they are memory- or
launch-bound, not compute-bound. The heuristic below therefore optimizes for
*enough programs to fill the GPU* and *one pass over memory*, not for MMA
efficiency; it is deterministic (no timing at first call, so CUDA-graph
capture and ``torch.compile`` see a fixed launch). ``benchmarks/bench_kernels.py
--sweep`` times the alternatives on a real GPU to check the choice.

GPU rules (checked for registers and spills by compiling every real launch of
``xnet_lite0`` and ``xnet_convnext_tiny`` for sm_90 with :mod:`.aot`; see docs/kernels.md):

* tile budget (fp32 accumulator elements ``BLOCK_P × BLOCK_CO``): 4096 for
  fp16/bf16 activations, 2048 for fp32 (operand tiles take twice the
  registers), halved again when the kernel samples a smaller term (each
  sampled term holds four gathered tiles).
* ``BLOCK_K``  = next power of two of the widest input, clamped to [16, 128 bytes]
  (64 fp16/bf16 or 32 fp32 channels); 16 when the kernel samples a smaller
  input and projects it ("fine"), whose four gathered [P, K] slabs dominate.
* ``BLOCK_CO`` = next power of two of Cout, clamped to [16, 128], with a channel
  LayerNorm to [16, 256], and to budget/16 either way; a norm whose Cout fits
  keeps a whole pixel row in registers (one pass), wider ones loop over Cout
  chunks in two passes.
* ``BLOCK_P``  = 128 output pixels, halved (down to 32) until the grid has at
  least two programs per SM, then (down to 16) until the tile fits the budget.
* ``num_warps`` = 8 for tiles of 1024 elements or more, else 4;
  ``num_stages`` = 2 (the K loops are short).

Under ``TRITON_INTERPRET=1`` every program is run by NumPy on the CPU, where the
cost is per program, not per element: blocks are made as large as the shape
(capped), so a test launch runs a handful of programs.

An input smaller than the output is either sampled and projected inside the
fused kernel ("fine") or projected at its own resolution first ("coarse", one
extra launch for all such inputs). :func:`choose_up_mode` compares what each
costs per output pixel: the fine path gathers 4 taps × C_in input values, the
coarse path 4 taps × Cout fp32 projected values (and writes/reads the fp32
projection once). Fine wins for thin inputs at most 2× smaller per side
(a 2× bridge whose Cx is small); deep pyramid levels (4–16× smaller, hundreds
of channels) always go coarse, where projecting first saves 16–256× the FLOPs.

Tests pin smaller blocks with :func:`override_blocks` (and a mode with
:func:`override_up_mode`) to exercise masking, the K loop, the two-pass
LayerNorm and both sampling paths on tiny shapes.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, replace
from typing import Iterator, Optional

#: Largest channel chunk a single-pass LayerNorm keeps in registers on a GPU.
MAX_NORM_BLOCK_CO = 256
#: Bytes of one K step per operand row (64 fp16 / 32 fp32 channels).
MAX_K_BYTES = 128
#: Largest fp32 accumulator tile (BLOCK_P × BLOCK_CO) on a GPU for 2-byte activations: 16 elements per
#: thread at 8 warps; half that for fp32 activations, whose operand tiles are twice the registers.
MAX_GPU_TILE = 4096
#: Caps for the interpreter (NumPy arrays, not registers).
MAX_INTERPRET_P = 4096
MAX_INTERPRET_CH = 1024

#: How an input smaller than the output reaches it (see the module docstring).
UP_MODES = ("fine", "coarse")

_OVERRIDE: dict = {}
_UP_MODE_OVERRIDE: list = [None]
_ASSUMED_SMS: list = [None]


@dataclass(frozen=True)
class BlockConfig:
    """Launch configuration of one fused kernel.

    Attributes:
        block_p: output pixels per program.
        block_co: output channels per chunk.
        block_k: input channels per ``tl.dot`` step.
        num_warps: warps per program (ignored by the interpreter).
        num_stages: software-pipeline depth of the K loop.
    """

    block_p: int
    block_co: int
    block_k: int
    num_warps: int = 4
    num_stages: int = 2


def next_pow2(n: int) -> int:
    """Smallest power of two ≥ ``n`` (1 for n ≤ 1)."""
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def interpreting() -> bool:
    """True when Triton runs kernels in its NumPy interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@functools.lru_cache(maxsize=None)
def _sm_count(device_index: int) -> int:
    import torch

    return torch.cuda.get_device_properties(device_index).multi_processor_count


def gpu_blocks(npix: int, batch: int, c_out: int, c_in_max: int, has_norm: bool, sm_count: int, *,
               fine: bool = False, gathers: bool = False, itemsize: int = 2) -> BlockConfig:
    """The GPU heuristic (see the module docstring).

    Args:
        npix: output pixels per image (H·W).
        batch: images.
        c_out: output channels.
        c_in_max: widest input projected inside the kernel (0 if none).
        has_norm: a channel LayerNorm follows the sum.
        sm_count: streaming multiprocessors on the device.
        fine: the kernel samples a smaller input and projects it (four gathered [P, K] slabs per K step).
        gathers: the kernel samples any smaller term, fine or coarse (four gathered tiles each).
        itemsize: bytes per activation element.

    Returns:
        The launch configuration.
    """
    tile = MAX_GPU_TILE * 2 // max(itemsize, 2)  # fp32 operands: half the tile
    if fine or gathers:
        tile //= 2
    block_k = 16 if fine else _clamp(next_pow2(c_in_max), 16, MAX_K_BYTES // itemsize)
    block_co = _clamp(next_pow2(c_out), 16, min(MAX_NORM_BLOCK_CO if has_norm else 128, tile // 16))
    co_programs = 1 if has_norm else -(-c_out // block_co)
    block_p = 128
    while block_p > 32 and (-(-npix // block_p)) * batch * co_programs < 2 * sm_count:
        block_p //= 2
    while block_p > 16 and block_p * block_co > tile:
        block_p //= 2
    num_warps = 8 if block_p * block_co >= MAX_GPU_TILE // 4 else 4
    return BlockConfig(block_p, block_co, block_k, num_warps=num_warps, num_stages=2)


def interpreter_blocks(npix: int, c_out: int, c_in_max: int) -> BlockConfig:
    """Few, large programs: the interpreter's cost is per program, not per element."""
    return BlockConfig(
        block_p=_clamp(next_pow2(npix), 16, MAX_INTERPRET_P),
        block_co=_clamp(next_pow2(c_out), 16, MAX_INTERPRET_CH),
        block_k=_clamp(next_pow2(c_in_max), 16, MAX_INTERPRET_CH),
        num_warps=4,
        num_stages=1,
    )


def choose_blocks(npix: int, batch: int, c_out: int, c_in_max: int, has_norm: bool,
                  device_index: Optional[int], *, fine: bool = False, gathers: bool = False,
                  itemsize: int = 2) -> BlockConfig:
    """Block sizes for one launch; honours :func:`override_blocks` and :func:`assume_gpu`.

    Args:
        npix: output pixels per image.
        batch: images.
        c_out: output channels.
        c_in_max: widest input projected inside the kernel.
        has_norm: a channel LayerNorm follows.
        device_index: CUDA device index, or None for CPU tensors (interpreter).
        fine, gathers, itemsize: as :func:`gpu_blocks`.

    Returns:
        The launch configuration.
    """
    if _ASSUMED_SMS[0] is not None:
        config = gpu_blocks(npix, batch, c_out, c_in_max, has_norm, _ASSUMED_SMS[0], fine=fine, gathers=gathers,
                            itemsize=itemsize)
    elif device_index is None or interpreting():
        config = interpreter_blocks(npix, c_out, c_in_max)
    else:
        config = gpu_blocks(npix, batch, c_out, c_in_max, has_norm, _sm_count(device_index), fine=fine,
                            gathers=gathers, itemsize=itemsize)
    return replace(config, **_OVERRIDE) if _OVERRIDE else config


@contextlib.contextmanager
def assume_gpu(sm_count: int) -> Iterator[None]:
    """Use the GPU heuristic for a GPU with ``sm_count`` SMs, whatever the tensors' device
    (ahead-of-time compilation on a machine without one, see :mod:`.aot`)."""
    saved = _ASSUMED_SMS[0]
    _ASSUMED_SMS[0] = int(sm_count)
    try:
        yield
    finally:
        _ASSUMED_SMS[0] = saved


@contextlib.contextmanager
def override_blocks(**fields) -> Iterator[None]:
    """Pin block sizes (e.g. ``block_p=16``) for launches inside the block; for tests and sweeps.

    Raises:
        ValueError: a field that is not a :class:`BlockConfig` field, or a block that is
            not a power of two ≥ 16.
    """
    valid = set(BlockConfig.__dataclass_fields__)
    unknown = sorted(set(fields) - valid)
    if unknown:
        raise ValueError(f"unknown block field(s) {unknown}; valid: {sorted(valid)}")
    for name in ("block_p", "block_co", "block_k"):
        value = fields.get(name)
        if value is not None and (value < 16 or value & (value - 1)):
            raise ValueError(f"{name} must be a power of two ≥ 16, got {value}")
    saved = dict(_OVERRIDE)
    _OVERRIDE.update(fields)
    try:
        yield
    finally:
        _OVERRIDE.clear()
        _OVERRIDE.update(saved)


def choose_up_mode(c_in: int, c_out: int, itemsize: int, src_hw: tuple, out_hw: tuple) -> str:
    """Pick "fine" (sample then project, in the fused kernel) or "coarse" (project first).

    Args:
        c_in: channels of the smaller input.
        c_out: output channels.
        itemsize: bytes per input element.
        src_hw: the input's (h, w).
        out_hw: the output's (H, W).

    Returns:
        "fine" or "coarse"; :func:`override_up_mode` wins when set.
    """
    if _UP_MODE_OVERRIDE[0] is not None:
        return _UP_MODE_OVERRIDE[0]
    at_most_2x = out_hw[0] <= 2 * src_hw[0] and out_hw[1] <= 2 * src_hw[1]
    thin = c_in * itemsize <= c_out * 4  # fine gathers C_in·itemsize, coarse Cout·4 bytes per tap
    return "fine" if at_most_2x and thin else "coarse"


@contextlib.contextmanager
def override_up_mode(mode: Optional[str]) -> Iterator[None]:
    """Force every smaller input through the "fine" or "coarse" path (None: heuristic).

    Raises:
        ValueError: an unknown mode.
    """
    if mode is not None and mode not in UP_MODES:
        raise ValueError(f"unknown up mode {mode!r}; choose one of {UP_MODES}")
    saved = _UP_MODE_OVERRIDE[0]
    _UP_MODE_OVERRIDE[0] = mode
    try:
        yield
    finally:
        _UP_MODE_OVERRIDE[0] = saved
