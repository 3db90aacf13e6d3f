"""Fake TensorRT, cuda-python and pycuda modules that model a GPU with host memory.

They let the TensorRT backend's real code run on a CPU-only machine: "device"
memory is ctypes buffers, work queued on a stream runs only when the stream (or an
event) is synchronized, so a missing synchronize leaves the host output stale,
every operation advances a fake GPU clock (copies 1 ms per MB, the network 2 ms),
and CUDA graph capture records operations instead of running them.

The fake network computes ``depth[n, 0] = mean_c(image[n]) * 2 + 1`` and writes a
second output ``features`` (not copied back by the runtime).

Nothing here claims to be TensorRT: it mirrors the API calls xnet-edge makes.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import json
import types

import numpy as np
from suite_helpers import load_module


# tests/engine/trt_stub_api.py: the fakes conform to NVIDIA's tensorrt-stubs where installed
conforms = load_module("engine/trt_stub_api.py").conforms

KERNEL_MS = 2.0


def reference_network(image: np.ndarray) -> np.ndarray:
    """What the fake engine computes, for assertions."""
    return image.mean(axis=1, keepdims=True) * 2.0 + 1.0


class FakeGPU:
    """Shared state of the fake device: allocations, streams, clock, statistics."""

    def __init__(self):
        self.buffers: dict[int, ctypes.Array] = {}
        self.streams: dict[int, "FakeStream"] = {}
        self.clock_ms = 0.0
        self.kernel_runs = 0
        self.graph_launches = 0
        self.freed = 0

    def alloc(self, nbytes: int) -> int:
        buf = (ctypes.c_uint8 * nbytes)()
        ptr = ctypes.addressof(buf)
        self.buffers[ptr] = buf
        return ptr

    def free(self, ptr: int) -> None:
        del self.buffers[int(ptr)]
        self.freed += 1

    def view(self, ptr: int, shape, dtype) -> np.ndarray:
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        raw = np.frombuffer((ctypes.c_uint8 * count).from_address(int(ptr)), dtype=np.uint8)
        return raw.view(dtype).reshape(shape)


class FakeStream:
    _ids = itertools.count(0x1000)

    def __init__(self, gpu: FakeGPU):
        self.gpu = gpu
        self.handle = next(self._ids)
        self.pending: list = []
        self.capture = None
        gpu.streams[self.handle] = self

    def __int__(self):
        return self.handle

    def enqueue(self, op) -> None:
        (self.capture if self.capture is not None else self.pending).append(op)

    def synchronize(self) -> None:
        while self.pending:
            self.pending.pop(0)()


def copy_op(gpu: FakeGPU, dst: int, src: int, count: int):
    def run():
        ctypes.memmove(dst, src, count)
        gpu.clock_ms += count / 1e6
    return run


class FakeEvent:
    def __init__(self):
        self.time_ms = None


def record_op(gpu: FakeGPU, event: FakeEvent):
    def run():
        event.time_ms = gpu.clock_ms
    return run


# ----------------------------------------------------------------------------- cuda-python


class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorNotReady = 600


class cudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


class cudaStreamCaptureMode(enum.IntEnum):
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1


def make_cudart(gpu: FakeGPU, fail_capture: bool = False, runtime_version: int = 12060,
                real: types.ModuleType | None = None) -> types.ModuleType:
    """A module with the cuda-python runtime calls the project uses (``(err, *values)`` returns).

    Args:
        runtime_version: what ``cudaRuntimeGetVersion`` reports; below 12000 the CUDA 11 form of
            ``cudaGraphInstantiate(graph, logBuffer, bufferSize)`` is the only one accepted.
        real: NVIDIA's real runtime module. Every call is then first made on it with the same
            arguments, so its argument parsing checks each call (on a machine without a GPU it
            answers with a CUDA error, or RuntimeError when libcuda is missing; a TypeError is
            recorded in ``calls_refused``). Handles and enums are the real binding's types.
    """
    rt = types.ModuleType("cuda.bindings.runtime")
    source = real if real is not None else types.SimpleNamespace(
        cudaError_t=cudaError_t, cudaMemcpyKind=cudaMemcpyKind, cudaStreamCaptureMode=cudaStreamCaptureMode)
    ok = source.cudaError_t.cudaSuccess
    rt.cudaError_t, rt.cudaMemcpyKind = source.cudaError_t, source.cudaMemcpyKind
    rt.cudaStreamCaptureMode = source.cudaStreamCaptureMode
    rt.cudaDeviceScheduleSpin = 1
    rt.calls, rt.calls_refused = [], []
    if real is not None:
        runtime_version = int(real.cudaRuntimeGetVersion()[1])
    handles: dict[int, object] = {}
    ids = itertools.count(0x5000)

    def handle(kind: str, obj, number=None):
        """``obj`` as the binding would return it: a real handle type when checking against ``real``."""
        if real is None:
            return obj
        number = next(ids) if number is None else number
        handles[number] = obj
        return getattr(real, kind)(number)

    def obj(value):
        return handles[int(value)] if real is not None else value

    def api(fn):
        def wrapper(*args):
            rt.calls.append(fn.__name__)
            if real is not None:
                try:
                    result = getattr(real, fn.__name__)(*args)
                    assert isinstance(result[0], real.cudaError_t), f"{fn.__name__} returned {result!r}"
                except TypeError as exc:
                    rt.calls_refused.append(f"{fn.__name__}{args!r}: {exc}")
                    raise
                except RuntimeError:  # older bindings: no libcuda.so.1 on this machine (parsed already)
                    pass
            return fn(*args)
        setattr(rt, fn.__name__, wrapper)
        return wrapper

    @api
    def cudaSetDevice(device):
        return (ok,)

    @api
    def cudaSetDeviceFlags(flags):
        return (ok,)

    @api
    def cudaFree(ptr):
        if int(ptr):
            gpu.free(ptr)
        return (ok,)

    @api
    def cudaMalloc(nbytes):
        return ok, gpu.alloc(nbytes)

    @api
    def cudaMallocHost(nbytes):
        return ok, gpu.alloc(nbytes)

    @api
    def cudaFreeHost(ptr):
        gpu.free(ptr)
        return (ok,)

    @api
    def cudaMemGetInfo():
        used = sum(len(b) for b in gpu.buffers.values())
        return ok, (1 << 30) - used, 1 << 30

    @api
    def cudaStreamCreate():
        stream = FakeStream(gpu)
        return ok, handle("cudaStream_t", stream, stream.handle)

    @api
    def cudaStreamDestroy(stream):
        gpu.streams.pop(int(stream), None)
        return (ok,)

    @api
    def cudaStreamSynchronize(stream):
        gpu.streams[int(stream)].synchronize()
        return (ok,)

    @api
    def cudaMemcpyAsync(dst, src, count, kind, stream):
        assert kind in (rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost)
        gpu.streams[int(stream)].enqueue(copy_op(gpu, int(dst), int(src), int(count)))
        return (ok,)

    @api
    def cudaEventCreate():
        return ok, handle("cudaEvent_t", FakeEvent())

    @api
    def cudaEventDestroy(event):
        return (ok,)

    @api
    def cudaEventRecord(event, stream):
        gpu.streams[int(stream)].enqueue(record_op(gpu, obj(event)))
        return (ok,)

    @api
    def cudaEventElapsedTime(start, end):
        start, end = obj(start), obj(end)
        if start.time_ms is None or end.time_ms is None:
            return rt.cudaError_t.cudaErrorNotReady, 0.0
        return ok, end.time_ms - start.time_ms

    @api
    def cudaStreamBeginCapture(stream, mode):
        if fail_capture:
            return (rt.cudaError_t.cudaErrorInvalidValue,)
        gpu.streams[int(stream)].capture = []
        return (ok,)

    @api
    def cudaStreamEndCapture(stream):
        stream = gpu.streams[int(stream)]
        ops, stream.capture = stream.capture, None
        return ok, handle("cudaGraph_t", {"ops": ops})

    @api
    def cudaGraphInstantiate(graph, *rest):
        if runtime_version < 12000:  # CUDA 11: (graph, logBuffer, bufferSize) -> (err, exec, error node)
            if len(rest) != 2:
                raise TypeError(f"cudaGraphInstantiate() takes exactly 3 positional arguments ({len(rest) + 1} given)")
            return ok, handle("cudaGraphExec_t", {"ops": list(obj(graph)["ops"])}), None
        if len(rest) != 1:
            raise TypeError(f"cudaGraphInstantiate() takes exactly 2 positional arguments ({len(rest) + 1} given)")
        return ok, handle("cudaGraphExec_t", {"ops": list(obj(graph)["ops"])})

    @api
    def cudaGraphDestroy(graph):
        return (ok,)

    @api
    def cudaGraphExecDestroy(graph_exec):
        return (ok,)

    @api
    def cudaGraphLaunch(graph_exec, stream):
        gpu.graph_launches += 1
        for op in obj(graph_exec)["ops"]:
            gpu.streams[int(stream)].enqueue(op)
        return (ok,)

    @api
    def cudaGetDeviceCount():
        return ok, 1

    @api
    def cudaGetDeviceProperties(device):
        return ok, types.SimpleNamespace(name=b"Fake Orin", major=8, minor=7)

    @api
    def cudaRuntimeGetVersion():
        return ok, runtime_version

    @api
    def cudaDriverGetVersion():
        return ok, 12060

    return rt


# ----------------------------------------------------------------------------- pycuda


def make_pycuda_driver(gpu: FakeGPU) -> types.ModuleType:
    drv = types.ModuleType("pycuda.driver")
    drv.context_stack = []
    drv.primary_retains = 0  # retain_primary_context() calls not yet released by detach()

    class Context:
        def push(self):
            drv.context_stack.append(self)

        @staticmethod
        def pop():  # static in pycuda: pops whatever context is current on this thread
            drv.context_stack.pop()

        def detach(self):
            drv.primary_retains -= 1

    class Device:
        def __init__(self, index):
            self.index = index

        def retain_primary_context(self):
            drv.primary_retains += 1
            return Context()

    class DeviceAllocation:
        def __init__(self, nbytes):
            self.ptr = gpu.alloc(nbytes)

        def __int__(self):
            return self.ptr

        def free(self):
            gpu.free(self.ptr)

    class Stream:
        def __init__(self):
            self._stream = FakeStream(gpu)
            self.handle = self._stream.handle

        def synchronize(self):
            self._stream.synchronize()

    class Event:
        def __init__(self):
            self._event = FakeEvent()

        def record(self, stream):
            stream._stream.enqueue(record_op(gpu, self._event))

        def synchronize(self):
            pass

        def time_since(self, start):
            return self._event.time_ms - start._event.time_ms

    def memcpy_htod_async(dst, src, stream):
        stream._stream.enqueue(copy_op(gpu, int(dst), src.ctypes.data, src.nbytes))

    def memcpy_dtoh_async(dst, src, stream):
        stream._stream.enqueue(copy_op(gpu, dst.ctypes.data, int(src), dst.nbytes))

    def pagelocked_empty(shape, dtype):
        return np.empty(shape, dtype)

    drv.init = lambda: None
    drv.Context, drv.Device, drv.Stream, drv.Event = Context, Device, Stream, Event
    drv.mem_alloc, drv.pagelocked_empty = DeviceAllocation, pagelocked_empty
    drv.memcpy_htod_async, drv.memcpy_dtoh_async = memcpy_htod_async, memcpy_dtoh_async
    return drv


# ----------------------------------------------------------------------------- TensorRT


def fake_plan(batch=(1, 2, 4), size=(64, 96), static=False) -> bytes:
    """A fake plan: JSON describing I/O. ``static`` fixes the batch at ``batch[0]``."""
    h, w = size
    if static:
        image = {"name": "image", "shape": [batch[0], 3, h, w], "dtype": "float32"}
    else:
        image = {"name": "image", "shape": [-1, 3, h, w], "dtype": "float32",
                 "profile": [[batch[0], 3, h, w], [batch[1], 3, h, w], [batch[2], 3, h, w]]}
    return json.dumps({"fake_tensorrt_plan": 1, "tensors": [
        image,
        {"name": "features", "shape": [-1 if not static else batch[0], 8, h // 4, w // 4], "dtype": "float32"},
        {"name": "depth", "shape": [-1 if not static else batch[0], 1, h, w], "dtype": "float32"},
    ]}).encode()


def make_tensorrt(gpu: FakeGPU, version: str = "10.3.0") -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.deserialized = []

    class TensorIOMode(enum.Enum):
        INPUT = 1
        OUTPUT = 2

    class DataType(enum.Enum):
        FLOAT = "float32"
        HALF = "float16"

    @conforms("Logger")
    class Logger:
        WARNING = 2

        def __init__(self, min_severity=None):
            self.severity = min_severity

    def nptype(dtype):
        return np.dtype(dtype.value).type

    @conforms("ICudaEngine", attributes=("num_io_tensors",))
    class Engine:
        def __init__(self, desc):
            self.tensors = desc["tensors"]
            self.by_name = {t["name"]: t for t in self.tensors}
            self.num_io_tensors = len(self.tensors)

        def get_tensor_name(self, index):
            return self.tensors[index]["name"]

        def get_tensor_mode(self, name):
            return TensorIOMode.INPUT if name == "image" else TensorIOMode.OUTPUT

        def get_tensor_shape(self, name):
            return list(self.by_name[name]["shape"])

        def get_tensor_dtype(self, name):
            return DataType(self.by_name[name]["dtype"])

        def get_tensor_profile_shape(self, name, profile_index):
            assert profile_index == 0
            return [list(s) for s in self.by_name[name]["profile"]]

        def create_execution_context(self):
            return Context(self)

    @conforms("IExecutionContext")
    class Context:
        def __init__(self, engine):
            self.engine = engine
            self.shapes = {}
            self.addresses = {}

        def set_input_shape(self, name, shape):
            spec = self.engine.by_name[name]
            lo, hi = (spec["profile"][0], spec["profile"][2]) if "profile" in spec else (spec["shape"],) * 2
            if not all(a <= d <= b for d, a, b in zip(shape, lo, hi)):
                return False
            self.shapes[name] = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            n = self.shapes["image"][0]
            spec = self.engine.by_name[name]
            return [n if d == -1 else d for d in spec["shape"]] if name != "image" else list(self.shapes[name])

        def set_tensor_address(self, name, memory):
            self.addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle):
            missing = {t["name"] for t in self.engine.tensors} - set(self.addresses)
            assert not missing, f"addresses not set for {missing}"
            stream = gpu.streams[int(stream_handle)]
            in_shape = self.shapes["image"]
            out_shape = tuple(self.get_tensor_shape("depth"))
            feat_shape = tuple(self.get_tensor_shape("features"))
            addr = dict(self.addresses)

            def kernel():
                image = gpu.view(addr["image"], in_shape, np.float32)
                gpu.view(addr["depth"], out_shape, np.float32)[...] = reference_network(image)
                gpu.view(addr["features"], feat_shape, np.float32)[...] = 0.5
                gpu.kernel_runs += 1
                gpu.clock_ms += KERNEL_MS

            stream.enqueue(kernel)
            return True

    @conforms("Runtime", attributes=("DLA_core", "logger"))
    class Runtime:
        def __init__(self, logger):
            self.logger = logger
            self.DLA_core = -1

        def deserialize_cuda_engine(self, serialized_engine):
            try:
                desc = json.loads(bytes(serialized_engine))
            except ValueError:
                return None
            if desc.get("fake_tensorrt_plan") != 1:
                return None
            trt.deserialized.append({"dla_core": self.DLA_core})
            return Engine(desc)

    trt.TensorIOMode, trt.DataType, trt.Logger, trt.Runtime, trt.nptype = TensorIOMode, DataType, Logger, Runtime, nptype
    @conforms("IInt8EntropyCalibrator2")
    class IInt8EntropyCalibrator2:
        def __init__(self):
            pass

    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.fake_classes = (Logger, Engine, Context, Runtime, IInt8EntropyCalibrator2)
    trt.fake_enums = {"TensorIOMode": TensorIOMode, "DataType": DataType}
    trt.init_libnvinfer_plugins = lambda logger, namespace: True
    return trt


def install(modules: dict, gpu: FakeGPU, binding: str = "cuda-python", fail_capture: bool = False,
            trt_version: str = "10.3.0", runtime_version: int = 12060, real=None) -> dict:
    """Put the fakes into ``modules`` (``sys.modules`` or a monkeypatched copy).

    Args:
        binding: "cuda-python" (cuda.bindings.runtime), "cudart-legacy" (cuda.cudart only) or "pycuda".
        runtime_version, real: as for :func:`make_cudart`.

    Returns:
        The fake modules by name.
    """
    fakes = {"tensorrt": make_tensorrt(gpu, trt_version)}
    if binding == "pycuda":
        pkg = types.ModuleType("pycuda")
        pkg.driver = make_pycuda_driver(gpu)
        fakes.update({"pycuda": pkg, "pycuda.driver": pkg.driver})
        fakes.update({"cuda": None, "cuda.bindings": None, "cuda.bindings.runtime": None, "cuda.cudart": None})
    else:
        rt = make_cudart(gpu, fail_capture, runtime_version, real)
        cuda = types.ModuleType("cuda")
        cuda.__path__ = []
        if binding == "cuda-python":
            bindings = types.ModuleType("cuda.bindings")
            bindings.__path__ = []
            bindings.runtime = rt
            fakes.update({"cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": rt, "cuda.cudart": None})
        else:  # cuda-python < 12.6: only ``import cuda.cudart`` works; the package has no attribute
            fakes.update({"cuda": cuda, "cuda.bindings": None, "cuda.bindings.runtime": None, "cuda.cudart": rt})
        fakes.update({"pycuda": None, "pycuda.driver": None})
    modules.update(fakes)
    return fakes
