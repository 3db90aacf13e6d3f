"""Warm-up + poly schedule values against hand-computed numbers."""

import json

import pytest
import torch

from xnet_edge.errors import UsageError
from xnet_edge.train import WarmupPoly, warmup_poly_scheduler


def test_warmup_then_poly_values():
    f = WarmupPoly(total_steps=14, warmup_steps=4, power=2.0, min_ratio=0.0)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    # after warm-up: (1 - (s - 4) / 10) ** 2
    assert f(4) == 1.0
    assert f(9) == pytest.approx(0.25)
    assert f(13) == pytest.approx(0.01)
    assert f(14) == 0.0 and f(100) == 0.0


def test_min_ratio_floor():
    f = WarmupPoly(total_steps=10, warmup_steps=0, power=1.0, min_ratio=0.1)
    assert f(0) == 1.0
    assert f(5) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(10) == pytest.approx(0.1)


def test_scheduler_drives_optimizer_and_state_is_json():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=0.2)
    sched = warmup_poly_scheduler(opt, total_steps=6, warmup_steps=2, power=1.0, min_ratio=0.0)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.1, 0.2, 0.2, 0.15, 0.1, 0.05])
    restored = warmup_poly_scheduler(torch.optim.AdamW([p], lr=0.2), 6, 2, 1.0, 0.0)
    restored.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert restored.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("kwargs", [dict(total_steps=0), dict(total_steps=5, warmup_steps=5),
                                    dict(total_steps=5, min_ratio=1.5)])
def test_bad_schedules_raise_usage_error(kwargs):
    with pytest.raises(UsageError):
        WarmupPoly(**kwargs)
