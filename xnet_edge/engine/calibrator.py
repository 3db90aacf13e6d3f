"""Legacy implicit INT8 for TensorRT 8.5-10: an ``IInt8EntropyCalibrator2`` and its input batches.

Explicit quantization (a Q/DQ ONNX) is the primary INT8 path; this one exists for
JetPack 5/6 users who calibrate inside TensorRT or reuse a calibration cache.
With a cache, TensorRT reads the scales from it and never asks for a batch.

The calibrator class is created inside :func:`make_entropy_calibrator` because
its base class lives in ``tensorrt``, which is only imported there. Device
memory comes from cuda-python or pycuda, whichever is installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from .._deps import require
from ..errors import MissingDependencyError, UsageError
from ..io_utils import write_bytes_atomic
from ..preprocess import preprocess


def image_batches(images: Iterable[np.ndarray], network_hw: Sequence[int], mean, std,
                  batch_size: int) -> Iterator[np.ndarray]:
    """Preprocess RGB images exactly as inference does and group them into (B,3,H,W) batches.

    A final partial batch is dropped: TensorRT calibrates with a fixed batch size.

    Args:
        images: HxWx3 RGB arrays.
        network_hw: the network input size (H, W).
        mean, std: normalization from the model's preprocessing metadata.
        batch_size: images per batch (>= 1).

    Yields:
        C-contiguous float32 arrays of shape (batch_size, 3, H, W).
    """
    if batch_size < 1:
        raise UsageError(f"calibration batch size must be >= 1, got {batch_size}")
    pending: list[np.ndarray] = []
    for image in images:
        tensor, _ = preprocess(image, tuple(network_hw), mean, std)
        pending.append(tensor[0])
        if len(pending) == batch_size:
            yield np.ascontiguousarray(np.stack(pending), dtype=np.float32)
            pending = []


class _DeviceBuffer:
    """One device allocation through cuda-python (preferred) or pycuda."""

    def __init__(self, nbytes: int):
        self.nbytes = int(nbytes)
        self._cudart = self._pycuda = None
        try:
            self._cudart = _import_cudart()
        except MissingDependencyError:
            try:
                self._pycuda = require("pycuda.driver")
                require("pycuda.autoinit")  # creates the context TensorRT will use
            except MissingDependencyError:
                raise MissingDependencyError("cuda-python", "trt", "calibration copies batches to the GPU "
                                             "with cuda-python or pycuda") from None
        if self._cudart is not None:
            err, self.ptr = self._cudart.cudaMalloc(self.nbytes)
            _check_cuda(err, "cudaMalloc")
        else:
            self._alloc = self._pycuda.mem_alloc(self.nbytes)
            self.ptr = int(self._alloc)

    def copy_from_host(self, array: np.ndarray) -> None:
        host = np.ascontiguousarray(array)
        if host.nbytes != self.nbytes:
            raise ValueError(f"batch has {host.nbytes} bytes, buffer {self.nbytes}")
        if self._cudart is not None:
            kind = self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            (err,) = self._cudart.cudaMemcpy(self.ptr, host.ctypes.data, self.nbytes, kind)
            _check_cuda(err, "cudaMemcpy")
        else:
            self._pycuda.memcpy_htod(self._alloc, host)

    def free(self) -> None:
        if self._cudart is not None and self.ptr:
            self._cudart.cudaFree(self.ptr)
            self.ptr = 0


def _import_cudart():
    try:
        return require("cuda.bindings.runtime")
    except MissingDependencyError:
        return require("cuda").cudart  # cuda-python < 12.6


def _check_cuda(err, what: str) -> None:
    if int(err) != 0:
        raise RuntimeError(f"{what} failed with CUDA error {int(err)}")


def make_entropy_calibrator(cache_path: str | os.PathLike, batches: Optional[Iterable[np.ndarray]] = None,
                            batch_shape: Optional[Sequence[int]] = None):
    """Create a ``tensorrt.IInt8EntropyCalibrator2`` backed by a cache file and optional batches.

    If ``cache_path`` exists TensorRT reads the scales from it and no batch is
    needed; otherwise it pulls ``batches`` through :meth:`get_batch` and the
    resulting cache is written to ``cache_path``.

    Args:
        cache_path: the TensorRT calibration cache (read if present, written after calibration).
        batches: float32 arrays of ``batch_shape`` (e.g. from :func:`image_batches`).
        batch_shape: (B, 3, H, W) of every batch; required with ``batches``.

    Returns:
        The calibrator instance (keep a reference until the build finishes).

    Raises:
        MissingDependencyError: tensorrt (or a CUDA binding, when calibrating) is missing.
        UsageError: neither an existing cache nor batches were given.
    """
    trt = require("tensorrt")
    cache_path = Path(cache_path)
    if not cache_path.is_file() and (batches is None or batch_shape is None):
        raise UsageError("INT8 calibration needs an existing calibration cache or calibration images")

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)  # the binding requires the base initializer
            self._batches = iter(batches) if batches is not None else iter(())
            self._batch_size = int(batch_shape[0]) if batch_shape else 1
            self._nbytes = int(np.prod(batch_shape)) * 4 if batch_shape else 0
            self._device: Optional[_DeviceBuffer] = None

        def get_batch_size(self):
            return self._batch_size

        def get_batch(self, names):
            batch = next(self._batches, None)
            if batch is None:
                self._release()
                return None
            if self._device is None:
                self._device = _DeviceBuffer(self._nbytes)
            self._device.copy_from_host(np.asarray(batch, dtype=np.float32))
            return [int(self._device.ptr)]  # one image input

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            write_bytes_atomic(cache_path, bytes(memoryview(cache)))

        def _release(self):
            if self._device is not None:
                self._device.free()
                self._device = None

    return EntropyCalibrator()
