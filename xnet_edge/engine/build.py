"""``build_engine``: one entry point that builds an engine folder for any target.

Order of work, so that a mistake never leaves a folder behind:

1. validate everything the user gave (:class:`~.options.BuildOptions`, target, ONNX, metadata,
   calibration inputs, output folder) and decide the plan (:func:`~.plan.plan_for_model`) —
   :class:`~xnet_edge.errors.UsageError`, exit 2;
2. import the backend (TensorRT / ONNX Runtime); a GPU plan is decided again only when the
   installed TensorRT is another release than the target's it was decided for;
3. build inside a temporary folder next to ``out_dir`` and rename it into place
   only when the engine, copies of the inputs and the manifest are all written.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..contract import Contract, TensorSpec, check_output_shape, check_qdq_target, read_contract
from ..errors import UsageError
from ..io_utils import atomic_dir, check_writable, current_umask, sha256_file, write_bytes_atomic
from ..platform import machine_info
from ..targets import TargetProfile, get_target
from . import manifest as mf
from .build_options import BuildOptions
from .plan import CpuBuildPlan, TrtBuildPlan, plan_for_model, release_for, target_mismatches

ONNX_NAME = "model.onnx"
CACHE_NAME = "calibration.cache"
LAYERS_NAME = "layers.json"
SCRIPT_NAME = "build.sh"
TIMING_NAME = "timing.cache"


class TargetMismatchWarning(UserWarning):
    """The build machine is not the target device: the engine will not load on the target."""


@dataclass
class BuildResult:
    """A finished engine folder."""

    out_dir: Path
    manifest: dict
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _noop(_msg: str) -> None:
    pass


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """Refuse an output path that is a file or a non-empty folder that is not an engine folder.

    Raises:
        UsageError: replacing it could destroy unrelated files.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / mf.MANIFEST_NAME).is_file():
        raise UsageError(f"refusing to replace {out}: it is not empty and not an engine folder")
    return out


def build_engine(onnx_path: str | os.PathLike, target: str | TargetProfile, out_dir: str | os.PathLike,
                 options: Optional[BuildOptions] = None, *, log: Callable[[str], None] = _noop,
                 verbose: bool = False, **option_values: Any) -> BuildResult:
    """Build an engine folder (engine, input copies, manifest.json) for a target.

    Args:
        onnx_path: the exported (FP32, FP16 or Q/DQ) ONNX model.
        target: a target name or profile (``xnet-edge targets``).
        out_dir: the engine folder to create (an existing engine folder is replaced).
        options: a :class:`~.options.BuildOptions` (precision, DLA core, workspace, timing cache,
            opt level, calibration input, max batch, cpu threads); None: the defaults.
        log: called with one line per build step.
        verbose: TensorRT INFO logging.
        **option_values: :class:`~.options.BuildOptions` fields by name, applied over ``options``
            (``build_engine(onnx, "cpu", out, threads=2)`` is ``options=BuildOptions(threads=2)``);
            an unknown name is a usage error.

    Returns:
        A :class:`BuildResult`; mismatch warnings are also issued as
        :class:`TargetMismatchWarning`.

    Raises:
        UsageError: unknown target or option, missing/corrupt ONNX, invalid option combination.
        MissingDependencyError: TensorRT or ONNX Runtime is missing.
        XnetEdgeError: the backend failed to build.
    """
    options = BuildOptions.merged(options, option_values, "build_engine")
    profile = target if isinstance(target, TargetProfile) else get_target(target)
    info = read_contract(onnx_path)
    preprocessing = info.require_preprocessing().to_dict()
    check_qdq_target(info, profile.is_gpu, profile.name)
    options.check_files()
    if options.calibration_cache is not None and profile.is_gpu:
        from .trt_calibrator import check_calibration_cache

        check_calibration_cache(options.calibration_cache, None)  # a calibration cache at all
    out = check_out_dir(out_dir)
    options.check_target(profile)
    check_writable(out, "output", is_dir=True)
    plan = plan_for_model(profile, info, options)  # GPU: fails here, before TensorRT is needed
    log(f"{info.path.name}: {info.kind.upper()} model, input {info.image_input.name} "
        f"{list(info.image_input.shape)}, {info.num_nodes} nodes -> target {profile.name}")
    if isinstance(plan, CpuBuildPlan):
        return _build_cpu(info, profile, out, preprocessing, plan, log)
    return _build_tensorrt(info, profile, out, preprocessing, plan, options, log=log, verbose=verbose)


def _io_specs(info: Contract, preprocessing: dict, output_shapes: Optional[dict]) -> tuple[list, list]:
    """Manifest I/O: the input with its H/W fixed; outputs with the shapes the engine produced.

    ``output_shapes`` are shapes seen for batch 1 (or the engine's own); a dynamic
    batch stays -1 as in the ONNX.
    """
    h, w = preprocessing["input_size"]
    image = info.image_input
    n, c = image.shape[0], image.shape[1] if image.shape[1] > 0 else 3
    inputs = [{"name": image.name, "shape": [n, c, int(h), int(w)], "dtype": image.dtype.name}]
    outputs = []
    for spec in info.outputs:
        shape = list((output_shapes or {}).get(spec.name) or spec.shape)
        if n < 0 and shape:
            shape[0] = -1
        outputs.append({"name": spec.name, "shape": [int(d) for d in shape], "dtype": spec.dtype.name})
    return inputs, outputs


def _make_readable(folder: Path) -> None:
    # atomic_dir publishes the folder itself; copied inputs keep their source's (possibly
    # private) modes, and build.sh must be executable, so normalize every file here.
    umask = current_umask()
    for path in folder.iterdir():
        os.chmod(path, (0o777 if path.suffix == ".sh" else 0o666) & ~umask)


def _manifest(info, profile, preprocessing, *, kind, artifact, precision, tmp, machine, runtime,
              output_shapes=None) -> dict:
    inputs, outputs = _io_specs(info, preprocessing, output_shapes)
    cache = tmp / CACHE_NAME
    return mf.new_manifest(
        artifact_kind=kind, artifact_file=artifact, artifact_sha256=sha256_file(tmp / artifact),
        target=profile.to_dict(), precision=precision, inputs=inputs, outputs=outputs,
        preprocessing=preprocessing, model=info.config, output=info.output.to_dict(), onnx_file=ONNX_NAME,
        onnx_sha256=sha256_file(tmp / ONNX_NAME),
        calibration_cache={"file": CACHE_NAME, "sha256": sha256_file(cache)} if cache.is_file() else None,
        build_machine=machine, runtime=runtime)


def _build_cpu(info, profile, out, preprocessing, plan: CpuBuildPlan, log) -> BuildResult:
    from .cpu_builder import optimize_for_cpu, smoke_test

    for note in plan.notes:
        log(f"note: {note}")
    machine = machine_info(probe_gpu=False)
    with atomic_dir(out) as tmp:
        shutil.copyfile(info.path, tmp / ONNX_NAME)
        log(f"optimizing with ONNX Runtime {machine['onnxruntime']} ({plan.graph_optimization_level}, "
            f"{plan.precision})")
        engine = optimize_for_cpu(tmp / ONNX_NAME, tmp / mf.ARTIFACT_KINDS["onnx"], plan)
        h, w = preprocessing["input_size"]
        shapes = smoke_test(engine, info.image_input.name, (1, 3, h, w), plan.intra_op_num_threads)
        if info.output_name in shapes:
            check_output_shape(TensorSpec(info.output_name, shapes[info.output_name]), info.output, str(info.path))
        manifest = _manifest(info, profile, preprocessing, kind="onnx", artifact=mf.ARTIFACT_KINDS["onnx"],
                             precision=plan.precision, tmp=tmp, machine=machine,
                             runtime={"onnxruntime": plan.runtime_dict()}, output_shapes=shapes)
        mf.write_manifest(tmp, manifest)
        _make_readable(tmp)
    log(f"wrote {out}")
    return BuildResult(out, manifest, [], list(plan.notes))


def default_timing_cache_path(tensorrt_version: str, machine: dict) -> Path:
    """Per-user timing cache: ``$XDG_CACHE_HOME/xnet-edge/timing/trt<ver>-<gpu>.cache``.

    Timing caches are only valid for one TensorRT version and GPU, so both are in the name.
    """
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cc = (machine.get("compute_capability") or "unknown").replace(".", "")
    return root / "xnet-edge" / "timing" / f"trt{tensorrt_version}-sm{cc}.cache"


def _build_tensorrt(info, profile, out, preprocessing, plan: TrtBuildPlan, options: BuildOptions, *,
                    log, verbose) -> BuildResult:
    """Build ``plan``; planned again only when the installed TensorRT is another release than it was for."""
    from .tensorrt_builder import EngineBuildError, build_tensorrt_engine, import_tensorrt
    from .trtexec_script import build_script

    trt = import_tensorrt(min_generation=8)
    version = str(trt.__version__)
    if release_for(profile, version).name != plan.release:
        plan = plan_for_model(profile, info, options, tensorrt=version)
    if not plan.python_builder:
        raise EngineBuildError(f"TensorRT {version} is installed; xnet-edge's builder needs TensorRT >= 10. "
                               f"Build with trtexec: xnet-edge bundle {info.path} --target {profile.name} "
                               f"--tensorrt {plan.release} -o bundle.tar.gz, then run its build.sh (it runs "
                               "trtexec for TensorRT 8)")
    if plan.int8_source == "calibration-cache":
        from .trt_calibrator import check_calibration_cache

        for note in check_calibration_cache(options.calibration_cache, version):
            log(f"note: {note}")
    machine = {**machine_info(), "tensorrt": version}
    mismatches = target_mismatches(profile, machine)
    for message in mismatches:
        warnings.warn(message, TargetMismatchWarning, stacklevel=3)
    for note in plan.notes:
        log(f"note: {note}")
    timing_path = options.timing_cache or default_timing_cache_path(version, machine)
    with atomic_dir(out) as tmp:
        shutil.copyfile(info.path, tmp / ONNX_NAME)
        calibrator = _calibrator(plan, tmp, info, options)
        log(f"building with TensorRT {version}: precision {plan.precision}, flags {list(plan.flags) or 'none'}"
            f"{', strongly typed' if plan.strongly_typed else ''}"
            f"{f', DLA core {plan.dla_core}' if plan.dla_core is not None else ''}")
        try:
            built = build_tensorrt_engine(plan, tmp / ONNX_NAME, calibrator=calibrator, verbose=verbose,
                                          timing_cache=timing_path.read_bytes() if timing_path.is_file() else None)
        finally:
            if calibrator is not None:
                calibrator.close()
        (tmp / mf.ARTIFACT_KINDS["tensorrt-plan"]).write_bytes(built.plan)
        if built.layer_info:
            (tmp / LAYERS_NAME).write_text(_pretty_json(built.layer_info))
        (tmp / SCRIPT_NAME).write_text(build_script(plan, calibration_cache=CACHE_NAME, timing_cache=TIMING_NAME,
                                                    layer_info=LAYERS_NAME))
        manifest = _manifest(info, profile, preprocessing, kind="tensorrt-plan",
                             artifact=mf.ARTIFACT_KINDS["tensorrt-plan"], precision=plan.precision, tmp=tmp,
                             machine=machine, runtime={"tensorrt": plan.runtime_dict()},
                             output_shapes=built.output_shapes)
        mf.write_manifest(tmp, manifest)
        _make_readable(tmp)
    if built.timing_cache:
        write_bytes_atomic(timing_path, built.timing_cache)
    log(f"wrote {out} (timing cache {timing_path})")
    return BuildResult(out, manifest, mismatches, list(plan.notes))


def _calibrator(plan: TrtBuildPlan, tmp: Path, info: Contract, options: BuildOptions):
    if plan.int8_source not in ("calibration-cache", "calibrator"):
        return None
    from .trt_calibrator import calibration_batches, make_entropy_calibrator

    if plan.int8_source == "calibration-cache":
        shutil.copyfile(options.calibration_cache, tmp / CACHE_NAME)
        return make_entropy_calibrator(tmp / CACHE_NAME)
    shape = plan.input_shape
    batches = calibration_batches(options.calibration_images, info.require_preprocessing(), batch_size=int(shape[0]))
    return make_entropy_calibrator(tmp / CACHE_NAME, batches, batch_shape=shape)


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2) + "\n"
    except (TypeError, ValueError):
        return text


def inspect_engine(out_dir: str | os.PathLike) -> tuple[dict, list]:
    """Read an engine folder's manifest and check its hashes (no exception on mismatch).

    Returns:
        (manifest, list of :class:`~xnet_edge.engine.manifest.FileCheck`).

    Raises:
        UsageError: not an engine folder.
        ManifestError: the manifest is malformed.
    """
    manifest = mf.read_manifest(out_dir)
    return manifest, mf.check_hashes(out_dir, manifest)
