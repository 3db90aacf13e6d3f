"""xnet-edge: ×Net depth models from PyTorch to robots.

``import xnet_edge`` needs only numpy; torch and timm load when a model is
created. TensorRT, CUDA bindings, Triton and ONNX Runtime load only inside the
functions that use them.
"""

from pathlib import Path as _Path

from ._checkout import map_checkout_packages as _map_checkout_packages
from ._version import __version__
from .errors import CheckpointError, InputSizeError, MissingDependencyError, UsageError, XnetEdgeError

_map_checkout_packages(__name__, _Path(__file__).resolve().parent)  # kernels/, calibration/ in a plain checkout

_MODEL_API = {"create_model", "list_models", "load_checkpoint", "save_checkpoint", "model_config",
              "register_model", "XNetConfig"}

__all__ = ["__version__", "XnetEdgeError", "UsageError", "InputSizeError", "CheckpointError",
           "MissingDependencyError", *sorted(_MODEL_API)]


def __getattr__(name):
    # Model API imports torch: load it on first use, not at `import xnet_edge`.
    if name in _MODEL_API:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'xnet_edge' has no attribute {name!r}")
