"""Learning-rate schedule: linear warm-up, then polynomial decay."""

from __future__ import annotations

import torch

from ..errors import UsageError


class WarmupPoly:
    """Multiplier on the base learning rate at a given optimizer step.

    Steps ``0 .. warmup-1`` ramp linearly from ``1/warmup`` to 1; after that the
    factor decays as ``(1 - t)^power`` with ``t = (step - warmup) / (total - warmup)``,
    floored at ``min_ratio`` and held there past ``total``.

    Args:
        total_steps: optimizer steps of the whole run.
        warmup_steps: linear warm-up length (0 for none); must be < total_steps.
        power: poly exponent (0.9 as in DeepLab / BTS).
        min_ratio: final multiplier (the learning rate never drops below base * min_ratio).

    Raises:
        UsageError: inconsistent step counts or ratios.
    """

    def __init__(self, total_steps: int, warmup_steps: int = 0, power: float = 0.9, min_ratio: float = 0.01):
        if total_steps <= 0:
            raise UsageError(f"total_steps must be positive, got {total_steps}")
        if not 0 <= warmup_steps < total_steps:
            raise UsageError(f"warmup_steps must be in [0, {total_steps}), got {warmup_steps}")
        if not 0 <= min_ratio <= 1:
            raise UsageError(f"min_ratio must be in [0, 1], got {min_ratio}")
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.power = float(power)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        t = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_ratio + (1.0 - self.min_ratio) * (1.0 - t) ** self.power


def warmup_poly_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0,
                          power: float = 0.9, min_ratio: float = 0.01) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` driven by :class:`WarmupPoly`; call ``step()`` after every optimizer step.

    Its ``state_dict()`` holds only numbers (the factor is rebuilt from the
    arguments), so it can be stored as JSON.
    """
    factor = WarmupPoly(total_steps, warmup_steps, power, min_ratio)
    # a plain function (not the callable object) keeps LambdaLR from storing the object's __dict__
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step))
