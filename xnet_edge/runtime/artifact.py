"""What the user handed to ``Runtime(path)``: an engine folder, a bare ONNX, a TensorRT plan
or a model checkpoint; which backend runs it; and the manifest checks before loading.

Pure Python (plus the manifest module); no backend library is imported here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..bundled import is_demo
from ..engine.manifest import (MANIFEST_NAME, EngineCompatibilityError, HashMismatchError, ensure_compatible,
                               read_manifest)
from ..errors import UsageError
from ..io_utils import sha256_file
from ..platform import machine_info
from .runtime_options import BACKENDS

#: artifact kind -> the backend that runs it
BACKEND_FOR_KIND = {"onnx": "onnxruntime", "tensorrt-plan": "tensorrt", "checkpoint": "torch"}
PLAN_SUFFIXES = (".plan", ".engine", ".trt")


@dataclass(frozen=True)
class Artifact:
    """A resolved model artifact.

    Attributes:
        kind: "onnx", "tensorrt-plan" or "checkpoint".
        file: the file a backend loads (or the "demo" spec for bundled checkpoints).
        folder: the engine folder when a manifest describes the file, else None.
        manifest: the validated manifest, or None.
    """

    kind: str
    file: Path | str
    folder: Optional[Path] = None
    manifest: Optional[dict] = None


def _manifest_beside(file: Path) -> Optional[dict]:
    # A plan or ONNX opened directly still gets its engine folder's manifest when the
    # manifest names this very file.
    if not (file.parent / MANIFEST_NAME).is_file():
        return None
    manifest = read_manifest(file.parent)
    return manifest if manifest["artifact"]["file"] == file.name else None


def resolve_artifact(path: str | Path) -> Artifact:
    """Work out what ``path`` is.

    Args:
        path: an engine folder (with ``manifest.json``), the manifest itself, a ``.onnx``,
            a ``.plan`` / ``.engine`` / ``.trt``, a ``.safetensors`` checkpoint, or
            ``"demo"`` / ``"demo:MODEL"``.

    Returns:
        An :class:`Artifact`.

    Raises:
        UsageError: the path does not exist or is of an unknown type.
        ManifestError: the engine folder's manifest is invalid.
    """
    if is_demo(path):
        return Artifact("checkpoint", str(path))
    p = Path(path)
    if not p.exists():
        raise UsageError(f"artifact not found: {p}")
    if p.is_dir() or p.name == MANIFEST_NAME:
        folder = p if p.is_dir() else p.parent
        manifest = read_manifest(folder)
        return Artifact(manifest["artifact"]["kind"], folder / manifest["artifact"]["file"], folder, manifest)
    suffix = p.suffix.lower()
    if suffix == ".onnx" or suffix in PLAN_SUFFIXES:
        manifest = _manifest_beside(p)
        kind = "onnx" if suffix == ".onnx" else "tensorrt-plan"
        return Artifact(kind, p, p.parent if manifest else None, manifest)
    if suffix == ".safetensors":
        return Artifact("checkpoint", p)
    raise UsageError(f"cannot tell what {p} is: expected an engine folder, a .onnx, a .plan/.engine, "
                     "a .safetensors checkpoint or 'demo'")


def choose_backend(artifact: Artifact, requested: str = "auto") -> str:
    """The backend for an artifact.

    Args:
        artifact: from :func:`resolve_artifact`.
        requested: "auto" or a backend name; it must be the one that runs this kind of artifact.

    Raises:
        UsageError: unknown backend, or one that cannot run this artifact (the message says
            what to do instead).
    """
    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}")
    natural = BACKEND_FOR_KIND[artifact.kind]
    if requested in ("auto", natural):
        return natural
    hints = {
        ("onnx", "tensorrt"): "build a TensorRT engine first: xnet-edge build MODEL.onnx --target TARGET -o DIR",
        ("onnx", "torch"): "the PyTorch backend runs .safetensors checkpoints",
        ("checkpoint", "onnxruntime"): "export it first: xnet-edge export CHECKPOINT -o model.onnx",
        ("checkpoint", "tensorrt"): "export it, then build an engine (xnet-edge export, xnet-edge build)",
        ("tensorrt-plan", "onnxruntime"): "open the engine folder's model.onnx instead",
        ("tensorrt-plan", "torch"): "open the model checkpoint instead",
    }
    raise UsageError(f"{artifact.file} is a {artifact.kind} artifact, which the {requested} backend cannot run; "
                     + hints.get((artifact.kind, requested), f"use backend={natural!r}"))


def verify_artifact(artifact: Artifact, machine: Optional[dict] = None) -> list[str]:
    """Check an artifact against its manifest and this machine before loading it.

    The engine file's sha256 must match the manifest, and the engine must be able to
    run here (TensorRT version, GPU compute capability, DLA, ONNX Runtime).

    Args:
        artifact: from :func:`resolve_artifact`; without a manifest nothing is checked.
        machine: :func:`xnet_edge.platform.machine_info` output (computed when None).

    Returns:
        Warning messages (the engine should still load).

    Raises:
        HashMismatchError: the engine file is missing or was modified.
        EngineCompatibilityError: it cannot run on this machine; says how to rebuild.
    """
    if artifact.manifest is None:
        return []
    manifest, folder = artifact.manifest, artifact.folder
    file = Path(artifact.file)
    if not file.is_file():
        raise HashMismatchError(f"{folder}: {file.name} (artifact) is missing; the folder is incomplete, rebuild it")
    actual = sha256_file(file)
    if actual != manifest["artifact"]["sha256"]:
        raise HashMismatchError(f"{folder}: {file.name} sha256 {actual[:12]}… != manifest "
                                f"{manifest['artifact']['sha256'][:12]}…; the engine is corrupt or was modified, "
                                "rebuild it")
    if machine is None:  # only TensorRT plans care about the GPU; do not wake CUDA for an ONNX engine
        machine = machine_info(probe_gpu=artifact.kind == "tensorrt-plan")
    issues = ensure_compatible(manifest, machine, folder=folder)
    return [issue.message for issue in issues]


def warn_all(messages: list[str]) -> None:
    """Emit each message as a RuntimeWarning."""
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


__all__ = ["Artifact", "BACKENDS", "BACKEND_FOR_KIND", "EngineCompatibilityError", "HashMismatchError",
           "choose_backend", "resolve_artifact", "verify_artifact"]
