"""Shared test set-up: offline hub, deterministic torch, small thread count."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    try:
        import torch
    except ImportError:  # the no-torch import tests run without it
        return
    torch.manual_seed(0)


def _randomize_norms(model):
    """Move every BatchNorm's statistics and affine, and each bridge's LayerNorm affine and bias, off
    their defaults (in place), so BN folding and the norm parameters are really exercised."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for bridge in getattr(model, "bridges", ()):
            if bridge.norm_kind == "layernorm":
                bridge.norm.weight.uniform_(0.5, 1.5)
                bridge.norm.bias.uniform_(-0.2, 0.2)
            bridge.bias.uniform_(-0.2, 0.2)
    return model


@pytest.fixture(scope="session")
def randomize_norms():
    """``randomize_norms(model) -> model``: see :func:`_randomize_norms`."""
    return _randomize_norms
