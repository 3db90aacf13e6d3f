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


class _Strict:
    _fields: tuple = ()

    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in self._fields:
            raise AttributeError(f"fake TensorRT has no attribute {name!r}")
        object.__setattr__(self, name, value)


def make_fake_tensorrt(version="10.3.0.30", parse_ok=True, calls=None):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    calls = [] if calls is None else calls
    trt.calls = calls
    gen11 = version.startswith("11")

    class Logger:
        WARNING, INFO = "WARNING", "INFO"

        def __init__(self, severity):
            calls.append(("Logger", severity))

    flags = {"GPU_FALLBACK": "GPU_FALLBACK"} if gen11 else {"FP16": "FP16", "INT8": "INT8",
                                                              "GPU_FALLBACK": "GPU_FALLBACK"}
    trt.BuilderFlag = types.SimpleNamespace(**flags)
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)  # EXPLICIT_BATCH is 0
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.DeviceType = types.SimpleNamespace(GPU="GPU", DLA="DLA")
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED="DETAILED")
    trt.LayerInformationFormat = types.SimpleNamespace(JSON="JSON", ONELINE="ONELINE")
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            calls.append(("set_shape", name, tuple(lo), tuple(opt), tuple(hi)))

    class TimingCache:
        def __init__(self, blob):
            self.blob = bytes(blob)

        def serialize(self):
            return self.blob + b"+timing"

    class Config(_Strict):
        _fields = ("builder_optimization_level", "profiling_verbosity", "default_device_type", "DLA_core",
                   *(() if gen11 else ("int8_calibrator",)))

        def set_memory_pool_limit(self, pool, size):
            calls.append(("set_memory_pool_limit", pool, size))

        def set_flag(self, flag):
            calls.append(("set_flag", flag))

        def add_optimization_profile(self, profile):
            calls.append(("add_optimization_profile",))

        def set_calibration_profile(self, profile):
            calls.append(("set_calibration_profile",))

        def create_timing_cache(self, blob):
            calls.append(("create_timing_cache", bytes(blob)))
            return TimingCache(blob)

        def set_timing_cache(self, cache, ignore_mismatch):
            self._cache = cache
            calls.append(("set_timing_cache", ignore_mismatch))

        def get_timing_cache(self):
            return self._cache

        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            if not name.startswith("_"):
                calls.append(("config." + name, value))

    class Network:
        pass

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

    class OnnxParser:
        def __init__(self, network, logger):
            self.num_errors = 0 if parse_ok else 2

        def parse(self, data, path=None):
            calls.append(("parse", len(data), path))
            return parse_ok

        def get_error(self, i):
            return ParserError(i)

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("create_network", flags))
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            calls.append(("build_serialized_network",))
            calibrator = getattr(config, "int8_calibrator", None)
            if calibrator is not None:  # TensorRT asks for the cache first
                calls.append(("read_calibration_cache", calibrator.read_calibration_cache()))
            return b"FAKE-PLAN"

    class Inspector:
        def get_engine_information(self, fmt):
            return json.dumps({"Layers": [{"Name": "conv", "LayerType": "CaskConvolution"}], "format": fmt})

    class Engine:
        num_io_tensors = 2
        _io = [("image", "INPUT", (-1, 3, H, W)), ("depth", "OUTPUT", (-1, 1, H, W))]

        def get_tensor_name(self, i):
            return self._io[i][0]

        def get_tensor_mode(self, name):
            return dict((n, m) for n, m, _ in self._io)[name]

        def get_tensor_shape(self, name):
            return dict((n, s) for n, _, s in self._io)[name]

        def create_engine_inspector(self):
            return Inspector()

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return Engine() if data == b"FAKE-PLAN" else None

    class IInt8EntropyCalibrator2:
        def __init__(self):
            self.base_initialized = True

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    if not gen11:
        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
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
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "runtime" / "trt_fakes.py"
    name = "xnet_edge_engine_tests_trt_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    fakes = sys.modules[name]

    def install(binding="cuda-python"):
        gpu = fakes.FakeGPU()
        modules = {}
        fakes.install(modules, gpu, binding=binding)
        modules.pop("tensorrt")
        for mod_name, module in modules.items():
            monkeypatch.setitem(sys.modules, mod_name, module)
        return fakes, gpu, modules

    return install
