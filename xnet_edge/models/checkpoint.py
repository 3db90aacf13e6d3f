"""Model checkpoints: one safetensors file with the model config as JSON metadata.

Loading never unpickles. A content hash stored in the metadata detects any
change to the tensors; missing, unexpected or mis-shaped keys are listed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Union

import torch

from ..errors import CheckpointError
from ..io_utils import atomic_path
from .config import XNetConfig

FORMAT = "xnet-edge-checkpoint"
FORMAT_VERSION = "1"


def _content_hash(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(model: torch.nn.Module, path: Union[str, os.PathLike], *,
                    dtype: Optional[torch.dtype] = None, metadata: Optional[dict] = None) -> Path:
    """Save a ×Net's weights and config to a safetensors file (written atomically).

    Args:
        model: an XNet (its ``config`` is stored).
        path: destination ``.safetensors`` file.
        dtype: cast floating tensors (e.g. ``torch.float16`` for a small file).
        metadata: extra JSON-serialisable information (training command, metrics).

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        tensors[name] = t.contiguous().clone()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "content_sha256": _content_hash(tensors),
        "extra": json.dumps(metadata or {}, sort_keys=True),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_checkpoint(path: Union[str, os.PathLike]) -> tuple[XNetConfig, dict[str, torch.Tensor], dict]:
    """Read and verify a checkpoint.

    Returns:
        (config, tensors, extra metadata).

    Raises:
        CheckpointError: missing, not a checkpoint, or its content hash does not match.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an xnet-edge checkpoint (no '{FORMAT}' metadata)")
    if _content_hash(tensors) != meta.get("content_sha256"):
        raise CheckpointError(f"{path} failed its integrity check: the tensors do not match the "
                              "stored content hash (the file was modified or is corrupt)")
    try:
        config = XNetConfig.from_dict(json.loads(meta["config"]))
        extra = json.loads(meta.get("extra", "{}"))
    except Exception as exc:
        raise CheckpointError(f"{path} has an unreadable config: {exc}") from exc
    return config, tensors, extra


def load_state_into(model: torch.nn.Module, tensors: dict[str, torch.Tensor], origin: str) -> None:
    """Load ``tensors`` strictly, casting to the model's dtypes.

    Raises:
        CheckpointError: listing missing, unexpected and mis-shaped keys.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
            if keys:
                more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
                parts.append(f"{label}: {', '.join(keys[:8])}{more}")
        raise CheckpointError(f"{origin} does not fit the model: " + "; ".join(parts))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()}, strict=True)
