"""The engine modules import without their heavy optional dependencies (a Jetson runtime has no torch)."""

import subprocess
import sys

BLOCKED = ("torch", "onnxruntime", "tensorrt", "pycuda", "cuda", "onnx", "triton", "cv2")
MODULES = ("xnet_edge.targets", "xnet_edge.platform", "xnet_edge.engine", "xnet_edge.engine.manifest", "xnet_edge.engine.plan",
           "xnet_edge.engine.trtexec_script", "xnet_edge.contract", "xnet_edge.engine.build",
           "xnet_edge.engine.bundle", "xnet_edge.engine.trt_calibrator", "xnet_edge.engine.tensorrt_builder",
           "xnet_edge.engine.cpu_builder", "xnet_edge.cli.cmd_targets", "xnet_edge.cli.cmd_build",
           "xnet_edge.cli.cmd_inspect", "xnet_edge.cli.cmd_bundle")

SCRIPT = f"""
import importlib, sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of it raises ImportError
for module in {MODULES!r}:
    importlib.import_module(module)
from xnet_edge.platform import machine_info
from xnet_edge.errors import MissingDependencyError
info = machine_info()
assert info["tensorrt"] is None and info["gpu_name"] is None, info
try:
    from xnet_edge.engine.tensorrt_builder import import_tensorrt
    import_tensorrt()
except MissingDependencyError as exc:
    assert "xnet-edge[trt]" in str(exc)
else:
    raise AssertionError("tensorrt imported")
print("ok")
"""


def test_engine_modules_import_with_heavy_dependencies_blocked():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
