"""Training-state checkpoints that resume exactly: no pickle, written atomically.

A state is a folder with two files:

* ``state.safetensors`` — every tensor: model weights and buffers
  (``model.*``), optimizer moments (``optim.<param>.<key>``) and the torch
  RNG states (``rng.torch``, ``rng.cuda.<i>``);
* ``state.json`` — everything else: step, epoch, optimizer hyper-parameters,
  scheduler counters, numpy / Python RNG states, the run's settings and history,
  and ``content_sha256``: a hash over every tensor (name, dtype, shape, bytes)
  and the rest of the JSON. A state whose content does not match its hash is
  refused (:class:`CorruptStateError`, exit code 1) instead of being resumed.

The folder is built beside its destination and renamed into place, so an
interruption while saving leaves the previous state intact.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ..errors import CheckpointError
from ..io_utils import atomic_dir

FORMAT = "xnet-edge-train-state"
FORMAT_VERSION = 2  # 2: content hash
TENSORS = "state.safetensors"
META = "state.json"


class CorruptStateError(CheckpointError):
    """A training state that fails its content hash or holds impossible values (exit code 1)."""

    exit_code = 1


def state_hash(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> str:
    """sha256 over the tensors' content and the JSON metadata (without its own hash field)."""
    import hashlib

    from ..models.checkpoint import _content_hash

    rest = {k: v for k, v in meta.items() if k != "content_sha256"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((_content_hash(tensors) + "|" + text).encode()).hexdigest()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    meta = {"numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(internal), gauss_next]}
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")),
                                       key=lambda k: int(k.rsplit(".", 1)[1]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])
    kind, keys, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, slots in meta["scalars"].items():
        state.setdefault(int(index), {}).update(slots)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_training_state(folder: Union[str, os.PathLike], model: torch.nn.Module,
                        optimizer: torch.optim.Optimizer, scheduler: Any, *, step: int, epoch: int,
                        extra: Optional[dict[str, Any]] = None) -> Path:
    """Write a resumable training state to ``folder`` (replaced atomically).

    Args:
        folder: destination folder (e.g. ``RUN_DIR/state``).
        model: the model (a DDP wrapper is unwrapped).
        optimizer: its optimizer.
        scheduler: an LR scheduler whose ``state_dict()`` holds only JSON values.
        step: optimizer steps taken so far.
        epoch: the epoch the next step belongs to.
        extra: JSON-serialisable run information (settings, history, best metrics).

    Returns:
        The folder written.
    """
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v for k, v in unwrap(model).state_dict().items()}
    optim_tensors, optim_meta = _optimizer_split(optimizer)
    rng_tensors, rng_meta = _rng_state()
    tensors.update(optim_tensors)
    tensors.update(rng_tensors)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": int(step), "epoch": int(epoch),
            "optimizer": optim_meta, "scheduler": scheduler.state_dict(), "rng": rng_meta,
            "model_config": unwrap(model).config.to_dict(), "extra": extra or {}}
    meta = json.loads(json.dumps(meta))  # what the file will hold (tuples become lists) is what is hashed
    meta["content_sha256"] = state_hash(tensors, meta)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        save_file(tensors, str(tmp / TENSORS), metadata={"format": FORMAT})
        (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return folder


def read_training_state(folder: Union[str, os.PathLike]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a state folder without applying it.

    Returns:
        (tensors, meta) as written by :func:`save_training_state`.

    Raises:
        CheckpointError: missing files or not a training state.
        CorruptStateError: unreadable files, or content that does not match the stored hash.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / META).is_file() or not (folder / TENSORS).is_file():
        raise CheckpointError(f"no training state in {folder} (expected {META} and {TENSORS})")
    try:
        meta = json.loads((folder / META).read_text())
        tensors = load_file(str(folder / TENSORS))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptStateError(f"cannot read the training state in {folder}: {first}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder} does not hold an xnet-edge training state")
    if "content_sha256" not in meta:
        raise CorruptStateError(f"the training state in {folder} has no content hash (written by an older "
                                "version or edited); it cannot be resumed safely")
    if state_hash(tensors, meta) != meta["content_sha256"]:
        raise CorruptStateError(f"the training state in {folder} does not match its content hash (the files "
                                "were modified or are corrupt); refusing to resume from it")
    return tensors, meta


def load_training_state(folder: Union[str, os.PathLike], model: torch.nn.Module,
                        optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNG states in place.

    Returns:
        The JSON metadata (``step``, ``epoch``, ``extra`` ...).

    Raises:
        CheckpointError: the state is unreadable or does not fit the model.
    """
    from ..models.checkpoint import load_state_into

    tensors, meta = read_training_state(folder)
    module = unwrap(model)
    if meta["model_config"].get("name") != module.config.name:
        raise CheckpointError(f"{folder} was saved from {meta['model_config'].get('name')!r}, "
                              f"not {module.config.name!r}")
    load_state_into(module, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, str(folder))
    try:
        optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
        scheduler.load_state_dict(meta["scheduler"])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{folder}: optimizer or scheduler state does not fit: {exc}") from exc
    _set_rng_state(tensors, meta["rng"])
    return meta
