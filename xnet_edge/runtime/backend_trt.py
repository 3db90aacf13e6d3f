"""TensorRT backend: a deserialized plan run with the TensorRT 10 tensor-name API.

Device buffers and pinned host buffers are allocated once, for the largest shape
the engine's optimization profile allows; every call is one stream doing
async H2D -> ``execute_async_v3`` (or a captured CUDA graph) -> async D2H.
Never imports torch; ``tensorrt`` and the CUDA binding are imported when the
backend is created.

The shape/buffer logic is plain functions over :class:`EngineTensor` so it can be
unit-tested without a GPU.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError
from .backend import Backend
from .cuda_mem import CudaMemory, open_cuda_memory
from .spec import TensorSpec, nbytes, normalize_shape, primary_output
from .timing import HookList

if TYPE_CHECKING:  # NVIDIA's tensorrt-stubs give a type checker the real API (make typecheck)
    import tensorrt as trt_types

Shape = tuple[int, ...]


@dataclass(frozen=True)
class EngineTensor:
    """One I/O tensor of an engine, in the engine's binding order.

    Attributes:
        name: tensor name.
        is_input: True for inputs.
        shape: the engine's shape; -1 for dynamic dimensions.
        dtype: numpy dtype.
        profile: (min, opt, max) shapes from optimization profile 0, for dynamic inputs.
    """

    name: str
    is_input: bool
    shape: Shape
    dtype: np.dtype
    profile: Optional[tuple[Shape, Shape, Shape]] = None

    def spec(self) -> TensorSpec:
        return TensorSpec(self.name, self.shape, self.dtype, self.is_input)


def dims_shape(dims: trt_types.Dims | Sequence[int]) -> Shape:
    """A TensorRT ``Dims`` (tuple-like: ``len`` and indexing) as a shape with -1 for dynamic dimensions."""
    return normalize_shape([dims[i] for i in range(len(dims))])


def read_engine_tensors(engine: trt_types.ICudaEngine, trt) -> list[EngineTensor]:
    """List an engine's I/O tensors through the tensor-name API, in binding order.

    Raises:
        XnetEdgeError: the TensorRT binding predates the tensor-name API (< 8.5).
    """
    if not hasattr(engine, "num_io_tensors"):
        raise XnetEdgeError(f"TensorRT {getattr(trt, '__version__', '?')} lacks the tensor-name API; "
                            "xnet-edge needs TensorRT >= 8.5 (10.x recommended)")
    tensors = []
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = dims_shape(engine.get_tensor_shape(name))
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        profile = None
        if is_input and -1 in shape:
            lo, opt, hi = engine.get_tensor_profile_shape(name, 0)
            profile = (dims_shape(lo), dims_shape(opt), dims_shape(hi))
        tensors.append(EngineTensor(name, is_input, shape, dtype, profile))
    return tensors


def max_input_shape(tensor: EngineTensor) -> Shape:
    """The largest shape an input can take: its static shape or the profile's max."""
    if -1 not in tensor.shape:
        return tensor.shape
    if tensor.profile is None:
        raise XnetEdgeError(f"input {tensor.name!r} has dynamic shape {tensor.shape} but no optimization profile")
    return tensor.profile[2]


def check_input_shape(tensor: EngineTensor, shape: Sequence[int]) -> None:
    """Raise UsageError if ``shape`` does not fit the input's static shape or profile range."""
    shape = tuple(int(d) for d in shape)
    if len(shape) != len(tensor.shape):
        raise UsageError(f"input {tensor.name!r} takes {len(tensor.shape)}-D tensors, got shape {shape}")
    if tensor.profile is None:
        if shape != tensor.shape:
            raise UsageError(f"this engine's input {tensor.name!r} is fixed at {tensor.shape}, got {shape}")
        return
    lo, _, hi = tensor.profile
    if any(not (a <= d <= b) for d, a, b in zip(shape, lo, hi)):
        raise UsageError(f"shape {shape} is outside the engine's profile for {tensor.name!r}: "
                         f"min {lo}, max {hi}; rebuild the engine with a wider profile")


def batch_range(tensor: EngineTensor) -> tuple[int, int]:
    """(min, max) batch size of an input."""
    if tensor.profile is None:
        return tensor.shape[0], tensor.shape[0]
    return tensor.profile[0][0], tensor.profile[2][0]


def buffer_sizes(tensors: Sequence[EngineTensor], max_shapes: dict[str, Shape]) -> dict[str, int]:
    """Bytes to allocate per tensor so that every shape the engine allows fits.

    Args:
        tensors: the engine's I/O tensors.
        max_shapes: the largest shape of each tensor (inputs: :func:`max_input_shape`; outputs:
            what the context reports once the inputs are set to their largest shapes).

    Returns:
        ``{name: nbytes}`` in binding order.
    """
    sizes = {}
    for t in tensors:
        shape = max_shapes[t.name]
        if -1 in shape:
            raise XnetEdgeError(f"tensor {t.name!r} still has dynamic shape {shape}; data-dependent output "
                                "shapes are not supported")
        sizes[t.name] = nbytes(shape, t.dtype)
    return sizes


def image_input(tensors: Sequence[EngineTensor]) -> EngineTensor:
    """The engine's single image input ("image" by the ONNX contract)."""
    inputs = [t for t in tensors if t.is_input]
    named = [t for t in inputs if t.name == "image"]
    if named and len(inputs) == 1:
        return named[0]
    if len(inputs) == 1:
        return inputs[0]
    raise XnetEdgeError(f"expected an engine with one image input, it has {[t.name for t in inputs]}")


class TensorRTBackend(Backend):
    """Runs a serialized TensorRT plan.

    Args:
        plan: path to the ``.plan`` / ``.engine`` file.
        cuda_graph: capture ``execute_async_v3`` into a CUDA graph per input shape and replay it
            (cuda-python only; falls back to plain enqueue with a warning if capture fails).
        dla_core: the DLA core the plan was built for (from the manifest), or None.
        cuda_api: "auto", "cuda-python" or "pycuda" (see :func:`open_cuda_memory`).
        device: CUDA device index.
        memory: an open :class:`CudaMemory` to use instead of opening one (tests, sharing).

    Raises:
        MissingDependencyError: tensorrt or a CUDA binding is not installed.
        XnetEdgeError: the plan does not deserialize (other TensorRT version or GPU) or has an
            unsupported I/O layout.
    """

    name = "tensorrt"

    def __init__(self, plan: str | Path, cuda_graph: bool = False, dla_core: Optional[int] = None,
                 cuda_api: str = "auto", device: int = 0, memory: Optional[CudaMemory] = None):
        trt = require("tensorrt")
        self.path = Path(plan)
        self.version = str(getattr(trt, "__version__", "unknown"))
        self._memory = memory if memory is not None else open_cuda_memory(cuda_api, device)
        self._closed = False
        try:
            self._engine, self._context = self._load(trt, dla_core)
            self._setup(trt)
        except BaseException:
            self._memory.close()
            raise
        self.dla_core = dla_core
        self.device = device
        self._use_graph = bool(cuda_graph)
        if cuda_graph and not self._memory.supports_graphs:
            warnings.warn(f"CUDA graphs need cuda-python; running without them on {self._memory.name}",
                          RuntimeWarning, stacklevel=2)
            self._use_graph = False
        self._graph = None
        self._events: Optional[list] = None

    def _load(self, trt, dla_core) -> tuple[trt_types.ICudaEngine, trt_types.IExecutionContext]:
        data = self.path.read_bytes()
        logger = trt.Logger(trt.Logger.WARNING)
        if hasattr(trt, "init_libnvinfer_plugins"):
            trt.init_libnvinfer_plugins(logger, "")
        runtime: trt_types.Runtime = trt.Runtime(logger)
        if dla_core is not None:
            runtime.DLA_core = int(dla_core)
        engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise XnetEdgeError(f"TensorRT {self.version} could not deserialize {self.path}: plans only load on "
                                "the TensorRT version and GPU that built them; rebuild it on this machine with "
                                "xnet-edge build")
        context = engine.create_execution_context()
        if context is None:
            raise XnetEdgeError(f"TensorRT could not create an execution context for {self.path} "
                                "(out of GPU memory?)")
        self._runtime = runtime  # the engine must not outlive its runtime
        return engine, context

    def _setup(self, trt) -> None:
        self.tensors = read_engine_tensors(self._engine, trt)
        self._input = image_input(self.tensors)
        self.inputs = [t.spec() for t in self.tensors if t.is_input]
        self.outputs = [t.spec() for t in self.tensors if not t.is_input]
        self._output_name = primary_output(self.outputs).name
        self._output = next(t for t in self.tensors if t.name == self._output_name)
        max_shapes = self._max_shapes()
        sizes = buffer_sizes(self.tensors, max_shapes)
        self._device = {name: self._memory.alloc_device(size) for name, size in sizes.items()}
        # Only the image input and the primary output cross to the host.
        self._host = {name: self._memory.alloc_pinned(sizes[name]) for name in (self._input.name, self._output_name)}
        for name, ptr in self._device.items():
            self._context.set_tensor_address(name, ptr)
        self._stream = self._memory.create_stream()
        self._bound: Optional[Shape] = None
        self._out_shape: Shape = ()

    def _max_shapes(self) -> dict[str, Shape]:
        shapes = {}
        for t in self.tensors:
            if t.is_input:
                shapes[t.name] = max_input_shape(t)
                self._context.set_input_shape(t.name, shapes[t.name])
        for t in self.tensors:
            if not t.is_input:
                shapes[t.name] = dims_shape(self._context.get_tensor_shape(t.name))
        return shapes

    # ------------------------------------------------------------------ Backend API

    def batch_range(self) -> tuple[int, Optional[int]]:
        return batch_range(self._input)

    def check_input_size(self, height: int, width: int) -> None:
        """Raise UsageError if (H, W) is outside the engine's profile."""
        check_input_shape(self._input, (self.batch_range()[0], 3, height, width))

    def run(self, batch: np.ndarray, hooks: HookList) -> np.ndarray:
        if self._closed:
            raise XnetEdgeError("the TensorRT backend is closed")
        shape = tuple(int(d) for d in batch.shape)
        if shape != self._bound:
            self._bind(shape)
        host_in = self._host[self._input.name][: nbytes(shape, self._input.dtype)]
        host_in = host_in.view(self._input.dtype).reshape(shape)
        np.copyto(host_in, batch, casting="same_kind")
        out_dtype = self._output.dtype
        host_out = self._host[self._output_name][: nbytes(self._out_shape, out_dtype)]
        host_out = host_out.view(out_dtype).reshape(self._out_shape)
        timed = bool(hooks)
        events = self._timing_events() if timed else []
        mem, stream = self._memory, self._stream
        if timed:
            mem.record(events[0], stream)
        mem.htod_async(self._device[self._input.name], host_in, stream)
        if timed:
            mem.record(events[1], stream)
        start = time.perf_counter()
        self._enqueue()
        enqueue_s = time.perf_counter() - start
        if timed:
            mem.record(events[2], stream)
        mem.dtoh_async(host_out, self._device[self._output_name], stream)
        if timed:
            mem.record(events[3], stream)
        mem.synchronize(stream)
        if timed:
            hooks.emit("h2d", mem.elapsed_ms(events[0], events[1]) / 1e3)
            hooks.emit("enqueue", enqueue_s)
            hooks.emit("compute", mem.elapsed_ms(events[1], events[2]) / 1e3)
            hooks.emit("d2h", mem.elapsed_ms(events[2], events[3]) / 1e3)
        return host_out.astype(np.float32, copy=True)

    def _timing_events(self) -> list:
        if self._events is None:
            self._events = [self._memory.create_event() for _ in range(4)]
        return self._events

    def _bind(self, shape: Shape) -> None:
        check_input_shape(self._input, shape)
        self._drop_graph()
        if not self._context.set_input_shape(self._input.name, shape):
            raise XnetEdgeError(f"TensorRT rejected input shape {shape}")
        self._out_shape = dims_shape(self._context.get_tensor_shape(self._output_name))
        self._bound = shape
        if self._use_graph:
            self._capture_graph()

    def _execute(self) -> None:
        if not self._context.execute_async_v3(self._memory.stream_handle(self._stream)):
            raise XnetEdgeError("TensorRT execute_async_v3 failed (see the TensorRT log above)")

    def _enqueue(self) -> None:
        if self._graph is not None:
            self._memory.launch_graph(self._graph, self._stream)
        else:
            self._execute()

    def _capture_graph(self) -> None:
        # One plain enqueue first: TensorRT finishes shape-dependent setup outside the capture.
        self._execute()
        self._memory.synchronize(self._stream)
        try:
            self._memory.begin_capture(self._stream)
        except XnetEdgeError as exc:
            self._disable_graph(exc)
            return
        try:
            self._execute()
        except XnetEdgeError as exc:
            try:
                self._memory.end_capture(self._stream)
            except XnetEdgeError:
                pass
            self._disable_graph(exc)
            return
        try:
            self._graph = self._memory.end_capture(self._stream)
        except XnetEdgeError as exc:
            self._disable_graph(exc)

    def _disable_graph(self, exc: Exception) -> None:
        warnings.warn(f"CUDA graph capture failed ({exc}); running without a graph", RuntimeWarning, stacklevel=4)
        self._use_graph = False
        self._graph = None

    def _drop_graph(self) -> None:
        if self._graph is not None:
            self._memory.destroy_graph(self._graph)
            self._graph = None

    @property
    def uses_cuda_graph(self) -> bool:
        """True when calls replay a captured CUDA graph."""
        return self._graph is not None

    def describe(self) -> dict:
        return {"backend": self.name, "tensorrt": self.version, "cuda_binding": self._memory.name,
                "cuda_graph": self._use_graph, "dla_core": self.dla_core, "device": self.device,
                "file": str(self.path)}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop_graph()
        # Context and engine go before the memory they point into.
        del self._context, self._engine, self._runtime
        self._memory.close()
