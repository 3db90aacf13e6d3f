"""Lazy imports of optional heavy dependencies.

Nothing here imports tensorrt, pycuda, cuda-python, triton or onnxruntime at
module level; callers ask for them inside the function that needs them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

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
    "torch": (None, "pip install torch; the TensorRT/ONNX runtime paths do not need it"),
    "timm": (None, "pip install timm"),
    "h5py": ("dev", None),
    "PIL.Image": (None, "pip install pillow"),
    "imgviz": (None, "pip install imgviz"),
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


def available(name: str) -> bool:
    """Return True if ``name`` imports cleanly (it is imported to find out)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
