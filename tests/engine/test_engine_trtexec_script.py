"""The trtexec command line and build.sh written for each TensorRT generation."""

import shutil
import subprocess

import pytest

from xnet_edge.engine.build_options import BuildOptions
from xnet_edge.engine.plan import plan_tensorrt_build
from xnet_edge.engine.trtexec_script import build_script, trtexec_build_args, trtexec_command
from xnet_edge.errors import UsageError
from xnet_edge.targets import get_target

DYN = (-1, 3, 64, 96)


def _plan(target, gen, kind="fp32", precision="fp16", calibration=None, **kw):
    given = {"cache": {"calibration_cache": "c.cache"}, "calibrator": {"calibration_images": "images/"}}
    options = BuildOptions(precision=precision, **given.get(calibration, {}), **kw)
    return plan_tensorrt_build(get_target(target), gen, kind, "image", DYN, options)


def test_trt10_dla_int8_with_calibration_cache():
    plan = _plan("jetson-orin-nx", 10, precision="int8", calibration="cache", dla=0, opt_level=4, workspace_mb=1536)
    assert trtexec_build_args(plan, calibration_cache="calibration.cache") == [
        "--onnx=model.onnx", "--saveEngine=model.plan",
        "--minShapes=image:1x3x64x96", "--optShapes=image:1x3x64x96", "--maxShapes=image:1x3x64x96",
        "--int8", "--calib=calibration.cache", "--memPoolSize=workspace:1536",
        "--useDLACore=0", "--allowGPUFallback", "--builderOptimizationLevel=4",
        "--timingCacheFile=timing.cache", "--profilingVerbosity=detailed", "--exportLayerInfo=layers.json",
        "--skipInference"]
    with pytest.raises(UsageError, match="calibration cache"):
        trtexec_build_args(plan)


def test_trt10_fp16_onnx_is_strongly_typed_and_dynamic_batch_profile():
    args = trtexec_build_args(_plan("gpu-sm89", 10, kind="fp16"), timing_cache=None, layer_info=None)
    assert "--stronglyTyped" in args and "--fp16" not in args
    assert "--maxShapes=image:16x3x64x96" in args
    assert not any(a.startswith(("--timingCacheFile", "--exportLayerInfo")) for a in args)


def test_trt11_has_no_precision_flags():
    args = trtexec_build_args(_plan("gpu-sm90", 11, kind="qdq", precision="best"))
    assert not {"--fp16", "--int8", "--best", "--stronglyTyped"} & set(args)
    assert not any(a.startswith("--calib") for a in args)


def test_trt8_uses_build_only_and_no_optimization_level():
    plan = _plan("jetson-xavier-nx", 8, kind="qdq", precision="best", opt_level=3)
    args = trtexec_build_args(plan)
    assert args[-1] == "--buildOnly" and "--int8" in args and "--fp16" in args
    assert not any(a.startswith("--builderOptimizationLevel") for a in args)


def test_build_script_is_valid_shell_and_quotes_paths():
    plan = _plan("jetson-agx-orin", 10, precision="int8", calibration="calibrator")
    script = build_script(plan, onnx="my model.onnx", calibration_cache="calibration.cache")
    assert script.startswith("#!/bin/sh\n") and "'--onnx=my model.onnx'" in script
    assert "--calib=calibration.cache" in script and "/usr/src/tensorrt/bin/trtexec" in script
    sh = shutil.which("sh")
    if sh:
        assert subprocess.run([sh, "-n"], input=script, text=True).returncode == 0
    assert trtexec_command(plan, calibration_cache="c.cache").startswith("trtexec --onnx=model.onnx ")
