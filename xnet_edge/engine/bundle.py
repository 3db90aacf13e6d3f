"""Bundles for building on the robot: ONNX + calibration cache + target profile + build script.

A TensorRT plan only loads on the GPU and TensorRT release that built it, so the
safest engine is the one built on the Jetson itself. ``xnet-edge bundle`` checks
the build plan here (so a bad option fails now, not on the robot) and packs::

    NAME/model.onnx          the model to build
    NAME/calibration.cache   the TensorRT calibration cache (legacy INT8 only)
    NAME/target.json         the target profile
    NAME/build.sh            `xnet-edge build` when installed (TensorRT >= 10), else trtexec
    NAME/bundle.json         what was packed (sha256 of each file), plan, commands

Every word of ``build.sh`` is quoted for the shell, and the output folder is the
script's own ``"$OUT"`` variable, so nothing in the model (its input name) can run
as a command. Archives are written and read with plain files under one folder only:
:func:`read_bundle` refuses absolute paths, ``..``, links and duplicate names, and
:func:`extract_bundle` extracts with tarfile's ``data`` filter.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Optional, Union

from .._version import __version__
from ..contract import check_qdq_target, read_contract
from ..errors import UsageError
from ..io_utils import atomic_path, check_writable
from ..targets import TargetProfile, get_target
from .build import CACHE_NAME, LAYERS_NAME, ONNX_NAME, TIMING_NAME
from .build_options import BuildOptions
from .plan import CpuBuildPlan, TrtBuildPlan, plan_for_model, release_for
from .trt_calibrator import check_calibration_cache
from .trt_releases import TENSORRT_CHOICES
from .trtexec_script import FIND_TRTEXEC_SH, check_script_text, trtexec_build_args

BUNDLE_FORMAT = "xnet-edge-bundle"
#: the names a bundle may have: it is always written as a gzip-compressed tar archive
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
#: where a script word holds the output folder; becomes the shell variable "$OUT" (NUL never
#: occurs in a real argument, so no input text can turn into it)
OUT_MARK = "\0OUT\0"


@dataclass
class BundleResult:
    """A written bundle and the plan it was checked against."""

    path: Path
    plan: Union[TrtBuildPlan, CpuBuildPlan]
    files: dict


def bundle_name(out_path: Path) -> str:
    """The folder name inside the archive: the file name without ``.tar.gz`` / ``.tgz`` (or another suffix)."""
    name = out_path.name
    for suffix in (*ARCHIVE_SUFFIXES, ".tar", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "bundle"
    return name


def _xnet_edge_args(profile: TargetProfile, plan) -> list[str]:
    """``xnet-edge build`` arguments that rebuild ``plan`` on the device (the plan holds every decision)."""
    args = ["xnet-edge", "build", ONNX_NAME, "--target", profile.name, "--precision", plan.precision]
    if isinstance(plan, TrtBuildPlan):
        if plan.dla_core is not None:
            args += ["--dla", str(plan.dla_core)]
        args += ["--workspace", str(plan.workspace_mb), "--timing-cache", TIMING_NAME]
        if plan.opt_level is not None:
            args += ["--opt-level", str(plan.opt_level)]
        if plan.int8_source == "calibration-cache":
            args += ["--calibration-cache", CACHE_NAME]
        if plan.profile is not None:
            args += ["--max-batch", str(plan.profile.max[0])]
    else:
        args += ["--threads", str(plan.intra_op_num_threads), "--opt-level", str(plan.opt_level)]
    return args


def shell_word(arg: str) -> str:
    """One argument quoted for the shell; each :data:`OUT_MARK` becomes ``"$OUT"``.

    Raises:
        UsageError: the argument holds a control character (newline, NUL, ...).
    """
    parts = arg.split(OUT_MARK)
    for part in parts:
        check_script_text(part, "a build script argument")
    return '"$OUT"'.join(shlex.quote(part) if part else "" for part in parts) or "''"


def _shell_words(args: list[str], sep: str = " \\\n    ") -> str:
    return sep.join(shell_word(a) for a in args)


def bundle_script(profile: TargetProfile, plan) -> str:
    """The bundle's ``build.sh``: xnet-edge when installed (TensorRT >= 10 plans), otherwise trtexec.

    A TensorRT 8 plan (JetPack 5, JetPack 6.0) always builds with trtexec: xnet-edge's
    builder needs TensorRT >= 10 and would only point back to this bundle.
    """
    lines = ["#!/bin/sh",
             f"# Build the {profile.name} engine on the device itself ({profile.description}).",
             f"# Written by xnet-edge {__version__}. Usage: sh build.sh [OUT_DIR]   (default: engine/ beside "
             "this script; a relative OUT_DIR is taken from where you run it)",
             *(f"# note: {check_script_text(n, 'a note')}" for n in plan.notes),
             "set -eu", 'case "${1:-}" in ""|/*) OUT="${1:-engine}" ;; *) OUT="$(pwd)/$1" ;; esac',
             'cd "$(dirname "$0")"']
    trtexec_only = isinstance(plan, TrtBuildPlan) and not plan.python_builder
    if not trtexec_only:
        xnet = _shell_words([*_xnet_edge_args(profile, plan), "-o", OUT_MARK], sep=" ")
        lines += ["if command -v xnet-edge >/dev/null 2>&1; then", f"  exec {xnet}", "fi"]
    if not isinstance(plan, TrtBuildPlan):
        lines.append('echo "xnet-edge is not installed: pip install xnet-edge" >&2; exit 1')
        return "\n".join(lines) + "\n"
    trt = trtexec_build_args(plan, onnx=ONNX_NAME, engine=f"{OUT_MARK}/model.plan", calibration_cache=CACHE_NAME,
                             timing_cache=TIMING_NAME, layer_info=f"{OUT_MARK}/{LAYERS_NAME}")
    why = (f"TensorRT {plan.release}: xnet-edge's builder needs TensorRT >= 10, so trtexec builds"
           if trtexec_only else "Without xnet-edge")
    lines += [f"# {why}: a plain TensorRT plan (no manifest.json).",
              FIND_TRTEXEC_SH.rstrip("\n"), 'mkdir -p "$OUT"', f'"$TRTEXEC" \\\n    {_shell_words(trt)}',
              'echo "wrote $OUT/model.plan"']
    return "\n".join(lines) + "\n"


def make_bundle(onnx_path: str | os.PathLike, target: str | TargetProfile, out_path: str | os.PathLike,
                options: Optional[BuildOptions] = None, *, tensorrt: Optional[int | str] = None,
                **option_values: Any) -> BundleResult:
    """Check the build plan for ``target`` and write a tar.gz to build it on the device.

    Args:
        onnx_path: the model (FP32, FP16 or Q/DQ ONNX with xnet-edge metadata).
        target: target name or profile.
        out_path: the ``.tar.gz`` to write (atomically).
        options: a :class:`~.options.BuildOptions`, as for ``build_engine``; its calibration
            cache is refused when it is not a cache or was written for another TensorRT release
            than the plan's. ``timing_cache`` and ``calibration_images`` cannot travel in a bundle.
        tensorrt: TensorRT on the device: a generation (8, 10, 11: the target's release of it) or a
            release (``"8.5"``, ``"8.6"``, ``"10.3"``); the target's own by default.
        **option_values: :class:`~.options.BuildOptions` fields by name, applied over ``options``.

    Returns:
        A :class:`BundleResult`.

    Raises:
        UsageError: unknown target or option, bad ONNX, missing cache, or an invalid combination.
    """
    options = BuildOptions.merged(options, option_values, "make_bundle")
    for name, why in (("timing_cache", "the device builds with its own timing cache"),
                      ("calibration_images", "calibrate to a cache or a Q/DQ ONNX (xnet-edge calibrate) first")):
        if getattr(options, name) is not None:
            raise UsageError(f"a bundle cannot carry {name}: {why}")
    profile = target if isinstance(target, TargetProfile) else get_target(target)
    info = read_contract(onnx_path)
    info.require_preprocessing()
    check_qdq_target(info, profile.is_gpu, profile.name)
    out_path = Path(out_path)
    if out_path.is_dir():
        raise UsageError(f"bundle output {out_path} is a folder; name a .tar.gz file")
    if not out_path.name.endswith(ARCHIVE_SUFFIXES):
        raise UsageError(f"bundle output {out_path}: bundles are gzip-compressed tar archives; name it "
                         f"{bundle_name(out_path)}.tar.gz (or .tgz)")
    options.check_files()
    options.check_target(profile, tensorrt=tensorrt)
    check_writable(out_path, "output")
    if profile.is_gpu:
        if tensorrt is not None and str(tensorrt) not in TENSORRT_CHOICES:
            raise UsageError(f"--tensorrt must be one of {', '.join(TENSORRT_CHOICES)}, got {tensorrt}")
        release = release_for(profile, tensorrt if tensorrt is not None else profile.trt_generations[0])
        plan = plan_for_model(profile, info, options, tensorrt=release.name)
        if plan.int8_source == "calibration-cache":
            check_calibration_cache(options.calibration_cache, release.name)
    else:
        plan = plan_for_model(profile, info, options)
    files = {ONNX_NAME: info.path.read_bytes(),
             "target.json": (json.dumps(profile.to_dict(), indent=2) + "\n").encode()}
    if isinstance(plan, TrtBuildPlan) and plan.int8_source == "calibration-cache":
        files[CACHE_NAME] = Path(options.calibration_cache).read_bytes()
    files["build.sh"] = bundle_script(profile, plan).encode()
    files["bundle.json"] = _bundle_json(profile, plan, files)
    _write_tar(out_path, bundle_name(out_path), files)
    return BundleResult(out_path, plan, {name: len(data) for name, data in files.items()})


def _bundle_json(profile, plan, files: dict) -> bytes:
    import hashlib

    meta = {"format": BUNDLE_FORMAT, "format_version": 1, "xnet_edge": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "target": profile.name, "precision": plan.precision,
            "tensorrt_generation": getattr(plan, "generation", None), "tensorrt_release": getattr(plan, "release", None),
            "notes": list(plan.notes),
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
            "build_command": " ".join(_xnet_edge_args(profile, plan) + ["-o", "engine"])}
    return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()


def _check_root(root: str) -> str:
    if root in ("", ".", "..") or "/" in root or "\\" in root or any(ord(c) < 32 for c in root):
        raise UsageError(f"bundle folder name {root!r} is not a plain folder name; name the archive e.g. bundle.tar.gz")
    return root


def _write_tar(out_path: Path, root: str, files: dict) -> None:
    _check_root(root)
    with atomic_path(out_path) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, data in files.items():
                entry = tarfile.TarInfo(f"{root}/{_check_root(name)}")
                entry.size = len(data)
                entry.mode = 0o755 if name.endswith(".sh") else 0o644
                entry.mtime = int(_dt.datetime.now().timestamp())
                tar.addfile(entry, io.BytesIO(data))


def _safe_members(tar: tarfile.TarFile, path: Path) -> tuple[str, dict[str, tarfile.TarInfo]]:
    """(root folder, {file name: member}) of a bundle whose members all stay in one folder.

    Raises:
        UsageError: an absolute path, ``..``, a link or special file, a nested path, a duplicate
            name or more than one top-level folder.
    """
    roots, files = set(), {}
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or not parts:
            raise UsageError(f"{path}: refusing member {member.name!r}: it points outside the bundle folder")
        if not (member.isfile() or member.isdir()):
            raise UsageError(f"{path}: refusing member {member.name!r}: links and special files are not allowed")
        roots.add(parts[0])
        if len(roots) != 1:
            raise UsageError(f"{path} is not an xnet-edge bundle: expected one top-level folder, found "
                             f"{sorted(roots)}")
        if member.isdir():
            if len(parts) != 1:
                raise UsageError(f"{path}: refusing nested folder {member.name!r}")
            continue
        if len(parts) != 2:
            raise UsageError(f"{path}: refusing member {member.name!r}: bundle files sit directly in one folder")
        if parts[1] in files:
            raise UsageError(f"{path}: refusing duplicate member {member.name!r}")
        files[parts[1]] = member
    if not roots:
        raise UsageError(f"{path} is not an xnet-edge bundle: it is empty")
    return roots.pop(), files


def read_bundle(path: str | os.PathLike) -> dict:
    """Open a bundle and verify every file against ``bundle.json``.

    Returns:
        The ``bundle.json`` dict.

    Raises:
        UsageError: not a bundle, an unsafe member (see :func:`extract_bundle`), or a file that is
            missing or differs from its recorded sha256.
    """
    import hashlib

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"bundle not found: {path}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            _, members = _safe_members(tar, path)
            files = {name: tar.extractfile(m).read() for name, m in members.items()}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UsageError(f"{path} is not a readable bundle: {exc}") from None
    if "bundle.json" not in files:
        raise UsageError(f"{path} is not an xnet-edge bundle (no bundle.json)")
    try:
        meta = json.loads(files["bundle.json"])
        recorded = dict(meta["files"])
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{path}: bundle.json is not a bundle description") from None
    for name, digest in recorded.items():
        if name not in files or hashlib.sha256(files[name]).hexdigest() != digest:
            raise UsageError(f"{path}: {name} is missing or corrupt")
    unlisted = set(files) - set(recorded) - {"bundle.json"}
    if unlisted:
        raise UsageError(f"{path}: files not listed in bundle.json: {', '.join(sorted(unlisted))}")
    return meta


def extract_bundle(path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Verify a bundle (:func:`read_bundle`) and extract it under ``dest`` with tarfile's ``data`` filter.

    Returns:
        The extracted bundle folder (``dest/NAME``).

    Raises:
        UsageError: the bundle is unsafe or corrupt, or ``dest/NAME`` already exists.
    """
    path, dest = Path(path), Path(dest)
    read_bundle(path)
    with tarfile.open(path, "r:gz") as tar:
        root, _ = _safe_members(tar, path)
        if (dest / root).exists():
            raise UsageError(f"{dest / root} already exists; extract somewhere else")
        tar.extractall(dest, filter="data")
    return dest / root


__all__ = ["BundleResult", "bundle_script", "extract_bundle", "make_bundle", "read_bundle"]
