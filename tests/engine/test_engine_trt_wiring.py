"""GPU-target builds against a fake `tensorrt` that only has the TensorRT >= 10 API.

TensorRT cannot run here; these tests check that the build plan reaches the
builder as the documented API calls (flags, pools, profiles, DLA, timing cache,
calibrator, inspector) and that the engine folder and manifest come out right.
They do not show that a real TensorRT build works.
"""

import json
import warnings

import numpy as np
import pytest

from xnet_edge.contract import Preprocessing
from xnet_edge.engine import manifest as mf
from xnet_edge.engine.build import TargetMismatchWarning, build_engine, default_timing_cache_path
from xnet_edge.engine.tensorrt_builder import EngineBuildError
from xnet_edge.engine.trt_calibrator import image_batches, make_entropy_calibrator
from xnet_edge.errors import UsageError
from xnet_edge.preprocess import preprocess


def _build(onnx, out, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build_engine(onnx, kw.pop("target", "jetson-orin-nx"), out, **kw)
    return result, [w for w in caught if issubclass(w.category, TargetMismatchWarning)]


def test_trt10_dla_fp16_build_calls_and_engine_folder(fake_trt, tiny_onnx, tmp_path):
    trt = fake_trt()
    timing = tmp_path / "timing.cache"
    timing.write_bytes(b"old")
    out = tmp_path / "engine"
    result, mismatch = _build(tiny_onnx, out, precision="fp16", dla=1, workspace_mb=256, opt_level=4,
                              timing_cache=timing)
    calls = trt.calls
    assert ("create_network", 0) in calls
    assert ("set_memory_pool_limit", "WORKSPACE", 256 << 20) in calls
    assert [c[1] for c in calls if c[0] == "set_flag"] == ["FP16", "GPU_FALLBACK"]
    assert ("config.default_device_type", "DLA") in calls and ("config.DLA_core", 1) in calls
    assert ("config.builder_optimization_level", 4) in calls
    assert ("config.profiling_verbosity", "DETAILED") in calls
    assert ("set_shape", "image", (1, 3, 64, 96), (1, 3, 64, 96), (1, 3, 64, 96)) in calls
    assert ("create_timing_cache", b"old") in calls and timing.read_bytes() == b"old+timing"
    assert not any(c[0] == "config.int8_calibrator" for c in calls)
    assert calls.index(("build_serialized_network",)) > calls.index(("set_timing_cache", False))
    # the folder: plan, ONNX copy, manifest, per-layer JSON, trtexec script
    assert sorted(p.name for p in out.iterdir()) == ["build.sh", "layers.json", "manifest.json", "model.onnx",
                                                     "model.plan"]
    assert (out / "model.plan").read_bytes() == b"FAKE-PLAN"
    assert json.loads((out / "layers.json").read_text())["Layers"][0]["Name"] == "conv"
    script = (out / "build.sh").read_text()
    assert "--fp16" in script and "--useDLACore=1" in script and "--memPoolSize=workspace:256" in script
    m = mf.read_manifest(out)
    plan_sha = mf.sha256_file(out / "model.plan")
    assert m["artifact"] == {"kind": "tensorrt-plan", "file": "model.plan", "sha256": plan_sha}
    assert m["precision"] == "fp16" and m["target"]["name"] == "jetson-orin-nx"
    assert m["build_machine"]["tensorrt"] == "10.3.0.30"
    assert m["runtime"]["tensorrt"]["dla_core"] == 1 and m["runtime"]["tensorrt"]["flags"] == ["FP16", "GPU_FALLBACK"]
    assert m["outputs"] == [{"name": "depth", "shape": [-1, 1, 64, 96], "dtype": "float32"}]
    assert [c.status for c in mf.verify_hashes(out)] == ["ok", "ok"]
    # no GPU here: the build warns that the engine is not for this machine's GPU
    assert mismatch and "no GPU found" in str(mismatch[0].message) and result.warnings


def test_trt10_qdq_best_and_dynamic_batch_profile(fake_trt, tiny_qdq_onnx, tmp_path):
    trt = fake_trt()
    _build(tiny_qdq_onnx, tmp_path / "e", target="gpu-sm86", precision="best", max_batch=4,
           timing_cache=tmp_path / "t.cache")
    assert [c[1] for c in trt.calls if c[0] == "set_flag"] == ["INT8", "FP16"]
    assert ("set_shape", "image", (1, 3, 64, 96), (1, 3, 64, 96), (4, 3, 64, 96)) in trt.calls
    assert ("create_timing_cache", b"") in trt.calls and (tmp_path / "t.cache").read_bytes() == b"+timing"


def test_trt10_fp16_onnx_builds_strongly_typed(fake_trt, tiny_onnx, tmp_path, monkeypatch):
    import dataclasses

    from xnet_edge.engine import build as build_module

    trt = fake_trt()
    real = build_module.read_contract
    monkeypatch.setattr(build_module, "read_contract", lambda p: dataclasses.replace(real(p), kind="fp16"))
    _build(tiny_onnx, tmp_path / "e", target="gpu-sm89", timing_cache=tmp_path / "t")
    assert ("create_network", 1 << 1) in trt.calls and not any(c[0] == "set_flag" for c in trt.calls)


def test_trt11_strongly_typed_without_precision_flags(fake_trt, tiny_qdq_onnx, tiny_onnx, tmp_path):
    trt = fake_trt(version="11.0.0")
    result, _ = _build(tiny_qdq_onnx, tmp_path / "e", target="gpu-sm90", timing_cache=tmp_path / "t")
    assert ("create_network", 0) in trt.calls and not any(c[0] == "set_flag" for c in trt.calls)
    assert result.manifest["precision"] == "int8" and result.manifest["runtime"]["tensorrt"]["strongly_typed"]
    assert "--int8" not in (tmp_path / "e" / "build.sh").read_text()
    with pytest.raises(UsageError, match="TensorRT 11 builds strongly typed"):
        build_engine(tiny_onnx, "gpu-sm90", tmp_path / "f", precision="fp16")
    assert not (tmp_path / "f").exists()


def test_legacy_calibration_cache_goes_through_the_calibrator(fake_trt, tiny_onnx, tmp_path):
    trt = fake_trt()
    cache = tmp_path / "user.cache"
    cache.write_bytes(b"TRT-100300-EntropyCalibration2\nimage: 3c010a14\n")
    result, _ = _build(tiny_onnx, tmp_path / "e", target="jetson-agx-orin", precision="int8",
                       calibration_cache=cache, timing_cache=tmp_path / "t")
    calibrators = [c[1] for c in trt.calls if c[0] == "config.int8_calibrator"]
    assert len(calibrators) == 1 and calibrators[0].base_initialized
    assert ("read_calibration_cache", cache.read_bytes()) in trt.calls
    assert ("set_calibration_profile",) in trt.calls
    m = result.manifest
    assert m["sources"]["calibration_cache"] == {"file": "calibration.cache", "sha256": mf.sha256_file(cache)}
    assert "--calib=calibration.cache" in (tmp_path / "e" / "build.sh").read_text()


def test_parser_errors_name_the_nodes_and_leave_no_folder(fake_trt, tiny_onnx, tmp_path):
    fake_trt(parse_ok=False)
    with pytest.raises(EngineBuildError) as exc:
        _build(tiny_onnx, tmp_path / "e", timing_cache=tmp_path / "t")
    assert "node /decoder/Conv_0 (Conv): unsupported attribute; node /decoder/Conv_1 (Conv)" in str(exc.value)
    assert not (tmp_path / "e").exists() and not (tmp_path / "t").exists()


def test_tensorrt_8_points_to_trtexec(fake_trt, tiny_onnx, tmp_path):
    fake_trt(version="8.5.2.2")
    with pytest.raises(EngineBuildError, match="needs TensorRT >= 10.*--tensorrt 8"):
        _build(tiny_onnx, tmp_path / "e", target="jetson-xavier-nx")
    assert not (tmp_path / "e").exists()


def test_default_timing_cache_is_per_tensorrt_version_and_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = default_timing_cache_path("10.3.0.30", {"compute_capability": "8.7"})
    assert path == tmp_path / "xnet-edge" / "timing" / "trt10.3.0.30-sm87.cache"


@pytest.mark.parametrize("binding", ["cuda-python", "cudart-legacy", "pycuda"])
def test_calibrator_feeds_preprocessed_batches_then_none(fake_trt, fake_cuda, binding, tmp_path):
    fake_trt()
    fakes, gpu, modules = fake_cuda(binding)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (48 + 8 * i, 80, 3), dtype=np.uint8) for i in range(5)]
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    cache = tmp_path / "calib.cache"
    pre = Preprocessing((64, 96), mean, std)
    calib = make_entropy_calibrator(cache, image_batches(images, pre, 2), batch_shape=(2, 3, 64, 96))
    drv = modules.get("pycuda.driver")
    if drv is not None:  # the primary context is current before the builder runs, not pushed in get_batch
        assert len(drv.context_stack) == 1 and drv.primary_retains == 1
    assert calib.base_initialized and calib.get_batch_size() == 2 and calib.read_calibration_cache() is None
    expected = [np.concatenate([preprocess(im, (64, 96), mean, std)[0] for im in images[i:i + 2]])
                for i in (0, 2)]
    for batch in expected:
        (ptr,) = calib.get_batch(["image"])
        np.testing.assert_array_equal(gpu.view(ptr, (2, 3, 64, 96), np.float32), batch.astype(np.float32))
    assert calib.get_batch(["image"]) is None  # 5 images -> 2 full batches, the partial one is dropped
    assert len(gpu.buffers) == 0  # device and pinned buffers released after the last batch
    if drv is not None:
        assert drv.context_stack == [] and drv.primary_retains == 0
    calib.write_calibration_cache(memoryview(b"TRT-100300-EntropyCalibration2\n"))
    assert cache.read_bytes().startswith(b"TRT-100300") and calib.read_calibration_cache() == cache.read_bytes()
    calib.close()  # idempotent


def test_calibrator_needs_a_cache_or_batches(fake_trt, tmp_path):
    fake_trt()
    with pytest.raises(UsageError, match="calibration cache or calibration images"):
        make_entropy_calibrator(tmp_path / "absent.cache")


def test_calibration_images_are_fed_to_tensorrt_and_the_cache_kept(fake_trt, fake_cuda, tiny_onnx, tmp_path):
    import cv2

    trt = fake_trt()
    _, gpu, _ = fake_cuda("cuda-python")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(images / f"{i}.png"), rng.integers(0, 255, (60, 90, 3), dtype=np.uint8))
    result, _ = _build(tiny_onnx, tmp_path / "e", target="jetson-agx-orin", precision="int8",
                       calibration_images=images, timing_cache=tmp_path / "t")
    assert [c for c in trt.calls if c[0] == "get_batch"] == [("get_batch", 1)] * 5  # batch 1 (the profile's opt)
    cache = tmp_path / "e" / "calibration.cache"
    assert cache.read_bytes().startswith(b"TRT-100300-EntropyCalibration2")
    assert result.manifest["sources"]["calibration_cache"]["sha256"] == mf.sha256_file(cache)
    assert gpu.buffers == {}  # the calibrator's device and pinned buffers were released


def test_a_refused_optimization_profile_stops_the_build(fake_trt, tiny_onnx, tmp_path, monkeypatch):
    trt = fake_trt()
    config = next(c for c in trt.fake_classes if c.__name__ == "Config")
    monkeypatch.setattr(config, "add_optimization_profile", lambda self, profile: -1)
    with pytest.raises(EngineBuildError, match="refused the optimization profile"):
        _build(tiny_onnx, tmp_path / "e", target="gpu-sm86", precision="fp16", max_batch=4,
               timing_cache=tmp_path / "t")
    assert not (tmp_path / "e").exists()


def test_fakes_model_what_tensorrt_refuses(fake_trt):
    trt11 = fake_trt(version="11.0.0")
    config = trt11.Builder(trt11.Logger()).create_builder_config()
    assert not hasattr(config, "set_calibration_profile") and not hasattr(trt11, "IInt8EntropyCalibrator2")
    trt = fake_trt()
    builder = trt.Builder(trt.Logger())
    network = builder.create_network(1 << trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    assert builder.build_serialized_network(network, config) is None  # FP16 flag on a strongly typed network
    assert config.add_optimization_profile(builder.create_optimization_profile()) == -1  # no shapes set
    with pytest.raises(TypeError):
        builder.create_network(0, 1)  # more arguments than TensorRT's create_network takes
