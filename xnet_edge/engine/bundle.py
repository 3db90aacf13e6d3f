"""Bundles for building on the robot: ONNX + calibration cache + target profile + build script.

A TensorRT plan only loads on the GPU and TensorRT release that built it, so the
safest engine is the one built on the Jetson itself. ``xnet-edge bundle`` checks
the build plan here (so a bad option fails now, not on the robot) and packs::

    NAME/model.onnx          the model to build
    NAME/calibration.cache   the TensorRT calibration cache (legacy INT8 only)
    NAME/target.json         the target profile
    NAME/build.sh            `xnet-edge build` when installed, else the equivalent trtexec
    NAME/bundle.json         what was packed (sha256 of each file), plan, commands
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .._version import __version__
from ..contract import check_qdq_target, read_contract
from ..errors import UsageError
from ..io_utils import atomic_path
from ..targets import TRT_GENERATIONS, TargetProfile, get_target
from .build import CACHE_NAME, LAYERS_NAME, ONNX_NAME, TIMING_NAME
from .plan import CpuBuildPlan, TrtBuildPlan, plan_cpu_build, plan_tensorrt_build
from .trtexec import FIND_TRTEXEC_SH, trtexec_args

BUNDLE_FORMAT = "xnet-edge-bundle"


@dataclass
class BundleResult:
    """A written bundle and the plan it was checked against."""

    path: Path
    plan: Union[TrtBuildPlan, CpuBuildPlan]
    files: dict


def bundle_name(out_path: Path) -> str:
    """The folder name inside the archive: the file name without ``.tar.gz`` / ``.tgz``."""
    name = out_path.name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "bundle"
    return name


def _xnet_edge_args(profile: TargetProfile, plan, options: dict) -> list[str]:
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
        args += ["--threads", str(plan.intra_op_num_threads),
                 "--opt-level", str(options["cpu_level"])]
    return args


def _shell_words(args: list[str], sep: str = " \\\n    ") -> str:
    # Arguments that mention $OUT must expand in the shell; every other word is quoted.
    return sep.join(f'"{a}"' if "$OUT" in a else shlex.quote(a) for a in args)


def bundle_script(profile: TargetProfile, plan, options: dict) -> str:
    """The bundle's ``build.sh``: xnet-edge when installed, otherwise trtexec (GPU targets)."""
    xnet = _shell_words([*_xnet_edge_args(profile, plan, options), "-o", "$OUT"], sep=" ")
    lines = ["#!/bin/sh",
             f"# Build the {profile.name} engine on the device itself ({profile.description}).",
             f"# Written by xnet-edge {__version__}. Usage: sh build.sh [OUT_DIR]   (default: ./engine)",
             *(f"# note: {n}" for n in plan.notes),
             "set -eu", 'cd "$(dirname "$0")"', 'OUT="${1:-engine}"',
             "if command -v xnet-edge >/dev/null 2>&1; then", f"  exec {xnet}", "fi"]
    if not isinstance(plan, TrtBuildPlan):
        lines.append('echo "xnet-edge is not installed: pip install xnet-edge" >&2; exit 1')
        return "\n".join(lines) + "\n"
    trt = trtexec_args(plan, onnx=ONNX_NAME, engine="$OUT/model.plan", calibration_cache=CACHE_NAME,
                       timing_cache=TIMING_NAME, layer_info=f"$OUT/{LAYERS_NAME}")
    lines += ["# Without xnet-edge: a plain TensorRT plan (no manifest.json) built by trtexec.",
              FIND_TRTEXEC_SH.rstrip("\n"), 'mkdir -p "$OUT"', f'"$TRTEXEC" \\\n    {_shell_words(trt)}',
              'echo "wrote $OUT/model.plan"']
    return "\n".join(lines) + "\n"


def make_bundle(onnx_path: str | os.PathLike, target: str | TargetProfile, out_path: str | os.PathLike, *,
                precision: Optional[str] = None, dla: Optional[int] = None, workspace_mb: Optional[int] = None,
                opt_level: Optional[int] = None, calibration_cache: Optional[str | os.PathLike] = None,
                tensorrt: Optional[int] = None, max_batch: Optional[int] = None, threads: int = 0) -> BundleResult:
    """Check the build plan for ``target`` and write a tar.gz to build it on the device.

    Args:
        onnx_path: the model (FP32, FP16 or Q/DQ ONNX with xnet-edge metadata).
        target: target name or profile.
        out_path: the ``.tar.gz`` to write (atomically).
        precision, dla, workspace_mb, opt_level, max_batch, threads: as for ``build_engine``.
        calibration_cache: TensorRT calibration cache for legacy INT8.
        tensorrt: TensorRT generation on the device (8, 10, 11); the target's own by default.

    Returns:
        A :class:`BundleResult`.

    Raises:
        UsageError: unknown target, bad ONNX, missing cache, or an invalid combination.
    """
    profile = target if isinstance(target, TargetProfile) else get_target(target)
    info = read_contract(onnx_path)
    info.require_preprocessing()
    check_qdq_target(info, profile.is_gpu, profile.name)
    out_path = Path(out_path)
    if out_path.is_dir():
        raise UsageError(f"bundle output {out_path} is a folder; name a .tar.gz file")
    if calibration_cache is not None and not Path(calibration_cache).is_file():
        raise UsageError(f"calibration cache not found: {calibration_cache}")
    options = {"cpu_level": 2 if opt_level is None else int(opt_level)}
    if profile.is_gpu:
        generation = int(tensorrt) if tensorrt is not None else profile.trt_generations[0]
        if generation not in TRT_GENERATIONS:
            raise UsageError(f"--tensorrt must be one of {', '.join(map(str, TRT_GENERATIONS))}, got {tensorrt}")
        plan = plan_tensorrt_build(profile, generation, info.kind, info.image_input.name, info.image_input.shape,
                                   precision=precision, input_size=list(info.input_size),
                                   dla=dla, workspace_mb=workspace_mb, opt_level=opt_level,
                                   calibration="cache" if calibration_cache else None, max_batch=max_batch)
    else:
        plan = plan_cpu_build(profile, info.kind, precision=precision, threads=threads, opt_level=opt_level)
    files = {ONNX_NAME: info.path.read_bytes(),
             "target.json": (json.dumps(profile.to_dict(), indent=2) + "\n").encode()}
    if isinstance(plan, TrtBuildPlan) and plan.int8_source == "calibration-cache":
        files[CACHE_NAME] = Path(calibration_cache).read_bytes()
    files["build.sh"] = bundle_script(profile, plan, options).encode()
    files["bundle.json"] = _bundle_json(profile, plan, files, options)
    _write_tar(out_path, bundle_name(out_path), files)
    return BundleResult(out_path, plan, {name: len(data) for name, data in files.items()})


def _bundle_json(profile, plan, files: dict, options: dict) -> bytes:
    import hashlib

    meta = {"format": BUNDLE_FORMAT, "format_version": 1, "xnet_edge": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "target": profile.name, "precision": plan.precision,
            "tensorrt_generation": getattr(plan, "generation", None), "notes": list(plan.notes),
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
            "build_command": " ".join(_xnet_edge_args(profile, plan, options) + ["-o", "engine"])}
    return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()


def _write_tar(out_path: Path, root: str, files: dict) -> None:
    with atomic_path(out_path) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, data in files.items():
                entry = tarfile.TarInfo(f"{root}/{name}")
                entry.size = len(data)
                entry.mode = 0o755 if name.endswith(".sh") else 0o644
                entry.mtime = int(_dt.datetime.now().timestamp())
                tar.addfile(entry, io.BytesIO(data))


def read_bundle(path: str | os.PathLike) -> dict:
    """Open a bundle and verify every file against ``bundle.json``.

    Returns:
        The ``bundle.json`` dict.

    Raises:
        UsageError: not a bundle, or a file is missing or differs from its recorded sha256.
    """
    import hashlib

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"bundle not found: {path}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UsageError(f"{path} is not a readable bundle: {exc}") from None
    if "bundle.json" not in members:
        raise UsageError(f"{path} is not an xnet-edge bundle (no bundle.json)")
    meta = json.loads(members["bundle.json"])
    for name, digest in meta["files"].items():
        if name not in members or hashlib.sha256(members[name]).hexdigest() != digest:
            raise UsageError(f"{path}: {name} is missing or corrupt")
    return meta


__all__ = ["BundleResult", "bundle_script", "make_bundle", "read_bundle"]
