"""BuildOptions: every build flag reaches what the build writes, the plan is decided once, bad values are one line.

The GPU builds run against the fake TensorRT of conftest.py (the real builder code, a fake
library); what is read back is the engine folder's manifest, build.sh and the builder calls.
"""

import json
import tarfile

import numpy as np
import pytest

from xnet_edge.cli import build_parser, main
from xnet_edge.cli.common import BUILD_ARGUMENTS, BUILD_ONLY
from xnet_edge.engine import manifest as mf
from xnet_edge.engine.build import build_engine
from xnet_edge.engine.bundle import make_bundle
from xnet_edge.engine.build_options import BuildOptions
from xnet_edge.errors import UsageError

TRT10_CACHE = b"TRT-100300-EntropyCalibration2\nimage: 3c010a14\n"


def _build(*argv):
    assert main(["build", *map(str, argv), "-q"]) == 0
    return mf.read_manifest(argv[argv.index("-o") + 1])


def test_every_build_option_is_a_flag_of_build_and_bundle():
    assert [name for _, name, _ in BUILD_ARGUMENTS] == list(BuildOptions.field_names())
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse has no public accessor)
    build, bundle = ({a.dest for a in commands[c]._actions} for c in ("build", "bundle"))  # noqa: SLF001
    assert set(BuildOptions.field_names()) <= build
    assert set(BuildOptions.field_names()) - set(BUILD_ONLY) <= bundle and not set(BUILD_ONLY) & bundle


def test_cpu_build_flags_arrive_in_the_manifest(tiny_onnx, tmp_path):
    m = _build(tiny_onnx, "--target", "cpu", "-o", tmp_path / "e", "--threads", "3", "--opt-level", "1",
               "--precision", "fp32")
    assert m["precision"] == "fp32"
    assert m["runtime"]["onnxruntime"]["intra_op_num_threads"] == 3
    assert m["runtime"]["onnxruntime"]["offline_optimization_level"] == "ORT_ENABLE_BASIC"


def test_tensorrt_build_flags_reach_the_builder_and_the_manifest(fake_trt, tiny_onnx, tmp_path):
    trt = fake_trt()
    timing = tmp_path / "timing.cache"
    m = _build(tiny_onnx, "--target", "jetson-orin-nx", "-o", tmp_path / "e", "--precision", "fp16", "--dla", "1",
               "--workspace", "256", "--opt-level", "4", "--timing-cache", timing)
    block = m["runtime"]["tensorrt"]
    assert m["precision"] == "fp16" and block["dla_core"] == 1 and block["flags"] == ["FP16", "GPU_FALLBACK"]
    assert block["workspace_mb"] == 256 and block["opt_level"] == 4
    assert ("config.DLA_core", 1) in trt.calls and ("config.builder_optimization_level", 4) in trt.calls
    assert ("set_memory_pool_limit", "WORKSPACE", 256 << 20) in trt.calls
    assert timing.read_bytes() == b"+timing"  # the given timing cache was saved, not the per-user one


def test_max_batch_and_calibration_cache_flags_arrive(fake_trt, tiny_onnx, tmp_path):
    trt = fake_trt()
    cache = tmp_path / "user.cache"
    cache.write_bytes(TRT10_CACHE)
    m = _build(tiny_onnx, "--target", "gpu-sm86", "-o", tmp_path / "e", "--precision", "int8", "--max-batch", "3",
               "--calibration-cache", cache, "--timing-cache", tmp_path / "t")
    block = m["runtime"]["tensorrt"]
    assert block["profile"]["max"] == [3, 3, 64, 96] and block["int8_source"] == "calibration-cache"
    assert m["sources"]["calibration_cache"]["sha256"] == mf.sha256_file(cache)
    assert ("set_shape", "image", (1, 3, 64, 96), (1, 3, 64, 96), (3, 3, 64, 96)) in trt.calls


def test_calibration_images_flag_arrives(fake_trt, fake_cuda, tiny_onnx, tmp_path):
    import cv2

    trt = fake_trt()
    fake_cuda("cuda-python")
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.png"), np.full((60, 90, 3), 40 * i, dtype=np.uint8))
    m = _build(tiny_onnx, "--target", "jetson-agx-orin", "-o", tmp_path / "e", "--precision", "int8",
               "--calibration-images", images, "--timing-cache", tmp_path / "t")
    assert m["runtime"]["tensorrt"]["int8_source"] == "calibrator"
    assert [c for c in trt.calls if c[0] == "get_batch"] == [("get_batch", 1)] * 3


def test_bundle_flags_arrive_in_its_build_command(tiny_onnx, tmp_path, capsys):
    cache = tmp_path / "c.cache"
    cache.write_bytes(TRT10_CACHE)
    out = tmp_path / "b.tar.gz"
    assert main(["bundle", str(tiny_onnx), "--target", "jetson-agx-orin", "-o", str(out), "--precision", "int8",
                 "--calibration-cache", str(cache), "--workspace", "512", "--opt-level", "2", "--max-batch", "3",
                 "--tensorrt", "10.3"]) == 0
    with tarfile.open(out) as tar:
        meta = json.load(tar.extractfile("b/bundle.json"))
    assert meta["tensorrt_release"] == "10.3" and meta["precision"] == "int8"
    assert ("--precision int8 --workspace 512 --timing-cache timing.cache --opt-level 2 "
            "--calibration-cache calibration.cache --max-batch 3") in meta["build_command"]
    cpu = tmp_path / "cpu.tar.gz"
    assert main(["bundle", str(tiny_onnx), "--target", "cpu", "-o", str(cpu), "--threads", "2", "--opt-level", "1"]) == 0
    with tarfile.open(cpu) as tar:
        meta = json.load(tar.extractfile("cpu/bundle.json"))
    assert meta["build_command"].endswith("--precision fp32 --threads 2 --opt-level 1 -o engine")


@pytest.mark.filterwarnings("ignore::UserWarning")  # TargetMismatchWarning: no GPU here
def test_the_plan_is_decided_once(fake_trt, tiny_onnx, tmp_path, monkeypatch):
    from xnet_edge.engine import plan as plan_module

    planned = []
    real = plan_module.plan_tensorrt_build
    monkeypatch.setattr(plan_module, "plan_tensorrt_build", lambda *a, **k: planned.append(a[1]) or real(*a, **k))
    options = BuildOptions(precision="fp16", timing_cache=tmp_path / "t")
    fake_trt()  # TensorRT 10.3: the Orin's own release, the plan checked before the import is the one built
    result = build_engine(tiny_onnx, "jetson-orin-nx", tmp_path / "a", options)
    assert planned == [10] and result.manifest["runtime"]["tensorrt"]["release"] == "10.3"
    planned.clear()
    fake_trt(version="10.8.0.43")  # another release than the target's: decided again for the one installed
    result = build_engine(tiny_onnx, "jetson-orin-nx", tmp_path / "b", options)
    assert planned == [10, "10.8.0.43"] and result.manifest["runtime"]["tensorrt"]["release"] == "10"


def test_keywords_are_build_options_and_unknown_names_are_refused(tiny_onnx, tmp_path):
    assert build_engine(tiny_onnx, "cpu", tmp_path / "e", BuildOptions(opt_level=1), threads=2).manifest[
        "runtime"]["onnxruntime"]["intra_op_num_threads"] == 2  # keywords apply over options
    with pytest.raises(UsageError, match=r"unknown build_engine option\(s\): colour; BuildOptions has precision"):
        build_engine(tiny_onnx, "cpu", tmp_path / "f", colour="red")
    with pytest.raises(UsageError, match=r"options=BuildOptions\(...\), not a dict"):
        build_engine(tiny_onnx, "cpu", tmp_path / "f", {"threads": 2})
    with pytest.raises(UsageError, match="a bundle cannot carry calibration_images"):
        make_bundle(tiny_onnx, "jetson-orin-nano", tmp_path / "b.tar.gz", calibration_images=tmp_path)
    assert not (tmp_path / "f").exists() and not (tmp_path / "b.tar.gz").exists()


@pytest.mark.parametrize("values, message", [
    (dict(precision="fp8"), "unknown precision 'fp8'"),
    (dict(dla=-1), "--dla must be at least 0"),
    (dict(dla=True), "--dla must be a whole number"),
    (dict(workspace_mb=0), "--workspace must be a positive number of MiB, got 0"),
    (dict(opt_level=1.5), "--opt-level must be a whole number"),
    (dict(max_batch=0), "--max-batch must be at least 1, got 0"),
    (dict(threads=-2), "--threads must be >= 0"),
    (dict(calibration_cache="c", calibration_images="d"), "either --calibration-cache or --calibration-images"),
])
def test_invalid_values_are_refused_when_the_options_are_made(values, message):
    with pytest.raises(UsageError, match=message):
        BuildOptions(**values)


@pytest.mark.parametrize("flags, message", [
    (["--workspace", "0"], "--workspace must be a positive number of MiB, got 0"),
    (["--dla", "-1"], "--dla must be at least 0"),
    (["--opt-level", "-1"], "--opt-level must be at least 0"),
    (["--threads", "-1"], "--threads must be >= 0"),
    (["--calibration-cache", "c", "--calibration-images", "d"], "not both"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
])
def test_invalid_flags_are_one_line_with_exit_2(tiny_onnx, tmp_path, cli_error, flags, message):
    code, err = cli_error("build", tiny_onnx, "--target", "jetson-orin-nx", "-o", tmp_path / "e", *flags)
    assert code == 2 and message in err and "Traceback" not in err and not (tmp_path / "e").exists()
