"""Every TensorRT name the project uses, checked against NVIDIA's tensorrt-stubs 10.13, and the
build plan checked against the per-release differences in ``xnet_edge.engine.trt_releases``.

The stubs describe TensorRT 10.13's Python binding; TensorRT 8.5/8.6 and 11 differ as the
release rows say (tested below against every plan the planner can make). Nothing here
runs TensorRT.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from suite_helpers import load_module

from xnet_edge.engine.build_options import BuildOptions
from xnet_edge.engine.plan import plan_tensorrt_build, release_for
from xnet_edge.engine.trt_releases import RELEASES
from xnet_edge.errors import UsageError
from xnet_edge.targets import PRECISIONS, list_targets

REPO = Path(__file__).parent.parent.parent
# module -> whether its local names follow OBJECTS (build.py's "profile" is a target profile)
TRT_MODULES = {"xnet_edge/engine/tensorrt_builder.py": True, "xnet_edge/engine/trt_calibrator.py": True,
               "xnet_edge/engine/build.py": False, "xnet_edge/runtime/backend_trt.py": True}
# what the project's TensorRT objects are, by the names its code gives them
OBJECTS = {"builder": "Builder", "network": "INetworkDefinition", "config": "IBuilderConfig",
           "parser": "OnnxParser", "profile": "IOptimizationProfile", "engine": "ICudaEngine",
           "_engine": "ICudaEngine", "inspector": "EngineInspector", "err": "ParserError",
           "cache": "ITimingCache", "_context": "IExecutionContext", "context": "IExecutionContext",
           "runtime": "Runtime", "logger": "Logger"}


def _stubs():
    return load_module("engine/trt_stub_api.py")


@pytest.fixture(scope="module")
def api():
    return _stubs().require_stub_api()


def _chains(tree):
    """(root name, attribute, next attribute or None, line) for every ``x.a`` / ``x.a.b`` in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            yield node.value.id, node.attr, None, node.lineno
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner = node.value
            if isinstance(inner.value, ast.Name):
                yield inner.value.id, inner.attr, node.attr, node.lineno
            if isinstance(inner.value, ast.Name) and inner.value.id == "self":
                yield inner.attr, node.attr, None, node.lineno


def test_every_tensorrt_name_the_project_uses_is_in_the_stubs(api):
    used, unknown = set(), []
    for rel, objects in TRT_MODULES.items():
        tree = ast.parse((REPO / rel).read_text())
        for root, attr, sub, line in _chains(tree):
            where = f"{rel}:{line}"
            if root == "trt" and sub is None:
                used.add(attr)
                if attr not in api.classes and attr not in api.functions and attr != "__version__":
                    unknown.append(f"{where}: trt.{attr}")
            elif root == "trt" and attr in api.classes:
                cls = attr
                if not (api.lookup(cls, sub, "members") or api.lookup(cls, sub, "attributes")
                        or api.lookup(cls, sub, "methods")):
                    unknown.append(f"{where}: trt.{attr}.{sub}")
                used.add(f"{attr}.{sub}")
            elif objects and root in OBJECTS and sub is None and not attr.startswith("__"):
                cls = OBJECTS[root]
                if not (api.lookup(cls, attr, "methods") or api.lookup(cls, attr, "attributes")):
                    unknown.append(f"{where}: {root}.{attr} ({cls})")
                used.add(f"{cls}.{attr}")
    assert unknown == [], "\n".join(unknown)
    # the scan saw the calls that matter (a scan that finds nothing proves nothing)
    assert {"Builder", "OnnxParser", "BuilderFlag", "Builder.create_network", "IBuilderConfig.set_flag",
            "IBuilderConfig.add_optimization_profile", "IExecutionContext.execute_async_v3",
            "ICudaEngine.get_tensor_profile_shape", "Runtime.deserialize_cuda_engine"} <= used


def test_the_calibrator_overrides_tensorrt_methods_with_their_arity(api, fake_trt, tmp_path):
    from xnet_edge.engine.trt_calibrator import make_entropy_calibrator

    stubs = _stubs()
    fake_trt()
    cache = tmp_path / "c.cache"
    cache.write_bytes(b"TRT-100300-EntropyCalibration2\n")
    calibrator = type(make_entropy_calibrator(cache))
    public = {n: f for n, f in vars(calibrator).items() if not n.startswith("_") and callable(f)}
    own = {n: f for n, f in public.items() if n != "close"}  # close() is ours, not a TensorRT override
    assert set(own) == {"get_batch_size", "get_batch", "read_calibration_cache", "write_calibration_cache"}
    for name, fn in own.items():
        assert stubs._within(stubs._fake_arity(fn), api.lookup("IInt8EntropyCalibrator2", name, "methods")), name


GPU_TARGETS = [t for t in list_targets() if t.is_gpu]
RELEASE_NAMES = [r.name for r in RELEASES]


def _every_plan():
    for target, release, kind, precision, dla, calibration in itertools.product(
            GPU_TARGETS, RELEASE_NAMES, ("fp32", "fp16", "qdq"), PRECISIONS, (None, 0), (None, "cache", "calibrator")):
        try:
            given = {"cache": {"calibration_cache": "c.cache"}, "calibrator": {"calibration_images": "images/"}}
            options = BuildOptions(precision=precision, dla=dla, opt_level=3, **given.get(calibration, {}))
            yield release_for(target, release), dla, calibration, plan_tensorrt_build(
                target, release, kind, "image", (-1, 3, -1, -1), options, input_size=(64, 96))
        except UsageError:
            continue


def test_every_plan_uses_only_what_its_release_has(api):
    flags = {m for m in api.classes["BuilderFlag"].members if not m.startswith("_")}
    seen = set()
    for release, dla, calibration, plan in _every_plan():  # a generation means the target's release of it
        assert plan.release == release.name and plan.generation == release.generation
        assert set(plan.flags) <= flags, plan  # looked up by name as trt.BuilderFlag.<name>
        assert set(plan.flags) <= set(release.builder_flags), plan
        assert plan.python_builder == release.python_builder
        assert plan.opt_level is None or release.opt_level
        assert plan.int8_source not in ("calibration-cache", "calibrator") or release.implicit_int8
        if plan.strongly_typed:
            assert release.strongly_typed != "no" and not {"FP16", "INT8"} & set(plan.flags)  # TensorRT refuses both
            assert plan.dla_core is None or release.dla_strongly_typed
        if release.strongly_typed == "always":
            assert plan.strongly_typed
        seen.add((release.name, plan.strongly_typed, plan.dla_core is not None))
    assert ("10.3", False, True) in seen and ("10", True, False) in seen and ("11", True, False) in seen
    assert "STRONGLY_TYPED" in api.classes["NetworkDefinitionCreationFlag"].members


def test_fakes_conform_to_the_stubs(api, fake_trt, fakes_for_runtime):
    stubs = _stubs()
    fake_modules = [fake_trt(version=v) for v in ("10.3.0.30", "11.0.0")] + [fakes_for_runtime]
    for trt in fake_modules:
        for cls in trt.fake_classes:
            assert stubs.conformance_problems(cls, cls.stub_class, api) == [], cls
        for name, enum in trt.fake_enums.items():
            assert stubs.enum_problems(enum, name, api) == [], name


def test_the_conformance_check_catches_a_wrong_fake(api):
    stubs = _stubs()

    class Config:
        def set_flag(self, flag, extra):  # TensorRT's set_flag takes one argument
            pass

        def set_fp16_mode(self):  # TensorRT 7's API, gone since 8
            pass

    problems = stubs.conformance_problems(Config, "IBuilderConfig", api, attributes=("max_workspace_size",))
    assert len(problems) == 3 and any("set_fp16_mode" in p for p in problems)
    with pytest.raises(TypeError, match="is not TensorRT's IBuilderConfig"):
        stubs.conforms("IBuilderConfig")(Config)


@pytest.fixture
def fakes_for_runtime():
    module = load_module("runtime/trt_fakes.py")
    return module.make_tensorrt(module.FakeGPU())
