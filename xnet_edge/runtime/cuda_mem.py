"""The CUDA memory layer of the TensorRT backend: device buffers, pinned host buffers,
one stream, async copies, events and (cuda-python only) CUDA graphs.

Two bindings implement the same small interface, whichever is installed:

* cuda-python — ``cuda.bindings.runtime`` (cuda-python >= 12.6), falling back to
  ``cuda.cudart`` (older releases; see :mod:`xnet_edge.cuda_import`). Every call returns
  ``(error, *values)``.
* pycuda — ``pycuda.driver`` on the device's primary context (the one TensorRT uses),
  retained on open and released on close.

Neither is imported at module level; :func:`open_cuda_memory` picks one. A
cuda-python built for a newer CUDA than the driver supports (13.x on a CUDA 12
driver) fails at open with one line saying what to install, and "auto" then
falls back to pycuda when it is installed.
"""

from __future__ import annotations

import abc
import ctypes
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cuda_import import (CUDA_ERROR_INSUFFICIENT_DRIVER, describe_driver_mismatch, import_cudart,
                           import_pycuda_driver, require_cudart)
from ..errors import MissingDependencyError, UsageError, XnetEdgeError
from .runtime_options import CUDA_APIS

if TYPE_CHECKING:
    from types import ModuleType


class CudaError(XnetEdgeError):
    """A CUDA call failed."""


class CudaDriverError(CudaError):
    """The installed CUDA binding cannot use this machine's driver (none, or too old)."""


class CudaMemory(abc.ABC):
    """Device/pinned allocations, one stream, async copies and timing events.

    Everything allocated through an instance is released by :meth:`close`.
    """

    #: "cuda-python" or "pycuda"
    name = "cuda"
    #: whether :meth:`begin_capture` / :meth:`end_capture` work
    supports_graphs = False

    @abc.abstractmethod
    def alloc_device(self, nbytes: int) -> int:
        """Allocate ``nbytes`` of device memory; returns the device pointer."""

    @abc.abstractmethod
    def alloc_pinned(self, nbytes: int) -> np.ndarray:
        """Allocate ``nbytes`` of page-locked host memory as a flat uint8 array."""

    @abc.abstractmethod
    def create_stream(self) -> Any:
        """Create a CUDA stream (an opaque object; see :meth:`stream_handle`)."""

    @abc.abstractmethod
    def stream_handle(self, stream: Any) -> int:
        """The raw ``cudaStream_t`` as an int (what ``execute_async_v3`` takes)."""

    @abc.abstractmethod
    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        """Queue a copy of the contiguous host array ``src`` to device pointer ``dst``."""

    @abc.abstractmethod
    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        """Queue a copy from device pointer ``src`` into the contiguous host array ``dst``."""

    @abc.abstractmethod
    def synchronize(self, stream: Any) -> None:
        """Wait until everything queued on ``stream`` has finished."""

    @abc.abstractmethod
    def create_event(self) -> Any:
        """Create a timing event."""

    @abc.abstractmethod
    def record(self, event: Any, stream: Any) -> None:
        """Record ``event`` on ``stream``."""

    @abc.abstractmethod
    def elapsed_ms(self, start: Any, end: Any) -> float:
        """GPU milliseconds between two recorded events (both must have completed)."""

    def begin_capture(self, stream: Any) -> None:
        """Start capturing ``stream`` into a CUDA graph."""
        raise UsageError(f"CUDA graphs need cuda-python; {self.name} cannot capture them")

    def end_capture(self, stream: Any) -> Any:
        """Stop capturing and return an executable graph."""
        raise UsageError(f"CUDA graphs need cuda-python; {self.name} cannot capture them")

    def launch_graph(self, graph_exec: Any, stream: Any) -> None:
        """Launch an executable graph on ``stream``."""
        raise UsageError(f"CUDA graphs need cuda-python; {self.name} cannot capture them")

    def destroy_graph(self, graph_exec: Any) -> None:
        """Free an executable graph."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free every allocation, stream and event made through this object (idempotent)."""


def pinned_view(ptr: int, nbytes: int) -> np.ndarray:
    """A flat uint8 numpy array over ``nbytes`` of host memory at address ``ptr``."""
    if nbytes == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr))


class CudaPythonMemory(CudaMemory):
    """:class:`CudaMemory` through NVIDIA's cuda-python runtime bindings.

    Args:
        cudart: ``cuda.bindings.runtime`` or the older ``cuda.cudart`` module.
        device: CUDA device index.
    """

    name = "cuda-python"
    supports_graphs = True

    def __init__(self, cudart: ModuleType, device: int = 0):
        self._rt = cudart
        self._device_ptrs: list[int] = []
        self._host_ptrs: list[int] = []
        self._streams: list[Any] = []
        self._events: list[Any] = []
        self._graphs: list[Any] = []
        err, runtime = cudart.cudaRuntimeGetVersion()
        # CUDA 12 changed cudaGraphInstantiate from (graph, logBuffer, bufferSize) to (graph, flags).
        self._cuda11 = int(err) == 0 and int(runtime) < 12000
        self._call("cudaSetDevice", device)
        self._call("cudaFree", 0)  # creates the primary context now; TensorRT shares it

    def _call(self, fn: str, *args) -> Any:
        try:
            result = getattr(self._rt, fn)(*args)
        except RuntimeError as exc:  # bindings before 12.9 raise when libcuda.so cannot be loaded
            raise CudaDriverError(f"{fn} failed: {exc}: no CUDA driver on this machine") from None
        err, values = result[0], result[1:]
        if int(err) == CUDA_ERROR_INSUFFICIENT_DRIVER:
            raise CudaDriverError(f"{fn} failed: {describe_driver_mismatch(self._rt)}")
        if int(err) != 0:
            raise CudaError(f"{fn} failed: {getattr(err, 'name', err)} ({int(err)})")
        return values[0] if len(values) == 1 else (values or None)

    def alloc_device(self, nbytes: int) -> int:
        ptr = int(self._call("cudaMalloc", max(int(nbytes), 1)))
        self._device_ptrs.append(ptr)
        return ptr

    def alloc_pinned(self, nbytes: int) -> np.ndarray:
        ptr = int(self._call("cudaMallocHost", max(int(nbytes), 1)))
        self._host_ptrs.append(ptr)
        return pinned_view(ptr, int(nbytes))

    def create_stream(self):
        stream = self._call("cudaStreamCreate")
        self._streams.append(stream)
        return stream

    def stream_handle(self, stream) -> int:
        return int(stream)

    def htod_async(self, dst: int, src: np.ndarray, stream) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", dst, src.ctypes.data, src.nbytes, kind, stream)

    def dtoh_async(self, dst: np.ndarray, src: int, stream) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", dst.ctypes.data, src, dst.nbytes, kind, stream)

    def synchronize(self, stream) -> None:
        self._call("cudaStreamSynchronize", stream)

    def create_event(self):
        event = self._call("cudaEventCreate")
        self._events.append(event)
        return event

    def record(self, event, stream) -> None:
        self._call("cudaEventRecord", event, stream)

    def elapsed_ms(self, start, end) -> float:
        return float(self._call("cudaEventElapsedTime", start, end))

    def begin_capture(self, stream) -> None:
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._call("cudaStreamBeginCapture", stream, mode)

    def end_capture(self, stream):
        graph = self._call("cudaStreamEndCapture", stream)
        try:
            if self._cuda11:  # returns (graph_exec, error node)
                graph_exec = self._call("cudaGraphInstantiate", graph, b"", 0)[0]
            else:
                graph_exec = self._call("cudaGraphInstantiate", graph, 0)
        finally:
            self._call("cudaGraphDestroy", graph)
        self._graphs.append(graph_exec)
        return graph_exec

    def launch_graph(self, graph_exec, stream) -> None:
        self._call("cudaGraphLaunch", graph_exec, stream)

    def destroy_graph(self, graph_exec) -> None:
        if graph_exec in self._graphs:
            self._graphs.remove(graph_exec)
            self._call("cudaGraphExecDestroy", graph_exec)

    def close(self) -> None:
        # Release in reverse order of dependency; keep going if one release fails.
        for items, fn in ((self._graphs, "cudaGraphExecDestroy"), (self._events, "cudaEventDestroy"),
                          (self._streams, "cudaStreamDestroy"), (self._device_ptrs, "cudaFree"),
                          (self._host_ptrs, "cudaFreeHost")):
            while items:
                item = items.pop()
                try:
                    getattr(self._rt, fn)(item)
                except Exception:  # noqa: BLE001 - a failed free at shutdown must not hide the real error
                    pass


class PyCudaMemory(CudaMemory):
    """:class:`CudaMemory` through pycuda, on the device's primary context.

    Args:
        driver: the ``pycuda.driver`` module.
        device: CUDA device index.
    """

    name = "pycuda"
    supports_graphs = False

    def __init__(self, driver: ModuleType, device: int = 0):
        self._drv = driver
        driver.init()
        self._context = driver.Device(device).retain_primary_context()
        self._context.push()
        self._allocations: list[Any] = []
        self._pinned: list[np.ndarray] = []

    def alloc_device(self, nbytes: int) -> int:
        alloc = self._drv.mem_alloc(max(int(nbytes), 1))
        self._allocations.append(alloc)
        return int(alloc)

    def alloc_pinned(self, nbytes: int) -> np.ndarray:
        array = self._drv.pagelocked_empty(int(nbytes), np.uint8)
        self._pinned.append(array)
        return array

    def create_stream(self):
        return self._drv.Stream()

    def stream_handle(self, stream) -> int:
        return int(stream.handle)

    def htod_async(self, dst: int, src: np.ndarray, stream) -> None:
        self._drv.memcpy_htod_async(dst, src, stream)

    def dtoh_async(self, dst: np.ndarray, src: int, stream) -> None:
        self._drv.memcpy_dtoh_async(dst, src, stream)

    def synchronize(self, stream) -> None:
        stream.synchronize()

    def create_event(self):
        return self._drv.Event()

    def record(self, event, stream) -> None:
        event.record(stream)

    def elapsed_ms(self, start, end) -> float:
        end.synchronize()
        return float(end.time_since(start))

    def close(self) -> None:
        while self._allocations:
            self._allocations.pop().free()
        self._pinned.clear()
        if self._context is not None:
            self._drv.Context.pop()  # static in pycuda: pops the calling thread's current context
            self._context.detach()  # releases the retain taken in __init__
            self._context = None


def open_cuda_memory(api: str = "auto", device: int = 0) -> CudaMemory:
    """Open the CUDA memory layer through the binding that is installed.

    Args:
        api: "auto" (cuda-python, then pycuda), "cuda-python" or "pycuda".
        device: CUDA device index.

    Returns:
        A :class:`CudaMemory`.

    Raises:
        UsageError: unknown ``api``.
        MissingDependencyError: the requested binding (or, for "auto", both) is not installed.
        CudaDriverError: cuda-python cannot use this machine's driver (and, for "auto", pycuda
            is not installed); the message says what to install.
    """
    if api not in CUDA_APIS:
        raise UsageError(f"unknown CUDA binding {api!r}; choose one of {', '.join(CUDA_APIS)}")
    driver_error = None
    if api in ("auto", "cuda-python"):
        cudart = require_cudart() if api == "cuda-python" else import_cudart()
        if cudart is not None:
            try:
                return CudaPythonMemory(cudart, device)
            except CudaDriverError as exc:
                if api == "cuda-python":
                    raise
                driver_error = exc
    driver = import_pycuda_driver()
    if driver is not None:
        if driver_error is not None:
            warnings.warn(f"{driver_error}; using pycuda", RuntimeWarning, stacklevel=2)
        return PyCudaMemory(driver, device)
    if driver_error is not None:
        raise driver_error
    if api == "pycuda":
        raise MissingDependencyError("pycuda", "trt")
    raise MissingDependencyError("cuda-python", "trt", "or pycuda: the TensorRT backend needs a CUDA binding "
                                 "for its buffers")

