"""The TensorRT backend's real code against fake tensorrt / cuda-python / pycuda modules.

No GPU or TensorRT here: these tests check buffer sizing, binding order, the
H2D -> execute_async_v3 -> D2H sequence and its synchronization, event timing,
CUDA graph capture/replay and the manifest checks. They do not show that
TensorRT itself runs (benchmarks/gpu_check.sh does, on a GPU machine).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from xnet_edge.engine.manifest import EngineCompatibilityError, HashMismatchError
from xnet_edge.errors import MissingDependencyError, UsageError, XnetEdgeError
from xnet_edge.preprocess import postprocess, preprocess
from xnet_edge.runtime import Runtime, StageTimes
from xnet_edge.runtime.backend_trt import (EngineTensor, TensorRTBackend, buffer_sizes, check_input_shape,
                                           max_input_shape, read_engine_tensors)
from xnet_edge.runtime.timing import HookList

BINDINGS = ["cuda-python", "cudart-legacy", "pycuda"]


@pytest.fixture
def gpu(fakes, monkeypatch, request):
    binding = getattr(request, "param", "cuda-python")
    device = fakes.FakeGPU()
    modules = {}
    fakes.install(modules, device, binding=binding)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    device.modules = modules
    return device


@pytest.fixture
def plan(fakes, tmp_path):
    path = tmp_path / "model.plan"
    path.write_bytes(fakes.fake_plan())
    return path


def _batch(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, 64, 96)).astype(np.float32)


def test_engine_tensors_in_binding_order(gpu, plan):
    trt = sys.modules["tensorrt"]
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(plan.read_bytes())
    tensors = read_engine_tensors(engine, trt)
    assert [(t.name, t.is_input) for t in tensors] == [("image", True), ("features", False), ("depth", False)]
    image = tensors[0]
    assert image.shape == (-1, 3, 64, 96) and image.dtype == np.float32
    assert image.profile == ((1, 3, 64, 96), (2, 3, 64, 96), (4, 3, 64, 96))
    assert max_input_shape(image) == (4, 3, 64, 96)


def test_buffer_sizes_are_hand_computed():
    f32 = np.dtype(np.float32)
    tensors = [EngineTensor("image", True, (-1, 3, 64, 96), f32, ((1, 3, 64, 96),) * 2 + ((4, 3, 64, 96),)),
               EngineTensor("depth", False, (-1, 1, 64, 96), np.dtype(np.float16))]
    sizes = buffer_sizes(tensors, {"image": (4, 3, 64, 96), "depth": (4, 1, 64, 96)})
    assert sizes == {"image": 4 * 3 * 64 * 96 * 4, "depth": 4 * 64 * 96 * 2}
    with pytest.raises(XnetEdgeError, match="data-dependent"):
        buffer_sizes(tensors, {"image": (4, 3, 64, 96), "depth": (-1, 1, 64, 96)})


def test_input_shape_checks():
    f32 = np.dtype(np.float32)
    dynamic = EngineTensor("image", True, (-1, 3, 64, 96), f32, ((1, 3, 64, 96), (2, 3, 64, 96), (4, 3, 64, 96)))
    check_input_shape(dynamic, (3, 3, 64, 96))
    with pytest.raises(UsageError, match="outside the engine's profile"):
        check_input_shape(dynamic, (5, 3, 64, 96))
    static = EngineTensor("image", True, (1, 3, 64, 96), f32)
    with pytest.raises(UsageError, match="fixed at"):
        check_input_shape(static, (1, 3, 32, 96))


@pytest.mark.parametrize("gpu", BINDINGS, indirect=True)
def test_run_copies_computes_and_synchronizes(gpu, fakes, plan):
    backend = TensorRTBackend(plan)
    allocated = sorted(len(b) for b in gpu.buffers.values())
    # device: image, features, depth at the profile max; pinned (cuda-python): image and depth only
    device_sizes = sorted([4 * 3 * 64 * 96 * 4, 4 * 8 * 16 * 24 * 4, 4 * 64 * 96 * 4])
    if backend.describe()["cuda_binding"] == "cuda-python":
        assert allocated == sorted(device_sizes + [4 * 3 * 64 * 96 * 4, 4 * 64 * 96 * 4])
    else:
        assert allocated == device_sizes
    assert backend.batch_range() == (1, 4)
    for n, seed in ((3, 1), (1, 2), (3, 3)):
        x = _batch(n, seed)
        out = backend.run(x, HookList())
        assert out.shape == (n, 1, 64, 96)
        np.testing.assert_allclose(out, fakes.reference_network(x), rtol=1e-6)
    backend.close()
    backend.close()
    assert gpu.buffers == {}  # everything freed
    with pytest.raises(XnetEdgeError, match="closed"):
        backend.run(_batch(1), HookList())


def test_stage_timings_come_from_events(gpu, fakes, plan):
    backend = TensorRTBackend(plan)
    times = StageTimes()
    backend.run(_batch(2), HookList([times]))
    s = times.summary()
    assert s["h2d"]["mean_ms"] == pytest.approx(2 * 3 * 64 * 96 * 4 / 1e6)  # fake clock: 1 ms per MB
    assert s["compute"]["mean_ms"] == pytest.approx(fakes.KERNEL_MS)
    assert s["d2h"]["mean_ms"] == pytest.approx(2 * 64 * 96 * 4 / 1e6)
    assert s["enqueue"]["count"] == 1
    backend.close()


def test_cuda_graph_is_captured_and_replayed(gpu, fakes, plan):
    backend = TensorRTBackend(plan, cuda_graph=True)
    for seed in range(3):
        x = _batch(2, seed)
        np.testing.assert_allclose(backend.run(x, HookList()), fakes.reference_network(x), rtol=1e-6)
    assert backend.uses_cuda_graph
    assert gpu.graph_launches == 3
    assert gpu.kernel_runs == 1 + 3  # one plain warm-up enqueue before the capture, then replays
    x = _batch(4, 9)  # a new shape: a new graph
    np.testing.assert_allclose(backend.run(x, HookList()), fakes.reference_network(x), rtol=1e-6)
    assert gpu.graph_launches == 4
    backend.close()


@pytest.mark.parametrize("runtime_version", [11080, 12060])
def test_cuda_graph_instantiate_takes_the_form_of_the_bindings_cuda(fakes, monkeypatch, plan, runtime_version):
    device = fakes.FakeGPU()
    modules = {}
    fakes.install(modules, device, runtime_version=runtime_version)  # CUDA 11: (graph, logBuffer, size)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    backend = TensorRTBackend(plan, cuda_graph=True)
    x = _batch(2)
    np.testing.assert_allclose(backend.run(x, HookList()), fakes.reference_network(x), rtol=1e-6)
    assert backend.uses_cuda_graph and device.graph_launches == 1
    backend.close()


def test_failed_capture_falls_back(fakes, monkeypatch, plan):
    device = fakes.FakeGPU()
    modules = {}
    fakes.install(modules, device, fail_capture=True)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    backend = TensorRTBackend(plan, cuda_graph=True)
    with pytest.warns(RuntimeWarning, match="graph capture failed"):
        out = backend.run(_batch(2), HookList())
    np.testing.assert_allclose(out, fakes.reference_network(_batch(2)), rtol=1e-6)
    assert not backend.uses_cuda_graph and device.graph_launches == 0
    backend.close()


@pytest.mark.parametrize("gpu", ["pycuda"], indirect=True)
def test_pycuda_has_no_graphs(gpu, plan):
    with pytest.warns(RuntimeWarning, match="CUDA graphs need cuda-python"):
        backend = TensorRTBackend(plan, cuda_graph=True)
    assert not backend.uses_cuda_graph
    drv = gpu.modules["pycuda.driver"]
    assert len(drv.context_stack) == 1 and drv.primary_retains == 1
    backend.close()
    assert drv.context_stack == [] and drv.primary_retains == 0  # popped and the retain released


def test_bad_plan_is_refused_and_memory_released(gpu, tmp_path):
    bad = tmp_path / "other.plan"
    bad.write_bytes(b"\x00\x01 serialized by another TensorRT")
    with pytest.raises(XnetEdgeError, match="could not deserialize.*rebuild"):
        TensorRTBackend(bad)
    assert gpu.buffers == {}


def test_missing_libraries_name_the_extra(monkeypatch, plan, fakes):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(MissingDependencyError, match=r"xnet-edge\[trt\]"):
        TensorRTBackend(plan)
    monkeypatch.setitem(sys.modules, "tensorrt", fakes.make_tensorrt(fakes.FakeGPU()))
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart", "pycuda", "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match="cuda-python"):
        TensorRTBackend(plan)


def _reference_predict(fakes, image, pre):
    tensor, box = preprocess(image, tuple(pre["input_size"]), pre["mean"], pre["std"])
    depth = postprocess(fakes.reference_network(tensor)[0, 0], box)
    return np.where(depth < 0, 0.0, depth)  # the Runtime reports negative depth as 0 (invalid)


def test_runtime_on_engine_folder(gpu, fakes, folders, plan, tiny_onnx, tmp_path, rgb_image):
    folder = folders.make_folder(tmp_path / "engine", plan, "tensorrt-plan", tiny_onnx, target="jetson-orin-nano",
                                 runtime={"tensorrt": {"dla_core": None}})
    with Runtime(folder) as rt:  # machine_info() asks the fake cuda-python: same TRT, same GPU
        assert rt.backend_name == "tensorrt" and rt.warnings == []
        depth = rt.predict(rgb_image)
        batch = rt.predict_batch([rgb_image] * 6)  # 6 > profile max 4: split into 4 + 2
        assert rt.describe()["target"] == "jetson-orin-nano"
    expected = _reference_predict(fakes, rgb_image, folders.PRE)
    np.testing.assert_allclose(depth, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch[5], expected, rtol=1e-5, atol=1e-6)
    # the plan opened directly still finds the manifest beside it
    with Runtime(folder / "model.plan") as rt:
        assert rt.manifest is not None


def test_manifest_mismatches_are_refused(gpu, folders, plan, tiny_onnx, tmp_path):
    old = folders.make_folder(tmp_path / "old", plan, "tensorrt-plan", tiny_onnx, target="jetson-orin-nano",
                              build_machine=folders.machine(tensorrt="10.0.1"), runtime={"tensorrt": {}})
    with pytest.raises(EngineCompatibilityError, match=r"TensorRT 10\.0\.1.*Rebuild it on this machine: xnet-edge build"):
        Runtime(old)
    other_gpu = folders.make_folder(tmp_path / "xavier", plan, "tensorrt-plan", tiny_onnx, target="jetson-xavier-nx",
                                    build_machine=folders.machine(compute_capability="7.2", gpu_name="Xavier"),
                                    runtime={"tensorrt": {}})
    with pytest.raises(EngineCompatibilityError, match="compute capability 7.2"):
        Runtime(other_gpu)
    with Runtime(other_gpu, check=False) as rt:  # the user's explicit override
        assert rt.backend_name == "tensorrt"
    tampered = folders.make_folder(tmp_path / "tampered", plan, "tensorrt-plan", tiny_onnx, runtime={"tensorrt": {}})
    with open(tampered / "model.plan", "ab") as f:
        f.write(b" ")
    with pytest.raises(HashMismatchError, match="model.plan"):
        Runtime(tampered)


def test_dla_core_from_manifest(gpu, folders, plan, tiny_onnx, tmp_path):
    folder = folders.make_folder(tmp_path / "dla", plan, "tensorrt-plan", tiny_onnx, target="jetson-agx-orin",
                                 runtime={"tensorrt": {"dla_core": 1}})
    with pytest.raises(EngineCompatibilityError, match="DLA"):
        Runtime(folder)  # this (fake) machine is no Jetson
    with Runtime(folder, machine=folders.machine(jetpack="6.0 (L4T R36.3.0)")) as rt:
        assert rt.describe()["dla_core"] == 1
    assert sys.modules["tensorrt"].deserialized[-1]["dla_core"] == 1


def test_bare_plan_needs_preprocessing(gpu, fakes, plan, rgb_image, folders):
    with pytest.raises(UsageError, match="preprocessing"):
        Runtime(plan)
    with Runtime(plan, preprocessing=folders.PRE) as rt:
        np.testing.assert_allclose(rt.predict(rgb_image), _reference_predict(fakes, rgb_image, folders.PRE),
                                   rtol=1e-5, atol=1e-6)


def test_static_batch_engine_pads_the_batch(gpu, fakes, tmp_path, rgb_image, folders):
    path = tmp_path / "b2.plan"
    path.write_bytes(fakes.fake_plan(batch=(2, 2, 2), static=True))
    with Runtime(path, preprocessing=folders.PRE) as rt:
        assert rt.backend.batch_range() == (2, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = rt.predict_batch([rgb_image] * 3)
    assert len(out) == 3
    np.testing.assert_allclose(out[2], _reference_predict(fakes, rgb_image, folders.PRE), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gpu", ["cuda-python", "pycuda"], indirect=True)
def test_gpu_check_script_logic(gpu):
    """benchmarks/check_cuda_memory.py's checks, run against the fake device."""
    from suite_helpers import load_benchmark

    module = load_benchmark("check_cuda_memory")
    binding = "pycuda" if "pycuda.driver" in gpu.modules and gpu.modules["pycuda.driver"] else "cuda-python"
    results = module.check_binding(binding, 1)
    assert all(ok for _, ok, _ in results), results
    assert any("graph" in label for label, _, _ in results) == (binding == "cuda-python")
    assert gpu.buffers == {}
