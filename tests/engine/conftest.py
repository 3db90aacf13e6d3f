"""Shared fixtures for the engine tests: a tiny exported ×Net ONNX, its Q/DQ version, a fake TensorRT.

The ONNX is exported here (not through xnet_edge.export) so these tests only
depend on the ONNX contract: input "image", output "depth", metadata props.
"""

import json
import sys
import types
import warnings

import numpy as np
import pytest
from suite_helpers import load_module

H, W = 64, 96


@pytest.fixture(scope="session")
def tiny_model():
    import torch

    import xnet_edge

    torch.manual_seed(0)
    return xnet_edge.create_model("test_xnet_effnet").eval()


def _export(model, path, dynamic_batch=True):
    import onnx
    import torch
    from onnx import helper

    cfg = model.config.to_dict()
    axes = {"image": {0: "N"}, "depth": {0: "N"}} if dynamic_batch else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer/deprecation chatter from the exporter
        torch.onnx.export(model, torch.zeros(1, 3, H, W), str(path), input_names=["image"], output_names=["depth"],
                          opset_version=17, dynamic_axes=axes, dynamo=False)
    proto = onnx.load(str(path))
    pre = {"input_size": [H, W], "mean": cfg["mean"], "std": cfg["std"], "resize": "letterbox",
           "pad": "bottom-right"}
    helper.set_model_props(proto, {"xnet_edge.config": json.dumps(cfg), "xnet_edge.preprocessing": json.dumps(pre)})
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model, tmp_path_factory):
    """FP32 ONNX with a dynamic batch and the xnet-edge metadata."""
    return _export(tiny_model, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_qdq_onnx(tiny_onnx, tmp_path_factory):
    """INT8 Q/DQ version of tiny_onnx made by ONNX Runtime's static quantizer."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self._it = iter([{"image": rng.standard_normal((1, 3, H, W), dtype=np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self._it, None)

    out = tmp_path_factory.mktemp("qdq") / "tiny.qdq.onnx"
    quantize_static(str(tiny_onnx), str(out), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    return out


# --------------------------------------------------------------------------- fake TensorRT
# Only the TensorRT >= 10 Python API the builder is written against exists here; objects
# reject unknown attributes, so a call to a removed API (build_engine, max_workspace_size,
# execute_async_v2, STRICT_TYPES) fails the test.


stubs = load_module("engine/trt_stub_api.py")
conforms = stubs.conforms


class _Strict:
    _fields: tuple = ()

    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in self._fields:
            raise AttributeError(f"fake TensorRT has no attribute {name!r}")
        object.__setattr__(self, name, value)


_CONFIG_FIELDS = ("builder_optimization_level", "profiling_verbosity", "default_device_type", "DLA_core",
                  "int8_calibrator")


def make_fake_tensorrt(version="10.3.0.30", parse_ok=True, calls=None):
    """A fake ``tensorrt`` builder API whose classes conform to tensorrt-stubs 10.13 (names, arity).

    What a release lacks comes from :mod:`xnet_edge.engine.trt_releases` (TensorRT 11: no FP16/INT8
    flags, no implicit INT8, no ``set_calibration_profile``). Like TensorRT, it refuses FP16/INT8
    flags on a strongly typed network, returns the profile index (-1 for an incomplete profile)
    and drives a calibrator: reads its cache, else pulls batches and writes the cache.
    """
    from xnet_edge.engine.trt_releases import tensorrt_release

    release = tensorrt_release(version)
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    calls = [] if calls is None else calls
    trt.calls = calls

    @conforms("Logger")
    class Logger:
        WARNING, INFO = "WARNING", "INFO"

        def __init__(self, min_severity=None):
            calls.append(("Logger", min_severity))

    trt.BuilderFlag = types.SimpleNamespace(**{f: f for f in release.builder_flags})
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.DeviceType = types.SimpleNamespace(GPU="GPU", DLA="DLA")
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED="DETAILED")
    trt.LayerInformationFormat = types.SimpleNamespace(JSON="JSON", ONELINE="ONELINE")
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")

    @conforms("IOptimizationProfile")
    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, input, min, opt, max):  # noqa: A002 - TensorRT's parameter names
            calls.append(("set_shape", input, tuple(min), tuple(opt), tuple(max)))
            self.shapes[input] = (min, opt, max)

    @conforms("ITimingCache")
    class TimingCache:
        def __init__(self, blob):
            self.blob = bytes(blob)

        def serialize(self):
            return self.blob + b"+timing"

    @conforms("IBuilderConfig", attributes=_CONFIG_FIELDS)
    class Config(_Strict):
        _fields = tuple(f for f in _CONFIG_FIELDS if release.implicit_int8 or f != "int8_calibrator")

        def __init__(self):
            self._flags, self._profiles = [], []

        def set_memory_pool_limit(self, pool, pool_size):
            calls.append(("set_memory_pool_limit", pool, pool_size))

        def set_flag(self, flag):
            calls.append(("set_flag", flag))
            self._flags.append(flag)

        def add_optimization_profile(self, profile):
            calls.append(("add_optimization_profile",))
            if not profile.shapes:
                return -1
            self._profiles.append(profile)
            return len(self._profiles) - 1

        def set_calibration_profile(self, profile):
            calls.append(("set_calibration_profile",))
            return True

        def create_timing_cache(self, serialized_timing_cache):
            calls.append(("create_timing_cache", bytes(serialized_timing_cache)))
            return TimingCache(serialized_timing_cache)

        def set_timing_cache(self, cache, ignore_mismatch):
            self._cache = cache
            calls.append(("set_timing_cache", ignore_mismatch))
            return True

        def get_timing_cache(self):
            return self._cache

        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            if not name.startswith("_"):
                calls.append(("config." + name, value))

    if not release.calibration_profile:
        del Config.set_calibration_profile

    @conforms("INetworkDefinition")
    class Network:
        def __init__(self, flags):
            self.flags = flags

    @conforms("ParserError")
    class ParserError:
        def __init__(self, i):
            self.i = i

        def node(self):
            return 7 + self.i

        def node_name(self):
            return f"/decoder/Conv_{self.i}"

        def node_operator(self):
            return "Conv"

        def desc(self):
            return "unsupported attribute"

    @conforms("OnnxParser", attributes=("num_errors",))
    class OnnxParser:
        def __init__(self, network, logger):
            self.num_errors = 0 if parse_ok else 2

        def parse(self, model, path=None):
            calls.append(("parse", len(model), path))
            return parse_ok

        def get_error(self, index):
            return ParserError(index)

    @conforms("Builder")
    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags=0):
            calls.append(("create_network", flags))
            return Network(flags)

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            calls.append(("build_serialized_network",))
            typed = network.flags & (1 << trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) or release.generation == 11
            if typed and {"FP16", "INT8"} & set(config._flags):
                calls.append(("error", "precision flags on a strongly typed network"))
                return None
            calibrator = getattr(config, "int8_calibrator", None)
            if calibrator is not None and "INT8" in config._flags:
                cache = calibrator.read_calibration_cache()  # TensorRT asks for the cache first
                calls.append(("read_calibration_cache", cache))
                if not cache:
                    while (ptrs := calibrator.get_batch(["image"])) is not None:
                        calls.append(("get_batch", len(ptrs)))
                    calibrator.write_calibration_cache(b"TRT-%d-EntropyCalibration2\nimage: 3c010a14\n" % (
                        int(version.split(".")[0]) * 10000 + int(version.split(".")[1]) * 100))
            return b"FAKE-PLAN"

    @conforms("EngineInspector")
    class Inspector:
        def get_engine_information(self, format):  # noqa: A002 - TensorRT's parameter name
            return json.dumps({"Layers": [{"Name": "conv", "LayerType": "CaskConvolution"}], "format": format})

    @conforms("ICudaEngine", attributes=("num_io_tensors",))
    class Engine:
        num_io_tensors = 2
        _io = [("image", "INPUT", (-1, 3, H, W)), ("depth", "OUTPUT", (-1, 1, H, W))]

        def get_tensor_name(self, index):
            return self._io[index][0]

        def get_tensor_mode(self, name):
            return dict((n, m) for n, m, _ in self._io)[name]

        def get_tensor_shape(self, name):
            return dict((n, s) for n, _, s in self._io)[name]

        def create_engine_inspector(self):
            return Inspector()

    @conforms("Runtime")
    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, serialized_engine):
            return Engine() if serialized_engine == b"FAKE-PLAN" else None

    @conforms("IInt8EntropyCalibrator2")
    class IInt8EntropyCalibrator2:
        def __init__(self):
            self.base_initialized = True

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    if release.implicit_int8:
        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.fake_classes = (Logger, Profile, TimingCache, Config, Network, ParserError, OnnxParser, Builder, Inspector,
                        Engine, Runtime, IInt8EntropyCalibrator2)
    trt.fake_enums = {name: getattr(trt, name) for name in ("BuilderFlag", "NetworkDefinitionCreationFlag",
                                                              "MemoryPoolType", "DeviceType", "ProfilingVerbosity",
                                                              "LayerInformationFormat", "TensorIOMode")}
    return trt


@pytest.fixture
def fake_trt(monkeypatch):
    """Install a fake TensorRT 10.3 as ``tensorrt``; returns a setter for other versions/behaviours."""

    def install(**kwargs):
        trt = make_fake_tensorrt(**kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", trt)
        return trt

    return install


@pytest.fixture
def fake_cuda(monkeypatch):
    """Install the runtime tests' fake CUDA device (tests/runtime/trt_fakes.py) as a binding.

    ``fake_cuda(binding)`` with binding "cuda-python", "cudart-legacy" or "pycuda"; returns
    (fakes module, FakeGPU, installed modules). tensorrt stays whatever ``fake_trt`` put there.
    """
    fakes = load_module("runtime/trt_fakes.py")

    def install(binding="cuda-python"):
        gpu = fakes.FakeGPU()
        modules = {}
        fakes.install(modules, gpu, binding=binding)
        modules.pop("tensorrt")
        for mod_name, module in modules.items():
            monkeypatch.setitem(sys.modules, mod_name, module)
        return fakes, gpu, modules

    return install
