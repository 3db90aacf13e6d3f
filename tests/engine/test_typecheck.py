"""`make typecheck`: pyright (pinned, from npm) on the TensorRT and CUDA modules with NVIDIA's
tensorrt-stubs, zero errors. The Makefile installs pyright under .tools/ for `make test`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYRIGHT = ROOT / ".tools" / "pyright" / "node_modules" / ".bin" / "pyright"
STUBS = Path(sys.prefix) / "nvidia-api" / "tensorrt-stubs"


def test_pyright_finds_no_errors_in_the_tensorrt_and_cuda_modules():
    if not (PYRIGHT.exists() and STUBS.is_dir()):
        if os.environ.get("CI"):
            pytest.fail("pyright or tensorrt-stubs missing: `make test` installs both")
        pytest.skip("run `make typecheck` (installs pyright under .tools/ and the stubs under .venv/nvidia-api)")
    proc = subprocess.run([str(PYRIGHT), "--pythonpath", sys.executable, "-p", str(ROOT / "pyrightconfig.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "0 errors" in proc.stdout, proc.stdout[-3000:]
