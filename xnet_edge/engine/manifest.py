"""The engine folder contract: ``OUT_DIR/manifest.json``.

``xnet-edge build`` writes one folder per engine::

    OUT_DIR/
      manifest.json        this module's format (below)
      model.plan           TensorRT plan (GPU targets)   | model.opt.onnx (cpu target)
      model.onnx           copy of the input ONNX        (hashed: sources.onnx)
      calibration.cache    copy of the TensorRT cache    (hashed: sources.calibration_cache, optional)

``manifest.json``::

    {"format": "xnet-edge-engine", "format_version": 2, "created": ISO-8601 UTC,
     "artifact": {"kind": "tensorrt-plan" | "onnx", "file": ..., "sha256": ...},
     "target": {...profile, incl. "name"}, "precision": "fp32" | "fp16" | "int8" | "best",
     "inputs": [{"name", "shape", "dtype"}], "outputs": [...],
     "preprocessing": {...}, "model": {...},
     "sources": {"onnx": {"file", "sha256"}, "calibration_cache": {"file", "sha256"} | null},
     "build_machine": {"tensorrt", "tensorrt_cuda", "cuda", "cuda_driver", "onnxruntime", "gpu_name", "compute_capability",
                       "jetpack", "platform", "python"},
     "runtime": {"onnxruntime": {...}} | {"tensorrt": {...}},
     "content_sha256": sha256 of the canonical JSON of every other field}

``content_sha256`` covers the manifest's own fields, the way the file hashes cover
the files: an edited precision, target or preprocessing is refused. The values are
checked by :func:`validate_manifest`, one set of rules for ``inspect`` and the runtime.

TensorRT plans only load on the TensorRT version and GPU that built them, so
:func:`check_compatibility` compares a manifest with
:func:`xnet_edge.platform.machine_info` (this machine) and says how to rebuild.
Only numpy-free standard library code runs here: the runtime path on a Jetson
imports this module without torch.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError, XnetEdgeError
from ..io_utils import sha256_file, write_json_atomic
from ..platform import machine_info
from ..targets import PRECISIONS

FORMAT = "xnet-edge-engine"
FORMAT_VERSION = 2
CONTENT_HASH_KEY = "content_sha256"
MANIFEST_NAME = "manifest.json"

ARTIFACT_KINDS = {"tensorrt-plan": "model.plan", "onnx": "model.opt.onnx"}
BUILD_MACHINE_KEYS = ("tensorrt", "tensorrt_cuda", "cuda", "cuda_driver", "onnxruntime", "gpu_name",
                      "compute_capability", "jetpack", "platform", "python")
_REQUIRED_KEYS = ("format", "format_version", "created", "artifact", "target", "precision", "inputs",
                  "outputs", "preprocessing", "model", "sources", "build_machine", "runtime")

class ManifestError(XnetEdgeError):
    """A manifest is unreadable, malformed, from a newer format, or points outside its folder."""

    exit_code = 2


class HashMismatchError(ManifestError):
    """A file listed in the manifest is missing or its sha256 differs (corrupt or tampered)."""


class EngineCompatibilityError(XnetEdgeError):
    """The engine cannot run on this machine (TensorRT version, GPU); the message says how to rebuild."""


# --------------------------------------------------------------------------- read / write


def manifest_path(folder: str | os.PathLike) -> Path:
    """``folder/manifest.json`` (a path to the manifest file itself is accepted too)."""
    p = Path(folder)
    return p if p.name == MANIFEST_NAME and not p.is_dir() else p / MANIFEST_NAME


def new_manifest(*, artifact_kind: str, artifact_sha256: str, target: dict, precision: str,
                 inputs: list, outputs: list, preprocessing: dict, model: dict,
                 onnx_file: str, onnx_sha256: str, calibration_cache: Optional[dict],
                 build_machine: dict, runtime: dict, artifact_file: Optional[str] = None,
                 output: Optional[dict] = None) -> dict:
    """Assemble a manifest dict in the contract's layout (``created`` is now, UTC).

    Args:
        artifact_kind: ``"tensorrt-plan"`` or ``"onnx"``.
        artifact_sha256: hex sha256 of the engine file.
        target: the target profile dict (with ``"name"``).
        precision: one of :data:`xnet_edge.targets.PRECISIONS`.
        inputs, outputs: ``[{"name", "shape", "dtype"}]``.
        preprocessing, model: from the ONNX metadata.
        onnx_file, onnx_sha256: the copy of the input ONNX in the folder.
        calibration_cache: ``{"file", "sha256"}`` or None.
        build_machine: :func:`xnet_edge.platform.machine_info` output.
        runtime: ``{"onnxruntime": {...}}`` or ``{"tensorrt": {...}}``.
        artifact_file: engine file name; defaults to the kind's standard name.
        output: what the primary output means (``xnet_edge.contract.OutputSemantics.to_dict()``).

    Returns:
        The manifest dict (validated).
    """
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "artifact": {"kind": artifact_kind, "file": artifact_file or ARTIFACT_KINDS.get(artifact_kind, ""),
                     "sha256": artifact_sha256},
        "target": dict(target),
        "precision": precision,
        "inputs": [dict(t) for t in inputs],
        "outputs": [dict(t) for t in outputs],
        "preprocessing": dict(preprocessing),
        "model": dict(model),
        "output": dict(output) if output else None,
        "sources": {"onnx": {"file": onnx_file, "sha256": onnx_sha256},
                    "calibration_cache": dict(calibration_cache) if calibration_cache else None},
        "build_machine": {k: build_machine.get(k) for k in BUILD_MACHINE_KEYS},
        "runtime": dict(runtime),
    }
    validate_manifest(manifest)
    return manifest


def validate_manifest(manifest: Any, where: str = "manifest") -> dict:
    """Check the contract's structure; return the manifest unchanged.

    Raises:
        ManifestError: a key is missing or has the wrong type/value, the format is
            not ours, the format version is newer than this code, or a file name
            is not a plain name inside the folder.
    """
    def bad(msg: str) -> ManifestError:
        return ManifestError(f"{where}: {msg}")

    if not isinstance(manifest, dict):
        raise bad("not a JSON object")
    if manifest.get("format") != FORMAT:
        raise bad(f"format is {manifest.get('format')!r}, expected {FORMAT!r} (not an xnet-edge engine)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise bad(f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise bad(f"format_version {version} is newer than this xnet-edge understands ({FORMAT_VERSION}); "
                  "upgrade xnet-edge")
    if version < FORMAT_VERSION:
        raise bad(f"format_version {version} carries no content hash; rebuild the engine with this xnet-edge")
    missing = [k for k in _REQUIRED_KEYS if k not in manifest]
    if missing:
        raise bad(f"missing keys: {', '.join(missing)}")
    art = manifest["artifact"]
    if not isinstance(art, dict) or art.get("kind") not in ARTIFACT_KINDS:
        raise bad(f"artifact.kind must be one of {sorted(ARTIFACT_KINDS)}")
    if manifest["precision"] not in PRECISIONS:
        raise bad(f"precision {manifest['precision']!r} is not one of {', '.join(PRECISIONS)}")
    _check_target(manifest["target"], bad)
    _check_preprocessing(manifest["preprocessing"], bad)
    for key in ("inputs", "outputs"):
        tensors = manifest[key]
        if not isinstance(tensors, list) or not tensors or not all(
                isinstance(t, dict) and {"name", "shape", "dtype"} <= set(t) for t in tensors):
            raise bad(f"{key} must be a non-empty list of {{name, shape, dtype}}")
    for role, entry in _hashed_entries(manifest):
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise bad(f"{role} needs 'file' and 'sha256'")
        _check_plain_name(entry.get("file"), role, bad)
    if not isinstance(manifest["build_machine"], dict) or not isinstance(manifest["runtime"], dict):
        raise bad("build_machine and runtime must be objects")
    _check_runtime(manifest["runtime"], bad)
    return manifest


def _check_target(target: Any, bad) -> None:
    from ..targets import list_targets

    known = [t.name for t in list_targets()]
    if not isinstance(target, dict) or target.get("name") not in known:
        name = target.get("name") if isinstance(target, dict) else target
        raise bad(f"target {name!r} is not a known target ({', '.join(known)})")


def _check_preprocessing(preprocessing: Any, bad) -> None:
    from ..contract import Preprocessing  # the runtime's own rules

    if not isinstance(preprocessing, dict):
        raise bad("preprocessing must be an object")
    try:
        Preprocessing.from_dict(preprocessing)
    except XnetEdgeError as exc:
        raise bad(str(exc)) from None


def _check_runtime(runtime: dict, bad) -> None:
    from ..limits import thread_count_problem

    ort = runtime.get("onnxruntime")
    if ort is None:
        return
    if not isinstance(ort, dict):
        raise bad("runtime.onnxruntime must be an object")
    threads = ort.get("intra_op_num_threads")
    problem = None if threads is None else thread_count_problem(threads)
    if problem:
        raise bad(f"runtime.onnxruntime.intra_op_num_threads {problem}")


def content_hash(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, compact), without its own hash field."""
    body = {k: v for k, v in manifest.items() if k != CONTENT_HASH_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_content_hash(manifest: dict, bad) -> None:
    recorded = manifest.get(CONTENT_HASH_KEY)
    if not isinstance(recorded, str):
        raise bad(f"no {CONTENT_HASH_KEY}; the manifest was not written by xnet-edge build, rebuild the engine")
    try:
        actual = content_hash(manifest)
    except ValueError as exc:  # NaN/inf cannot be in a manifest xnet-edge wrote
        raise bad(f"not canonical JSON ({exc}); the manifest was modified, rebuild the engine") from None
    if actual != recorded:
        raise bad(f"{CONTENT_HASH_KEY} {actual[:12]}… != recorded {recorded[:12]}…; the manifest was modified "
                  "after the build, rebuild the engine")


def _check_plain_name(name: Any, role: str, bad) -> None:
    # Files live in the engine folder; a manifest must not point anywhere else.
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise bad(f"{role}.file must be a file name inside the engine folder, got {name!r}")


def _hashed_entries(manifest: dict) -> list[tuple[str, Any]]:
    sources = manifest.get("sources") or {}
    entries = [("artifact", manifest.get("artifact")), ("sources.onnx", sources.get("onnx"))]
    if sources.get("calibration_cache") is not None:
        entries.append(("sources.calibration_cache", sources["calibration_cache"]))
    return entries


def read_manifest(folder: str | os.PathLike) -> dict:
    """Read and validate ``folder/manifest.json``.

    Args:
        folder: an engine folder written by ``xnet-edge build`` (or its manifest.json).

    Returns:
        The manifest dict.

    Raises:
        UsageError: the folder or its manifest.json does not exist.
        ManifestError: the manifest is not valid JSON, breaks the contract, or its content
            hash does not match (it was edited after the build).
    """
    path = manifest_path(folder)
    if not path.is_file():
        raise UsageError(f"{folder} is not an engine folder (no {MANIFEST_NAME}); "
                         "build one with: xnet-edge build MODEL.onnx --target TARGET -o OUT_DIR")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
    validate_manifest(manifest, where=str(path))
    _check_content_hash(manifest, lambda msg: ManifestError(f"{path}: {msg}"))
    return manifest


def write_manifest(folder: str | os.PathLike, manifest: dict) -> Path:
    """Validate ``manifest``, set its ``content_sha256`` and write it atomically to ``folder/manifest.json``.

    Returns:
        The manifest's path.

    Raises:
        ManifestError: the manifest breaks the contract.
    """
    validate_manifest(manifest)
    manifest[CONTENT_HASH_KEY] = content_hash(manifest)
    path = Path(folder) / MANIFEST_NAME
    write_json_atomic(path, manifest)
    return path


# --------------------------------------------------------------------------- hashes


@dataclass(frozen=True)
class FileCheck:
    """One hashed file: ``status`` is ``"ok"``, ``"mismatch"`` or ``"missing"``."""

    role: str
    file: str
    expected: str
    actual: Optional[str]
    status: str


def check_hashes(folder: str | os.PathLike, manifest: Optional[dict] = None) -> list[FileCheck]:
    """sha256 every file the manifest lists (artifact, ONNX copy, calibration cache).

    Args:
        folder: the engine folder.
        manifest: its manifest; read from ``folder`` when None.

    Returns:
        One :class:`FileCheck` per file, in manifest order.
    """
    manifest = read_manifest(folder) if manifest is None else manifest
    folder = manifest_path(folder).parent
    checks = []
    for role, entry in _hashed_entries(manifest):
        path = folder / entry["file"]
        actual = sha256_file(path) if path.is_file() else None
        status = "missing" if actual is None else ("ok" if actual == entry["sha256"] else "mismatch")
        checks.append(FileCheck(role, entry["file"], entry["sha256"], actual, status))
    return checks


def verify_hashes(folder: str | os.PathLike, manifest: Optional[dict] = None) -> list[FileCheck]:
    """Like :func:`check_hashes` but raise when any file is missing or differs.

    Raises:
        HashMismatchError: naming every bad file.
    """
    checks = check_hashes(folder, manifest)
    bad = [c for c in checks if c.status != "ok"]
    if bad:
        detail = "; ".join(f"{c.file} ({c.role}) is missing" if c.status == "missing" else
                           f"{c.file} ({c.role}) sha256 {c.actual[:12]}… != manifest {c.expected[:12]}…"
                           for c in bad)
        raise HashMismatchError(f"{folder}: {detail}; the folder is corrupt or was modified, rebuild it")
    return checks


# --------------------------------------------------------------------------- compatibility


@dataclass(frozen=True)
class CompatibilityIssue:
    """One difference between an engine's build machine and this machine.

    ``severity`` is ``"error"`` (the engine will not load) or ``"warning"``
    (it may load but run slower or differently).
    """

    severity: str
    field: str
    message: str
    fixed_by_rebuild: bool = True


def _version_tuple(version: Optional[str], parts: int) -> Optional[tuple[int, ...]]:
    if not version:
        return None
    nums = re.findall(r"\d+", str(version))[:parts]
    return tuple(int(n) for n in nums) if nums else None


def rebuild_command(manifest: dict, folder: str | os.PathLike = "ENGINE_DIR") -> str:
    """The ``xnet-edge build`` command that rebuilds this engine from the ONNX kept in its folder."""
    folder = Path(folder)
    onnx_file = folder / manifest["sources"]["onnx"]["file"]
    args = ["xnet-edge", "build", str(onnx_file), "--target", manifest["target"]["name"],
            "--precision", manifest["precision"]]
    cache = manifest["sources"].get("calibration_cache")
    if cache:
        args += ["--calibration-cache", str(folder / cache["file"])]
    dla = (manifest["runtime"].get("tensorrt") or {}).get("dla_core")
    if dla is not None:
        args += ["--dla", str(dla)]
    args += ["-o", f"{folder.name or 'engine'}.rebuilt"]
    return " ".join(shlex.quote(a) for a in args)


def check_compatibility(manifest: dict, machine: Optional[dict] = None) -> list[CompatibilityIssue]:
    """Compare an engine's manifest with this (or the given) machine.

    TensorRT plans need the same TensorRT version (major.minor.patch) and the
    same GPU compute capability; a different GPU model with the same compute
    capability loads with a performance warning; DLA engines need a Jetson.
    ONNX artifacts run anywhere ONNX Runtime runs; an older ONNX Runtime than
    the builder's gets a warning (the optimized graph may use newer contrib ops).

    Args:
        manifest: a validated manifest.
        machine: :func:`xnet_edge.platform.machine_info` output; computed when None.

    Returns:
        Issues, errors first; empty when the engine should load as built.
    """
    machine = machine_info() if machine is None else machine
    built = manifest["build_machine"]
    if manifest["artifact"]["kind"] == "onnx":
        return _check_onnx(built, machine)
    return _check_tensorrt(manifest, built, machine)


def _check_onnx(built: dict, machine: dict) -> list[CompatibilityIssue]:
    here = machine.get("onnxruntime")
    if not here:
        return [CompatibilityIssue("error", "onnxruntime",
                                   "this engine runs on ONNX Runtime, which is not installed: pip install onnxruntime",
                                   fixed_by_rebuild=False)]
    want, have = _version_tuple(built.get("onnxruntime"), 2), _version_tuple(here, 2)
    if want and have and have < want:
        return [CompatibilityIssue("warning", "onnxruntime",
                                   f"optimized with ONNX Runtime {built['onnxruntime']} but this machine has {here}; "
                                   "if loading fails, upgrade onnxruntime or rebuild here")]
    return []


def _check_tensorrt(manifest: dict, built: dict, machine: dict) -> list[CompatibilityIssue]:
    issues = []
    want_trt, have_trt = built.get("tensorrt"), machine.get("tensorrt")
    if not have_trt:
        issues.append(CompatibilityIssue("error", "tensorrt", f"this engine needs TensorRT {want_trt}, which is not "
                                         "installed (JetPack on a Jetson; pip install 'xnet-edge[trt]' on x86)",
                                         fixed_by_rebuild=False))
    elif _version_tuple(want_trt, 3) != _version_tuple(have_trt, 3):
        issues.append(CompatibilityIssue("error", "tensorrt", f"built with TensorRT {want_trt} but this machine has "
                                         f"TensorRT {have_trt}; plans only load on the version that built them"))
    want_cc, have_cc = built.get("compute_capability"), machine.get("compute_capability")
    if want_cc and have_cc and want_cc != have_cc:
        issues.append(CompatibilityIssue("error", "compute_capability",
                                         f"built for compute capability {want_cc} ({built.get('gpu_name')}) but this "
                                         f"GPU is {have_cc} ({machine.get('gpu_name')})"))
    elif want_cc and not have_cc:
        issues.append(CompatibilityIssue("warning", "compute_capability",
                                         f"could not query this machine's GPU; the engine needs compute capability "
                                         f"{want_cc} ({built.get('gpu_name')})"))
    elif built.get("gpu_name") and machine.get("gpu_name") and built["gpu_name"] != machine["gpu_name"]:
        issues.append(CompatibilityIssue("warning", "gpu_name",
                                         f"built on {built['gpu_name']}, running on {machine['gpu_name']} "
                                         "(same compute capability): it should load, but TensorRT tuned it "
                                         "for the other GPU"))
    dla = (manifest["runtime"].get("tensorrt") or {}).get("dla_core")
    if dla is not None and not machine.get("jetpack"):
        issues.append(CompatibilityIssue("error", "dla_core", f"the engine runs on DLA core {dla}, which only "
                                         "Jetson devices have"))
    return sorted(issues, key=lambda i: i.severity != "error")


def ensure_compatible(manifest: dict, machine: Optional[dict] = None,
                      folder: str | os.PathLike = "ENGINE_DIR") -> list[CompatibilityIssue]:
    """Raise when the engine cannot run here; return the warnings otherwise.

    Args:
        manifest: a validated manifest.
        machine: :func:`xnet_edge.platform.machine_info` output; computed when None.
        folder: the engine folder, used in the rebuild command of the message.

    Returns:
        The warning-level issues (possibly empty).

    Raises:
        EngineCompatibilityError: one line per error plus the command that rebuilds the
            engine on this machine.
    """
    issues = check_compatibility(manifest, machine)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        detail = "; ".join(i.message for i in errors)
        hint = (f". Rebuild it on this machine: {rebuild_command(manifest, folder)}"
                if any(i.fixed_by_rebuild for i in errors) else "")
        raise EngineCompatibilityError(f"{folder}: cannot run this {manifest['target']['name']} engine here: "
                                       f"{detail}{hint}")
    return [i for i in issues if i.severity == "warning"]
