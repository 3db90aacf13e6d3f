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
