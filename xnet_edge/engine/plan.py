"""Build decisions as data: which precision path, flags and shape profile a target gets.

Nothing here touches TensorRT or ONNX Runtime. :func:`plan_tensorrt_build` turns
(target, TensorRT generation, model kind, the user's :class:`~.options.BuildOptions`) into a
:class:`TrtBuildPlan` (:func:`plan_cpu_build`: a :class:`CpuBuildPlan`; :func:`plan_for_model`
picks one for a model); :mod:`.tensorrt_builder` and :mod:`.trtexec_script` only execute
or print it. The rules, by TensorRT generation:

=========  ===============================  ===============================  ==========================
model      TensorRT 8 (JetPack 5, trtexec)  TensorRT 10                      TensorRT 11 (strongly typed)
=========  ===============================  ===============================  ==========================
FP32 ONNX  fp16: FP16 flag; int8/best:      same as 8; the calibration       fp32 only (fp16 needs an
           INT8 flag + calibration cache    cache or an IInt8Entropy-        FP16 ONNX, int8 a Q/DQ
                                            Calibrator2 on images            ONNX)
FP16 ONNX  FP16 flag                        STRONGLY_TYPED network           as built
Q/DQ ONNX  INT8 (+FP16 for best) flags      INT8 (+FP16 for best) flags      as built
=========  ===============================  ===============================  ==========================

Within a generation the release decides the rest (:mod:`.trt_releases`): TensorRT 8.5
has no builder optimization level and builds with ``--buildOnly``; 8.6 (JetPack 6.0)
has both newer options. DLA (Jetson) runs FP16/INT8 only, with GPU fallback for
unsupported layers and static shapes; on TensorRT 10.x a DLA plan never uses a strongly
typed network (not established there), so an FP16 ONNX builds with the FP16 flag.
Invalid combinations raise :class:`~xnet_edge.errors.UsageError` with the fix in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

from ..errors import UsageError
from ..targets import PRECISIONS, TRT_GENERATIONS, TargetProfile
from .build_options import BuildOptions
from .trt_releases import TensorRTRelease, tensorrt_release

if TYPE_CHECKING:
    from ..contract import Contract

ORT_LEVELS = ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")
DEFAULT_ORT_LEVEL = 2  # extended: fusions that stay portable across CPUs (level 3 adds NCHWc layouts)


@dataclass(frozen=True)
class ShapeProfile:
    """One optimization profile for the image input: min / opt / max shapes."""

    input_name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"input": self.input_name, "min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


@dataclass(frozen=True)
class TrtBuildPlan:
    """Everything the TensorRT builder (or trtexec) needs to know, decided up front.

    Attributes:
        target: target name.
        generation: TensorRT generation the plan is for (8, 10, 11).
        precision: the requested precision after defaults (fp32/fp16/int8/best).
        onnx_kind: ``"fp32"``, ``"fp16"`` or ``"qdq"``.
        strongly_typed: create the network with the STRONGLY_TYPED flag (always true on 11).
        flags: ``trt.BuilderFlag`` member names to set (``"FP16"``, ``"INT8"``, ``"GPU_FALLBACK"``).
        int8_source: where INT8 scales come from: ``"qdq"``, ``"calibration-cache"``,
            ``"calibrator"`` (IInt8EntropyCalibrator2 on images), or None.
        dla_core: DLA core index or None (GPU).
        workspace_mb: workspace memory pool limit (MiB).
        opt_level: builder optimization level 0-5, or None for TensorRT's default.
        input_shape: the image input's build shape at the profile's opt point.
        profile: the optimization profile, or None when every input dimension is static.
        python_builder: False when only trtexec can build (TensorRT 8).
        notes: decisions worth telling the user (ignored options, fallbacks).
        release: the TensorRT release line the plan is for (``"8.5"``, ``"8.6"``, ``"10.3"``,
            ``"10"``, ``"11"``; see :mod:`.trt_releases`).
    """

    target: str
    generation: int
    precision: str
    onnx_kind: str
    strongly_typed: bool
    flags: tuple[str, ...]
    int8_source: Optional[str]
    dla_core: Optional[int]
    workspace_mb: int
    opt_level: Optional[int]
    input_shape: tuple[int, ...]
    profile: Optional[ShapeProfile]
    python_builder: bool
    notes: tuple[str, ...] = ()
    release: str = ""

    @property
    def tensorrt(self) -> TensorRTRelease:
        """The :class:`~.trt_releases.TensorRTRelease` row of :attr:`release`."""
        return tensorrt_release(self.release or self.generation)

    def runtime_dict(self) -> dict:
        """The manifest's ``runtime.tensorrt`` block."""
        return {"dla_core": self.dla_core, "generation": self.generation, "release": self.release,
                "strongly_typed": self.strongly_typed,
                "flags": list(self.flags), "int8_source": self.int8_source, "workspace_mb": self.workspace_mb,
                "opt_level": self.opt_level, "profile": self.profile.to_dict() if self.profile else None}


@dataclass(frozen=True)
class CpuBuildPlan:
    """The cpu target: ONNX Runtime offline graph optimization settings."""

    precision: str
    graph_optimization_level: str
    intra_op_num_threads: int
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    notes: tuple[str, ...] = ()

    @property
    def session_optimization_level(self) -> str:
        """The level the runtime opens the engine with.

        The saved graph holds only portable fusions (EXTENDED); the CPU-specific NCHWc
        layouts of ORT_ENABLE_ALL are applied when the session loads on the robot's own
        CPU, which roughly halves FP32 latency on x86. A build asked to optimize less
        (debugging) loads at that same lower level.
        """
        if self.graph_optimization_level in ("ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"):
            return "ORT_ENABLE_ALL"
        return self.graph_optimization_level

    @property
    def opt_level(self) -> int:
        """The offline level as ``--opt-level`` spells it (0-3)."""
        return ORT_LEVELS.index(self.graph_optimization_level)

    def runtime_dict(self) -> dict:
        """The manifest's ``runtime.onnxruntime`` block (``graph_optimization_level`` is the load-time one)."""
        return {"intra_op_num_threads": self.intra_op_num_threads,
                "graph_optimization_level": self.session_optimization_level,
                "offline_optimization_level": self.graph_optimization_level,
                "providers": list(self.providers)}


# --------------------------------------------------------------------------- precision


def resolve_precision(target: TargetProfile, requested: Optional[str], onnx_kind: str) -> str:
    """The precision to build: the requested one, or the default implied by the model and target.

    A Q/DQ model defaults to int8, an FP16 model to fp16, anything else to the
    target's default.

    Raises:
        UsageError: unknown precision, or one the target does not support.
    """
    if requested in (None, "", "auto"):
        if onnx_kind == "qdq":
            return "int8"
        if onnx_kind == "fp16" and "fp16" in target.precisions:
            return "fp16"
        return target.default_precision
    if requested not in PRECISIONS:
        raise UsageError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    if requested not in target.precisions:
        raise UsageError(f"target {target.name} supports {', '.join(target.precisions)}, not {requested}")
    return requested


def _qdq_hint() -> str:
    return "make one with `xnet-edge calibrate` (Q/DQ ONNX)"


def _tensorrt_precision_path(release: TensorRTRelease, precision: str, kind: str, calibration: Optional[str],
                             dla: bool) -> tuple[bool, tuple[str, ...], Optional[str], list[str]]:
    """(strongly_typed, flags, int8_source, notes) for one release/precision/model kind."""
    generation = release.generation
    notes: list[str] = []
    if kind == "qdq":
        if precision in ("fp32", "fp16"):
            raise UsageError(f"the model is INT8 Q/DQ; build it with --precision int8 or best "
                             f"(or pass the float ONNX for {precision})")
        if calibration:
            notes.append("calibration input ignored: the Q/DQ model carries its own scales")
        if generation == 11:
            return True, (), "qdq", notes
        return False, ("INT8", "FP16") if precision == "best" else ("INT8",), "qdq", notes
    if kind == "fp16":
        if precision in ("fp32", "int8"):
            fix = "pass the FP32 ONNX" if precision == "fp32" else "build INT8 from the Q/DQ ONNX"
            raise UsageError(f"the model is FP16; it cannot build a {precision} engine: {fix}")
        if release.strongly_typed == "no":
            return False, ("FP16",), None, notes
        if dla and release.strongly_typed == "flag" and not release.dla_strongly_typed:
            notes.append(f"DLA with a strongly typed network is not established on TensorRT {release.name}: "
                         "the FP16 ONNX builds with the FP16 flag")
            return False, ("FP16",), None, notes
        return True, (), None, notes
    # FP32 ONNX
    if generation == 11:
        if precision == "fp16":
            raise UsageError("TensorRT 11 builds strongly typed networks: FP16 needs an FP16 ONNX "
                             "(cast the model, keeping LayerNorm/Softmax/head in FP32)")
        if precision == "int8":
            raise UsageError(f"TensorRT 11 removed implicit INT8 calibration: build from a Q/DQ ONNX; {_qdq_hint()}")
        if calibration:
            notes.append("calibration input ignored: TensorRT 11 only uses Q/DQ scales")
        if precision == "best":
            notes.append("TensorRT 11 builds an FP32 ONNX as FP32; pass an FP16 or Q/DQ ONNX for lower precision")
        return True, (), None, notes
    if precision == "fp32":
        return False, (), None, notes
    if precision == "fp16":
        return False, ("FP16",), None, notes
    if calibration == "calibrator" and generation == 8:
        raise UsageError("TensorRT 8 builds go through trtexec, which needs a calibration cache, not images")
    source = {"cache": "calibration-cache", "calibrator": "calibrator"}.get(calibration or "")
    if precision == "int8":
        if source is None:
            raise UsageError("INT8 needs scales: pass a Q/DQ ONNX, --calibration-cache, or --calibration-images; "
                             + _qdq_hint())
        return False, ("INT8",), source, notes
    if source is None:  # best without INT8 ranges
        notes.append("no INT8 scales (Q/DQ model or calibration cache): 'best' builds FP16")
        return False, ("FP16",), None, notes
    return False, ("FP16", "INT8"), source, notes


def _is_fp32_only(flags: Sequence[str], kind: str) -> bool:
    return kind == "fp32" and not ({"FP16", "INT8"} & set(flags))


# --------------------------------------------------------------------------- shapes


def build_input_shape(shape: Sequence[int], input_size: Optional[Sequence[int]], target: TargetProfile,
                      max_batch: Optional[int], dla: bool) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) shapes for the image input.

    Static dimensions are kept; a dynamic H/W takes ``input_size`` (the model's
    preprocessing size); a dynamic batch spans 1..max_batch (the target's by
    default) with opt 1 (robots run one frame at a time). DLA needs static
    shapes, so the batch is pinned to 1 there.

    Raises:
        UsageError: a dynamic H/W without an input size, a non-image shape, or max_batch < 1.
    """
    if len(shape) != 4:
        raise UsageError(f"expected an (N,3,H,W) input, got shape {list(shape)}")
    n, c, h, w = (int(d) for d in shape)
    if h < 0 or w < 0:
        if not input_size:
            raise UsageError("the ONNX input has a dynamic height/width and no input size in its metadata")
        h = h if h > 0 else int(input_size[0])
        w = w if w > 0 else int(input_size[1])
    c = c if c > 0 else 3
    if n > 0:
        fixed = (n, c, h, w)
        return fixed, fixed, fixed
    top = int(max_batch if max_batch is not None else target.max_batch)
    if top < 1:
        raise UsageError(f"--max-batch must be at least 1, got {top}")
    if dla:
        top = 1
    return (1, c, h, w), (1, c, h, w), (top, c, h, w)


# --------------------------------------------------------------------------- plans


def plan_tensorrt_build(target: TargetProfile, generation: int | str, onnx_kind: str, input_name: str,
                        input_shape: Sequence[int], options: Optional[BuildOptions] = None, *,
                        input_size: Optional[Sequence[int]] = None) -> TrtBuildPlan:
    """Decide a TensorRT build.

    Args:
        target: a GPU target profile.
        generation: TensorRT generation that will build (8, 10, 11; the target's release of it),
            or the TensorRT version / release (``"8.6"``, ``"10.3.0.30"``); see :func:`release_for`.
        onnx_kind: ``"fp32"``, ``"fp16"`` or ``"qdq"`` (see :func:`xnet_edge.contract.model_kind`).
        input_name, input_shape: the image input (-1 for dynamic dimensions).
        options: the user's :class:`~.options.BuildOptions` (precision, dla, workspace_mb,
            opt_level, calibration input, max_batch); None: all defaults.
        input_size: (H, W) from the model's preprocessing, for a dynamic H/W.

    Returns:
        A :class:`TrtBuildPlan`.

    Raises:
        UsageError: the combination cannot build; the message names the fix.
    """
    options = options if options is not None else BuildOptions()
    if not target.is_gpu:
        raise UsageError(f"target {target.name} is not a TensorRT target")
    release = release_for(target, generation)
    generation = release.generation
    if onnx_kind not in ("fp32", "fp16", "qdq"):
        raise UsageError(f"unknown model kind {onnx_kind!r}")
    dla = options.dla
    resolved = resolve_precision(target, options.precision, onnx_kind)
    strongly_typed, flags, int8_source, notes = _tensorrt_precision_path(release, resolved, onnx_kind,
                                                                         options.calibration, dla is not None)
    if dla is not None:
        _check_dla(target, dla, flags, onnx_kind)
        if strongly_typed and not release.dla_strongly_typed:
            raise UsageError(f"TensorRT {release.name} builds only strongly typed networks, and DLA with a strongly "
                             "typed network is not established there: drop --dla or build with TensorRT 10")
        flags = (*flags, "GPU_FALLBACK")
    workspace = int(options.workspace_mb if options.workspace_mb is not None else target.workspace_mb)
    opt_level = options.opt_level
    if opt_level is not None and not 0 <= opt_level <= 5:
        raise UsageError(f"--opt-level for TensorRT must be 0-5, got {opt_level}")
    if opt_level is not None and not release.opt_level:
        notes.append(f"TensorRT {release.name} has no builder optimization level: --opt-level ignored")
        opt_level = None
    lo, opt, hi = build_input_shape(input_shape, input_size, target, options.max_batch, dla is not None)
    dynamic = any(int(d) < 0 for d in input_shape)
    profile = ShapeProfile(input_name, lo, opt, hi) if dynamic else None
    return TrtBuildPlan(target=target.name, generation=generation, precision=resolved, onnx_kind=onnx_kind,
                        strongly_typed=strongly_typed, flags=tuple(flags), int8_source=int8_source,
                        dla_core=dla, workspace_mb=workspace, opt_level=opt_level, input_shape=opt,
                        profile=profile, python_builder=release.python_builder, notes=tuple(notes),
                        release=release.name)


def plan_for_model(target: TargetProfile, info: "Contract", options: BuildOptions,
                   tensorrt: Optional[int | str] = None) -> TrtBuildPlan | CpuBuildPlan:
    """The plan for one model (a :func:`~xnet_edge.contract.read_contract` result) on ``target``.

    Args:
        target: the build's target.
        info: the model's contract (kind, image input, preprocessing).
        options: the build's options.
        tensorrt: GPU targets: the TensorRT generation, release or version that will build. None
            plans for the first of the target's generations that can build these options, so a
            bad combination fails before TensorRT is needed.

    Returns:
        A :class:`CpuBuildPlan` for the cpu target, else a :class:`TrtBuildPlan`.

    Raises:
        UsageError: no plan can build these options (the first generation's reason).
    """
    kind = info.kind
    if kind is None:  # only ONNX files have a model kind
        raise UsageError(f"{info.where} is not an ONNX model; build and bundle take an exported .onnx")
    if not target.is_gpu:
        return plan_cpu_build(target, kind, options)
    image = info.image_input
    candidates = [tensorrt] if tensorrt is not None else list(target.trt_generations)
    errors = []
    for candidate in candidates:
        try:
            return plan_tensorrt_build(target, candidate, kind, image.name, image.shape, options,
                                       input_size=info.input_size)
        except UsageError as exc:
            errors.append(exc)
    raise errors[0]


def release_for(target: TargetProfile, tensorrt: int | str) -> TensorRTRelease:
    """The TensorRT release a build for ``target`` targets, from a generation or a version.

    A generation (8, 10, 11) picks the target's own release of that generation (an Orin
    with generation 8 is JetPack 6.0's TensorRT 8.6); a version (``"8.6.2"``, ``"10.3"``)
    names the release directly.

    Raises:
        UsageError: an unknown generation or version.
    """
    if isinstance(tensorrt, int) or str(tensorrt).strip().isdigit():
        generation = int(tensorrt)
        if generation not in TRT_GENERATIONS:
            raise UsageError(f"unknown TensorRT generation {generation}; known: {TRT_GENERATIONS}")
        for name in target.tensorrt_releases:
            if tensorrt_release(name).generation == generation:
                return tensorrt_release(name)
    return tensorrt_release(tensorrt)


def _check_dla(target: TargetProfile, dla: int, flags: Sequence[str], kind: str) -> None:
    if target.dla_cores == 0:
        raise UsageError(f"target {target.name} has no DLA cores; drop --dla")
    if not 0 <= int(dla) < target.dla_cores:
        raise UsageError(f"--dla {dla} is out of range: {target.name} has DLA cores 0..{target.dla_cores - 1}")
    if _is_fp32_only(flags, kind):
        raise UsageError("DLA runs FP16 or INT8 only: use --precision fp16, int8 or best with --dla")


def plan_cpu_build(target: TargetProfile, onnx_kind: str, options: Optional[BuildOptions] = None) -> CpuBuildPlan:
    """Decide a cpu-target build (ONNX Runtime offline optimization).

    The model decides the arithmetic: a Q/DQ model runs INT8, a float model FP32.

    Args:
        target: the cpu profile.
        onnx_kind: ``"fp32"``, ``"fp16"`` or ``"qdq"``.
        options: reads ``precision`` (fp32/int8/best or None; best and None follow the model),
            ``threads`` (``intra_op_num_threads``; 0: ONNX Runtime's default, one per physical core)
            and ``opt_level`` (0-3 -> ORT_DISABLE_ALL/BASIC/EXTENDED/ALL; None for EXTENDED).

    Raises:
        UsageError: an FP16 model, int8 without a Q/DQ model, fp32 with a Q/DQ model, or a level above 3.
    """
    options = options if options is not None else BuildOptions()
    if target.is_gpu:
        raise UsageError(f"target {target.name} is a TensorRT target, not cpu")
    if onnx_kind == "fp16":
        raise UsageError("the cpu target runs FP32 or INT8 (Q/DQ) models; pass the FP32 ONNX")
    resolved = resolve_precision(target, options.precision, onnx_kind)
    if resolved == "best":
        resolved = "int8" if onnx_kind == "qdq" else "fp32"
    if resolved == "int8" and onnx_kind != "qdq":
        raise UsageError(f"cpu INT8 needs a Q/DQ model; {_qdq_hint()}")
    if resolved == "fp32" and onnx_kind == "qdq":
        raise UsageError("the model is INT8 Q/DQ; build it with --precision int8 (or pass the FP32 ONNX)")
    level = DEFAULT_ORT_LEVEL if options.opt_level is None else options.opt_level
    if not 0 <= level < len(ORT_LEVELS):
        raise UsageError(f"--opt-level for the cpu target must be 0-3, got {level}")
    notes = ("ORT_ENABLE_ALL adds CPU-specific layouts: run the engine on this CPU type only",) if level == 3 else ()
    return CpuBuildPlan(precision=resolved, graph_optimization_level=ORT_LEVELS[level],
                        intra_op_num_threads=options.threads, notes=notes)


# --------------------------------------------------------------------------- target vs machine


def target_mismatches(target: TargetProfile, machine: dict) -> list[str]:
    """Reasons an engine built on ``machine`` would not load on ``target`` (empty: it matches).

    Args:
        target: the build's target profile.
        machine: :func:`~xnet_edge.platform.machine_info` output of the build machine.

    Returns:
        One message per mismatch: GPU compute capability, TensorRT generation or
        release (a Jetson's TensorRT comes with its JetPack).
    """
    if not target.is_gpu:
        return []
    problems = []
    cc = machine.get("compute_capability")
    if cc is None:
        problems.append(f"no GPU found on this machine; the engine is for compute capability "
                        f"{target.compute_capability} ({target.description})")
    elif cc != target.compute_capability:
        problems.append(f"this GPU ({machine.get('gpu_name')}, compute capability {cc}) is not the target's "
                        f"({target.compute_capability}, {target.description}): the engine will not load there")
    version = machine.get("tensorrt")
    if version:
        from ..targets import trt_generation

        gen = trt_generation(version)
        releases = target.tensorrt_releases or ((target.tensorrt,) if target.tensorrt else ())
        if gen not in target.trt_generations:
            problems.append(f"TensorRT {version} (generation {gen}) differs from the target's "
                            f"{target.tensorrt or target.trt_generations}: the engine will not load there")
        elif releases and not any(str(version).startswith(r + ".") or str(version) == r for r in releases):
            problems.append(f"TensorRT {version} differs from the target's TensorRT {' or '.join(releases)} "
                            f"(JetPack {target.jetpack}): the engine will not load there")
    return problems
