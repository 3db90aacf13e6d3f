"""Kernel tests: compiled Triton on a CUDA machine, Triton's interpreter on the CPU.

``triton.jit`` decides between compiling and interpreting when the kernels
module is imported, so ``TRITON_INTERPRET=1`` is set here, before any test
imports it. Every buffer a launcher allocates is filled with NaN first, so an
element a kernel forgets to write fails the comparison.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from xnet_edge.kernels import launchers  # noqa: E402
from xnet_edge.kernels.heuristics import interpreting  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() and not interpreting() else "cpu"


def _poisoned_allocate(shape, dtype, device, memory_format=torch.contiguous_format):
    return torch.full(tuple(shape), float("nan"), dtype=dtype, device=device).contiguous(
        memory_format=memory_format)


@pytest.fixture(autouse=True)
def poison_buffers(monkeypatch):
    """Launcher outputs and scratch start as NaN."""
    monkeypatch.setattr(launchers, "allocate", _poisoned_allocate)


@pytest.fixture(autouse=True)
def exact_fp32():
    """fp32 comparisons on CUDA use IEEE fp32 on both sides (no TF32 in cuDNN or in tl.dot)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture
def device() -> str:
    """"cuda" (compiled kernels) when a GPU is present and not interpreting, else "cpu"."""
    return DEVICE
