"""The only code that calls the TensorRT builder (TensorRT >= 10 Python API).

It executes a :class:`~.plan.TrtBuildPlan` — every decision was made there — with
the tensor-name API only: ``Builder``, ``create_network``, ``OnnxParser.parse``,
``create_builder_config``, ``set_flag``, ``set_memory_pool_limit``, optimization
profiles, timing cache, DLA settings, ``build_serialized_network`` and the engine
inspector. ``tensorrt`` is imported inside :func:`build_tensorrt_engine`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .._deps import require
from ..errors import XnetEdgeError
from ..targets import trt_generation
from .plan import TrtBuildPlan

if TYPE_CHECKING:  # NVIDIA's tensorrt-stubs give a type checker the real API (make typecheck)
    import tensorrt as trt_types


class EngineBuildError(XnetEdgeError):
    """TensorRT could not parse the model or build the engine."""


@dataclass
class TrtBuildOutput:
    """What a build produced (bytes; the caller writes the files)."""

    plan: bytes
    layer_info: Optional[str]
    timing_cache: Optional[bytes]
    tensorrt_version: str
    output_shapes: dict = field(default_factory=dict)


def import_tensorrt(min_generation: int = 10):
    """Import ``tensorrt`` and check its generation.

    Raises:
        MissingDependencyError: tensorrt is not installed (JetPack on a Jetson;
            ``pip install 'xnet-edge[trt]'`` with NVIDIA's index on x86).
        EngineBuildError: TensorRT is older than ``min_generation``.
    """
    trt = require("tensorrt")
    version = str(trt.__version__)
    if trt_generation(version) < min_generation:
        raise EngineBuildError(f"TensorRT {version} is installed; xnet-edge's builder needs TensorRT >= 10. "
                               "On JetPack 5 build with trtexec: `xnet-edge bundle ... --tensorrt 8` writes the script")
    return trt


def parser_errors(parser: trt_types.OnnxParser) -> list[str]:
    """Human-readable ONNX parser errors, each naming the failing node."""
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        name = _call(err, "node_name") or f"#{_call(err, 'node')}"
        op = _call(err, "node_operator")
        where = f"node {name}" + (f" ({op})" if op else "")
        lines.append(f"{where}: {_call(err, 'desc')}")
    return lines


def _call(obj: Any, method: str) -> Any:
    fn = getattr(obj, method, None)
    return fn() if callable(fn) else None


def build_tensorrt_engine(plan: TrtBuildPlan, onnx_path: str | os.PathLike, *,
                          timing_cache: Optional[bytes] = None, calibrator: Any = None,
                          verbose: bool = False) -> TrtBuildOutput:
    """Build a serialized TensorRT engine from an ONNX file, following ``plan``.

    Args:
        plan: a plan from :func:`~.plan.plan_tensorrt_build` with ``python_builder`` true.
        onnx_path: the ONNX model (its folder resolves external weights).
        timing_cache: a serialized timing cache to start from (b"" or None: empty).
        calibrator: an ``IInt8EntropyCalibrator2`` when ``plan.int8_source`` is a cache or calibrator.
        verbose: TensorRT's INFO log instead of WARNING.

    Returns:
        The plan bytes, the engine inspector's JSON, and the updated timing cache.

    Raises:
        MissingDependencyError: tensorrt is not installed.
        EngineBuildError: parse errors (one line per failing node) or a failed build.
    """
    trt = import_tensorrt()
    logger: trt_types.Logger = trt.Logger(trt.Logger.INFO if verbose else trt.Logger.WARNING)
    builder: trt_types.Builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, plan))
    _parse_onnx(trt, network, logger, Path(onnx_path))
    config = builder.create_builder_config()
    _configure(trt, builder, config, plan, calibrator)
    cache = config.create_timing_cache(timing_cache or b"")
    config.set_timing_cache(cache, False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT could not build the {plan.target} engine (see TensorRT's log above)")
    plan_bytes = bytes(serialized)
    layer_info, output_shapes = _inspect_plan(trt, logger, plan_bytes)
    return TrtBuildOutput(plan=plan_bytes, layer_info=layer_info,
                          timing_cache=bytes(config.get_timing_cache().serialize()),
                          tensorrt_version=str(trt.__version__), output_shapes=output_shapes)


def _network_flags(trt, plan: TrtBuildPlan) -> int:
    # TensorRT 11 networks are always strongly typed (the flag is deprecated there).
    if plan.strongly_typed and plan.generation == 10:
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return 0


def _parse_onnx(trt, network: trt_types.INetworkDefinition, logger: trt_types.Logger, onnx_path: Path) -> None:
    parser: trt_types.OnnxParser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes(), str(onnx_path)):
        errors = parser_errors(parser) or ["unknown parser error"]
        raise EngineBuildError(f"TensorRT could not parse {onnx_path.name}: " + "; ".join(errors))


def _configure(trt, builder: trt_types.Builder, config: trt_types.IBuilderConfig, plan: TrtBuildPlan,
               calibrator: Optional[trt_types.IInt8Calibrator]) -> None:
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(plan.workspace_mb) << 20)
    for flag in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if plan.opt_level is not None:
        config.builder_optimization_level = int(plan.opt_level)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = None
    if plan.profile is not None:
        profile = builder.create_optimization_profile()
        # tuples convert to Dims implicitly (the stubs' Dims docstring says so; their signature does not)
        profile.set_shape(plan.profile.input_name, plan.profile.min, plan.profile.opt,  # pyright: ignore[reportArgumentType]
                          plan.profile.max)  # pyright: ignore[reportArgumentType]
        if config.add_optimization_profile(profile) < 0:
            raise EngineBuildError(f"TensorRT refused the optimization profile {plan.profile.to_dict()}")
    if plan.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(plan.dla_core)
    if plan.int8_source in ("calibration-cache", "calibrator"):
        if calibrator is None:
            raise EngineBuildError("this plan calibrates INT8 but no calibrator was given")
        config.int8_calibrator = calibrator
        if profile is not None and plan.tensorrt.calibration_profile:
            config.set_calibration_profile(profile)


def _inspect_plan(trt, logger: trt_types.Logger, plan_bytes: bytes) -> tuple[Optional[str], dict]:
    """(engine inspector JSON, {output name: shape}) of the freshly built plan."""
    # Deserializing needs the GPU that built the plan, which is this one.
    runtime: trt_types.Runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan_bytes)
    if engine is None:
        raise EngineBuildError("TensorRT built a plan it cannot load back (see TensorRT's log above)")
    outputs = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
            outputs[name] = [int(d) for d in engine.get_tensor_shape(name)]
    inspector = engine.create_engine_inspector()
    return inspector.get_engine_information(trt.LayerInformationFormat.JSON), outputs
