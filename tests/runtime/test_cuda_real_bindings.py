"""The project's cudart calls against NVIDIA's real cuda-python bindings, 11.8 to 13.x.

cuda-python installs and parses arguments without a GPU. ``make venv`` puts the 13.x
bindings in the environment (pinned in requirements.txt) and the older releases under
``.venv/nvidia-api/`` (``pip install --target``); each runs ``real_cuda_check.py`` in its
own process, where every cudart call the project makes goes through the real parser
(a TypeError fails) and opening the CUDA layer ends in a one-line driver error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from xnet_edge.cuda_import import describe_driver_mismatch, import_cudart, require_cudart
from xnet_edge.runtime.cuda_mem import CudaDriverError, CudaPythonMemory, PyCudaMemory, open_cuda_memory

HERE = Path(__file__).parent
NVIDIA_API = Path(sys.prefix) / "nvidia-api"

# (folder under .venv/nvidia-api or None for the environment's own, module, CUDA major.minor prefix)
RELEASES = [
    (None, "cuda.bindings.runtime", "13."),
    ("cuda-bindings-12.9", "cuda.bindings.runtime", "12.9"),
    ("cuda-python-12.5", "cuda.cudart", "12.5"),  # before cuda.bindings existed
    ("cuda-bindings-11.8", "cuda.bindings.runtime", "11.8"),  # CUDA 11 cudaGraphInstantiate
]


def _need(folder: Path) -> None:
    if folder.is_dir():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{folder} is missing: the Makefile's venv step installs it")
    pytest.skip(f"{folder} is missing: run `make venv` (it installs the other cuda-python releases)")


@pytest.mark.parametrize("folder, module, cuda", RELEASES, ids=[r[2] for r in RELEASES])
def test_every_cudart_call_passes_the_real_argument_parser(folder, module, cuda):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if folder is not None:
        _need(NVIDIA_API / folder)
        env["PYTHONPATH"] = str(NVIDIA_API / folder)
    elif import_cudart() is None:
        pytest.fail("cuda-python is not installed: requirements.txt pins it")
    proc = subprocess.run([sys.executable, str(HERE / "real_cuda_check.py")], env=env, capture_output=True,
                          text=True, timeout=120)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, (report, proc.stderr[-2000:])
    assert report["module"] == module and report["bindings_cuda"].startswith(cuda)
    assert report["refused"] == [] and report["missing"] == []
    assert {"cudaMemcpyAsync", "cudaGraphInstantiate", "cudaDriverGetVersion", "cudaMemGetInfo"} <= set(
        report["calls"])
    assert "no CUDA driver" in report["open"]  # this machine has none: a CUDA error, one line


def test_real_binding_without_a_driver_is_one_line_and_auto_has_no_fallback():
    rt = require_cudart()
    with pytest.raises(CudaDriverError, match="no CUDA driver found") as exc:
        CudaPythonMemory(rt)
    assert "\n" not in str(exc.value)
    with pytest.raises(CudaDriverError):
        open_cuda_memory("auto")  # no pycuda here to fall back to


def _newer_bindings_than_driver(fakes, monkeypatch, binding="cuda-python"):
    gpu = fakes.FakeGPU()
    modules = {}
    fakes.install(modules, gpu, binding=binding, runtime_version=13000)
    if binding == "pycuda":  # pycuda and a cuda-python 13 both installed
        cuda_modules = {}
        fakes.install(cuda_modules, gpu, runtime_version=13000)
        modules.update({k: v for k, v in cuda_modules.items() if k.startswith("cuda")})
    rt = modules["cuda.bindings.runtime"]
    rt.cudaSetDevice = lambda device: (35,)  # cudaErrorInsufficientDriver
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return rt


def test_cuda_python_13_on_a_cuda_12_driver_says_what_to_install(fakes, monkeypatch):
    rt = _newer_bindings_than_driver(fakes, monkeypatch)
    assert describe_driver_mismatch(rt) == (
        "this machine's driver supports CUDA 12.6 but the installed cuda-python is built for CUDA 13.0: "
        "pip install 'cuda-python>=12,<13' (or 'xnet-edge[trt-cu12]'), or install pycuda")
    with pytest.raises(CudaDriverError, match=r"cudaSetDevice failed: .*cuda-python>=12,<13"):
        open_cuda_memory("auto")


def test_auto_falls_back_to_pycuda_on_a_driver_mismatch(fakes, monkeypatch):
    _newer_bindings_than_driver(fakes, monkeypatch, binding="pycuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        memory = open_cuda_memory("auto")
    assert isinstance(memory, PyCudaMemory) and "using pycuda" in str(caught[0].message)
    memory.close()
    with pytest.raises(CudaDriverError):
        open_cuda_memory("cuda-python")  # asked for explicitly: no fallback
