"""Measure a model's size and cost: parameters, FLOPs and CPU latency (computed, never tabulated)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class ModelProfile:
    """Cost of one variant at one input size (batch 1)."""

    name: str
    params_m: float
    gflops: float
    latency_ms: float
    input_size: tuple[int, int]

    def row(self) -> dict:
        return {"model": self.name, "params (M)": f"{self.params_m:.2f}", "GFLOPs": f"{self.gflops:.2f}",
                "CPU latency (ms)": f"{self.latency_ms:.1f}",
                "input": f"{self.input_size[0]}x{self.input_size[1]}"}


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass (a multiply-add counts as 2), from PyTorch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(x)
    return int(counter.get_total_flops())


def cpu_latency_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock latency of ``model(x)`` in milliseconds."""
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def profile_model(name: str, input_size: Optional[tuple[int, int]] = None, repeats: int = 5) -> ModelProfile:
    """Build ``name`` with random weights and measure it at ``input_size`` on the CPU.

    Args:
        name: a registered variant.
        input_size: (H, W); None measures the variant at its own default input size
            (``xnet_lite0_outdoor`` at 256x832).
        repeats: timed runs (the median is reported).

    Returns:
        The variant's :class:`ModelProfile`.

    Raises:
        UsageError: unknown variant. InputSizeError: size not a multiple of the stride.
    """
    from ..preprocess import check_input_size
    from .registry import create_model

    model = create_model(name).eval()
    input_size = tuple(input_size or model.config.input_size)
    check_input_size(*input_size, model.output_stride)
    x = torch.randn(1, 3, *input_size)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return ModelProfile(name, params, count_flops(model, x) / 1e9, cpu_latency_ms(model, x, repeats), input_size)
