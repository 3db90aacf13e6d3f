"""×Net models: registry, modules, weights and checkpoints."""

from . import variants  # noqa: F401  (registers the variants)
from .checkpoint import read_checkpoint, save_checkpoint
from .config import XNetConfig
from .registry import create_model, list_models, load_checkpoint, model_config, register_model

__all__ = ["XNetConfig", "create_model", "list_models", "load_checkpoint", "model_config",
           "read_checkpoint", "register_model", "save_checkpoint"]
