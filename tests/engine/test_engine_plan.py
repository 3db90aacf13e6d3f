"""Precision-path and profile decisions for every target x TensorRT generation x precision x model kind."""

import itertools

import pytest

from xnet_edge.engine.build_options import BuildOptions
from xnet_edge.engine.plan import (build_input_shape, plan_cpu_build, plan_tensorrt_build, resolve_precision,
                                   target_mismatches)
from xnet_edge.errors import UsageError
from xnet_edge.targets import PRECISIONS, TRT_GENERATIONS, get_target, list_targets

GPU_TARGETS = [t for t in list_targets() if t.is_gpu]
KINDS = ("fp32", "fp16", "qdq")
CALIBRATION = (None, "cache", "calibrator")
DYNAMIC = (-1, 3, 64, 96)


#: the calibration input that makes each calibration mode (the plan never opens these files)
CALIBRATION_INPUT = {None: {}, "cache": {"calibration_cache": "c.cache"}, "calibrator": {"calibration_images": "images/"}}


def _plan(target, gen, kind, precision, calibration=None, **kw):
    options = BuildOptions(precision=precision, **CALIBRATION_INPUT[calibration], **kw)
    return plan_tensorrt_build(target, gen, kind, "image", DYNAMIC, options, input_size=(64, 96))


# Hand-written table (docs/design.md, "Quantization and engines"): (generation, kind, precision, calibration) ->
# (strongly_typed, flags, int8_source) or the UsageError text.
EXPECTED = {
    (10, "fp32", "fp32", None): (False, (), None),
    (10, "fp32", "fp16", None): (False, ("FP16",), None),
    (10, "fp32", "int8", None): "INT8 needs scales",
    (10, "fp32", "int8", "cache"): (False, ("INT8",), "calibration-cache"),
    (10, "fp32", "int8", "calibrator"): (False, ("INT8",), "calibrator"),
    (10, "fp32", "best", None): (False, ("FP16",), None),
    (10, "fp32", "best", "cache"): (False, ("FP16", "INT8"), "calibration-cache"),
    (10, "fp16", "fp16", None): (True, (), None),
    (10, "fp16", "best", None): (True, (), None),
    (10, "fp16", "fp32", None): "model is FP16",
    (10, "fp16", "int8", "cache"): "model is FP16",
    (10, "qdq", "int8", None): (False, ("INT8",), "qdq"),
    (10, "qdq", "best", None): (False, ("INT8", "FP16"), "qdq"),
    (10, "qdq", "int8", "cache"): (False, ("INT8",), "qdq"),
    (10, "qdq", "fp16", None): "model is INT8 Q/DQ",
    (8, "fp32", "fp16", None): (False, ("FP16",), None),
    (8, "fp32", "int8", "cache"): (False, ("INT8",), "calibration-cache"),
    (8, "fp32", "int8", "calibrator"): "needs a calibration cache",
    (8, "fp16", "fp16", None): (False, ("FP16",), None),
    (8, "qdq", "best", None): (False, ("INT8", "FP16"), "qdq"),
    (11, "fp32", "fp32", None): (True, (), None),
    (11, "fp32", "best", None): (True, (), None),
    (11, "fp32", "fp16", None): "FP16 needs an FP16 ONNX",
    (11, "fp32", "int8", "cache"): "removed implicit INT8",
    (11, "fp32", "int8", "calibrator"): "removed implicit INT8",
    (11, "fp16", "fp16", None): (True, (), None),
    (11, "qdq", "int8", None): (True, (), "qdq"),
    (11, "qdq", "best", None): (True, (), "qdq"),
    (11, "qdq", "fp32", None): "model is INT8 Q/DQ",
}


@pytest.mark.parametrize("case", sorted(EXPECTED, key=str), ids=lambda c: "-".join(map(str, c)))
def test_precision_path_table(case):
    gen, kind, precision, calibration = case
    expected = EXPECTED[case]
    target = get_target("gpu-sm86")
    if isinstance(expected, str):
        with pytest.raises(UsageError, match=expected):
            _plan(target, gen, kind, precision, calibration)
        return
    plan = _plan(target, gen, kind, precision, calibration)
    assert (plan.strongly_typed, plan.flags, plan.int8_source) == expected
    assert plan.python_builder == (gen >= 10)


def test_every_combination_plans_or_refuses_consistently():
    built = refused = 0
    for target, gen, kind, precision, cal in itertools.product(GPU_TARGETS, TRT_GENERATIONS, KINDS,
                                                                 PRECISIONS, CALIBRATION):
        try:
            plan = _plan(target, gen, kind, precision, cal)
        except UsageError as exc:
            assert str(exc) and "\n" not in str(exc)
            refused += 1
            continue
        built += 1
        flags = set(plan.flags)
        if gen == 11:  # strongly typed only: the precision flags do not exist any more
            assert plan.strongly_typed and not flags & {"FP16", "INT8"}
        if gen == 8:
            assert not plan.strongly_typed and not plan.python_builder
        if plan.precision == "fp32":
            assert not flags & {"FP16", "INT8"} and plan.int8_source is None
        if plan.precision == "int8":
            assert plan.int8_source is not None and (gen == 11 or "INT8" in flags)
        if kind == "qdq":
            assert plan.int8_source == "qdq"
        if plan.int8_source in ("calibration-cache", "calibrator"):
            assert gen != 11 and kind == "fp32" and "INT8" in flags
        assert plan.profile is not None and plan.profile.max[0] == target.max_batch
        assert plan.workspace_mb == target.workspace_mb
    assert built > 0 and refused > 0
    assert built + refused == len(GPU_TARGETS) * len(TRT_GENERATIONS) * len(KINDS) * len(PRECISIONS) * len(CALIBRATION)


@pytest.mark.parametrize("target", GPU_TARGETS, ids=lambda t: t.name)
def test_dla_rules_per_target(target):
    if target.dla_cores == 0:
        with pytest.raises(UsageError, match="no DLA cores"):
            _plan(target, target.trt_generations[0], "fp32", "fp16", dla=0)
        return
    gen = target.trt_generations[0]
    plan = _plan(target, gen, "fp32", "fp16", dla=target.dla_cores - 1)
    assert plan.dla_core == target.dla_cores - 1 and plan.flags == ("FP16", "GPU_FALLBACK")
    assert plan.profile.min == plan.profile.opt == plan.profile.max == (1, 3, 64, 96)  # DLA: static shapes
    with pytest.raises(UsageError, match="out of range"):
        _plan(target, gen, "fp32", "fp16", dla=target.dla_cores)
    with pytest.raises(UsageError, match="DLA runs FP16 or INT8"):
        _plan(target, gen, "fp32", "fp32", dla=0)
    assert _plan(target, gen, "qdq", "int8", dla=0).flags == ("INT8", "GPU_FALLBACK")


def test_profiles_workspace_and_opt_level():
    orin = get_target("jetson-orin-nano")
    fp16 = BuildOptions(precision="fp16")
    static = plan_tensorrt_build(orin, 10, "fp32", "image", (1, 3, 64, 96), fp16)
    assert static.profile is None and static.input_shape == (1, 3, 64, 96)
    dyn_hw = plan_tensorrt_build(orin, 10, "fp32", "image", (1, 3, -1, -1), fp16, input_size=(128, 160))
    assert dyn_hw.profile.opt == (1, 3, 128, 160)
    plan = _plan(orin, 10, "fp32", "fp16", max_batch=2, workspace_mb=512, opt_level=5)
    assert (plan.profile.min, plan.profile.opt, plan.profile.max) == ((1, 3, 64, 96), (1, 3, 64, 96), (2, 3, 64, 96))
    assert plan.workspace_mb == 512 and plan.opt_level == 5
    xavier = _plan(get_target("jetson-xavier-nx"), 8, "fp32", "fp16", opt_level=3)
    assert xavier.opt_level is None and any("optimization level" in n for n in xavier.notes)
    for bad in (dict(opt_level=6), dict(workspace_mb=0), dict(max_batch=0)):
        with pytest.raises(UsageError):
            _plan(orin, 10, "fp32", "fp16", **bad)
    with pytest.raises(UsageError, match="dynamic height/width"):
        plan_tensorrt_build(orin, 10, "fp32", "image", (1, 3, -1, -1), fp16)
    assert build_input_shape((-1, -1, 64, 96), None, orin, None, dla=False)[2] == (orin.max_batch, 3, 64, 96)


def test_default_precision_follows_model_then_target():
    orin, cpu = get_target("jetson-orin-nx"), get_target("cpu")
    assert resolve_precision(orin, None, "fp32") == "fp16"
    assert resolve_precision(orin, None, "qdq") == "int8"
    assert resolve_precision(cpu, None, "fp32") == "fp32"
    assert resolve_precision(cpu, "auto", "qdq") == "int8"
    with pytest.raises(UsageError, match="supports fp32, int8, best, not fp16"):
        resolve_precision(cpu, "fp16", "fp32")
    with pytest.raises(UsageError, match="unknown precision"):
        resolve_precision(orin, "fp8", "fp32")


@pytest.mark.parametrize("kind, precision, expected", [
    ("fp32", None, "fp32"), ("fp32", "best", "fp32"), ("qdq", None, "int8"), ("qdq", "best", "int8"),
    ("qdq", "int8", "int8"), ("fp32", "int8", "Q/DQ model"), ("qdq", "fp32", "INT8 Q/DQ"),
    ("fp16", None, "FP32 or INT8"), ("fp32", "fp16", "supports fp32, int8"),
])
def test_cpu_precision_rules(kind, precision, expected):
    cpu = get_target("cpu")
    if expected in ("fp32", "int8"):
        plan = plan_cpu_build(cpu, kind, BuildOptions(precision=precision))
        assert plan.precision == expected and plan.graph_optimization_level == "ORT_ENABLE_EXTENDED"
        assert plan.runtime_dict() == {"intra_op_num_threads": 0, "graph_optimization_level": "ORT_ENABLE_ALL",
                                       "offline_optimization_level": "ORT_ENABLE_EXTENDED",
                                       "providers": ["CPUExecutionProvider"]}
    else:
        with pytest.raises(UsageError, match=expected):
            plan_cpu_build(cpu, kind, BuildOptions(precision=precision))


def test_cpu_levels_and_threads():
    cpu = get_target("cpu")
    assert [plan_cpu_build(cpu, "fp32", BuildOptions(opt_level=i)).graph_optimization_level for i in range(4)] == [
        "ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]
    assert plan_cpu_build(cpu, "fp32", BuildOptions(opt_level=3)).notes  # CPU-specific layouts are called out
    # portable fusions are saved; the runtime adds this CPU's layouts at load time
    assert [plan_cpu_build(cpu, "fp32", BuildOptions(opt_level=i)).session_optimization_level for i in range(4)] == [
        "ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_ALL", "ORT_ENABLE_ALL"]
    assert plan_cpu_build(cpu, "fp32", BuildOptions(threads=4)).intra_op_num_threads == 4
    for bad in (dict(opt_level=4), dict(threads=-1)):
        with pytest.raises(UsageError):
            plan_cpu_build(cpu, "fp32", BuildOptions(**bad))
    with pytest.raises(UsageError, match="not a TensorRT target"):
        plan_tensorrt_build(cpu, 10, "fp32", "image", DYNAMIC)


@pytest.mark.parametrize("target_name, machine, expected", [
    ("jetson-orin-nano", {"compute_capability": "8.7", "tensorrt": "10.3.0.30", "gpu_name": "Orin"}, []),
    ("jetson-orin-nano", {"compute_capability": "8.7", "tensorrt": "10.7.0", "gpu_name": "Orin"}, ["TensorRT 10.3"]),
    ("jetson-orin-nano", {"compute_capability": "8.6", "tensorrt": "10.3.0", "gpu_name": "RTX 3090"},
     ["compute capability 8.6"]),
    ("jetson-xavier-nx", {"compute_capability": "7.2", "tensorrt": "10.3.0", "gpu_name": "Xavier"},
     ["generation 10"]),
    ("gpu-sm86", {"compute_capability": "8.6", "tensorrt": "11.0.0", "gpu_name": "RTX 3090"}, []),
    ("gpu-sm86", {"compute_capability": None, "tensorrt": None, "gpu_name": None}, ["no GPU found"]),
    ("cpu", {"compute_capability": None}, []),
])
def test_target_mismatch_messages(target_name, machine, expected):
    problems = target_mismatches(get_target(target_name), machine)
    assert len(problems) == len(expected)
    for problem, text in zip(problems, expected):
        assert text in problem


def test_jetpack_6_generations_pick_their_own_release():
    orin = get_target("jetson-orin-nx")
    p10, p8 = _plan(orin, 10, "fp32", "fp16", opt_level=3), _plan(orin, 8, "fp32", "fp16", opt_level=3)
    assert (p10.release, p10.python_builder, p10.opt_level) == ("10.3", True, 3)
    assert (p8.release, p8.python_builder, p8.opt_level) == ("8.6", False, 3)  # JetPack 6.0: 8.6 has opt levels
    xavier = _plan(get_target("jetson-xavier-nx"), 8, "fp32", "fp16", opt_level=3)
    assert (xavier.release, xavier.opt_level) == ("8.5", None) and "no builder optimization level" in xavier.notes[0]
    found = _plan(orin, "8.6.2.3", "fp32", "fp16")  # the version TensorRT reports picks the release
    assert found.release == "8.6" and found.generation == 8
    assert target_mismatches(orin, {"compute_capability": "8.7", "tensorrt": "8.6.2.3"}) == []
    assert target_mismatches(orin, {"compute_capability": "8.7", "tensorrt": "10.3.0.30"}) == []
    assert "differs" in target_mismatches(orin, {"compute_capability": "8.7", "tensorrt": "10.7.0"})[0]


def test_dla_on_tensorrt_10_never_relies_on_a_strongly_typed_network():
    orin = get_target("jetson-agx-orin")
    gpu = _plan(orin, 10, "fp16", None)
    dla = _plan(orin, 10, "fp16", None, dla=0)
    assert gpu.strongly_typed and gpu.flags == ()
    assert not dla.strongly_typed and dla.flags == ("FP16", "GPU_FALLBACK") and "not established" in dla.notes[0]
    with pytest.raises(UsageError, match="DLA with a strongly typed network is not established"):
        _plan(orin, 11, "qdq", "int8", dla=0)
