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


@pytest.fixture
def mount_tmpfs(tmp_path):
    """``mount_tmpfs(name, size="64k", read_only=False) -> Path``: a real small or read-only file system.

    A full disk and a read-only disk are made for real (tests run as root; root ignores
    permission bits but not a read-only or full mount). Skips where mounting is not allowed.
    """
    import shutil
    import subprocess

    mounted = []

    def make(name: str = "disk", size: str = "64k", read_only: bool = False):
        point = tmp_path / name
        point.mkdir()
        options = f"size={size},mode=0755" + (",ro" if read_only else "")
        if shutil.which("mount") is None or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
        mounted.append(point)
        return point

    yield make
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture
def cli_error(capsys):
    """``cli_error(*argv) -> (exit code, stderr)``: run the CLI in-process, checking stderr is one line.

    Argument parser errors (exit 2 from argparse) return their last line, the error itself.
    """
    from xnet_edge.cli import main

    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: the usage line(s), then the error
            return exc.code, capsys.readouterr().err.strip().splitlines()[-1]
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return code, err

    return run
