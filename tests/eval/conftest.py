"""Shared fixtures: one tiny random-weight model for the loop and CLI tests (built once)."""

import pytest


@pytest.fixture(scope="session")
def tiny_model():
    from xnet_edge import create_model

    return create_model("test_xnet_effnet").eval()
