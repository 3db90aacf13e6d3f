"""Legacy implicit INT8 for TensorRT 8.5-10: an ``IInt8EntropyCalibrator2`` and its input batches.

Explicit quantization (a Q/DQ ONNX) is the primary INT8 path; this one exists for
JetPack 5/6 users who calibrate inside TensorRT or reuse a calibration cache.
With a cache, TensorRT reads the scales from it and never asks for a batch.

The calibrator class is created inside :func:`make_entropy_calibrator` because
its base class lives in ``tensorrt``, which is only imported there. Device
memory comes from the runtime's CUDA layer (:func:`~xnet_edge.runtime.cuda_mem.open_cuda_memory`:
cuda-python, else pycuda on the device's primary context). It is opened when the
calibrator is created, i.e. before the builder starts, never inside TensorRT's
``get_batch`` callback, and released by :meth:`close` (or after the last batch).

The batches (:func:`calibration_batches`) come from the model's contract through the same
:meth:`~xnet_edge.contract.Preprocessing.apply` the runtime feeds the network with, and
need neither TensorRT nor a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Sequence

import numpy as np

from .._deps import require
from ..contract import Preprocessing
from ..errors import UsageError
from ..io_utils import write_bytes_atomic

if TYPE_CHECKING:
    import tensorrt as trt_types

    from ..runtime.cuda_mem import CudaMemory


def calibration_cache_version(path: str | os.PathLike) -> str:
    """The TensorRT version a calibration cache was written for, from its ``TRT-<version>-`` header.

    Returns:
        ``"MAJOR.MINOR.PATCH"`` (``TRT-8502-…`` → ``"8.5.2"``, ``TRT-100300-…`` → ``"10.3.0"``).

    Raises:
        UsageError: the file is missing or is not a TensorRT calibration cache.
    """
    # installed as xnet_edge.calibration (setup.py's package_dir), which a type checker cannot follow
    from ..calibration.trt_cache import read_trt_cache  # pyright: ignore[reportMissingImports]

    header, _ = read_trt_cache(path)
    code = int(header.split("-")[1])
    if code >= 100000:  # TensorRT >= 10: MAJOR*10000 + MINOR*100 + PATCH
        return f"{code // 10000}.{code // 100 % 100}.{code % 100}"
    return f"{code // 1000}.{code // 100 % 10}.{code % 100}"


def check_calibration_cache(path: str | os.PathLike, tensorrt: Optional[str]) -> list[str]:
    """Refuse a calibration cache that the TensorRT that will build would ignore.

    TensorRT only reads a cache written by its own version. A cache whose
    major.minor differs from ``tensorrt`` is refused; a different patch release
    gives a note (the cache may still be ignored on the device).

    Args:
        path: the cache file.
        tensorrt: the building TensorRT's version or release (``"10.3.0.30"``, ``"8.6"``); a bare
            generation (``"10"``) checks the major version only; None checks only that the file
            is a calibration cache.

    Returns:
        Notes for the user (empty when the versions agree).

    Raises:
        UsageError: not a calibration cache, or written for another TensorRT major.minor.
    """
    written = calibration_cache_version(path)
    if tensorrt is None:
        return []
    want = str(tensorrt).split(".")
    have = written.split(".")
    depth = min(len(want), 2)
    if want[:depth] != have[:depth]:
        raise UsageError(f"calibration cache {path} was written by TensorRT {written}, but the build uses TensorRT "
                         f"{tensorrt}; TensorRT ignores a cache from another version: calibrate again for "
                         f"{tensorrt} (xnet-edge calibrate --trt-version)")
    if len(want) > 2 and want[2] != have[2]:
        return [f"calibration cache written by TensorRT {written}, building with {tensorrt}: "
                "if TensorRT ignores it, calibrate again for this version"]
    return []


def image_batches(images: Iterable[np.ndarray], preprocessing: Preprocessing,
                  batch_size: int) -> Iterator[np.ndarray]:
    """Preprocess images as the runtime does and group them into (B, 3, H, W) batches.

    Each image goes through :meth:`Preprocessing.apply <xnet_edge.contract.Preprocessing.apply>`,
    the call every runtime backend's input comes from, so the model's input size, mean/std,
    0..1 or 0..255 ``scale`` and ``rgb``/``bgr`` channel order apply to calibration exactly as
    to inference. A final partial batch is dropped: TensorRT calibrates with a fixed batch size.

    Args:
        images: HxW, HxWx3 or HxWx4 arrays in RGB order (as :func:`xnet_edge.images.read_rgb` gives).
        preprocessing: the model's contract block (``read_contract(path).require_preprocessing()``).
        batch_size: images per batch (>= 1).

    Yields:
        C-contiguous float32 arrays of shape (batch_size, 3, H, W).

    Raises:
        UsageError: ``batch_size`` < 1 (raised on the first ``next``).
    """
    if batch_size < 1:
        raise UsageError(f"calibration batch size must be >= 1, got {batch_size}")
    pending: list[np.ndarray] = []
    for image in images:
        tensor, _ = preprocessing.apply(image)
        pending.append(tensor[0])
        if len(pending) == batch_size:
            yield np.ascontiguousarray(np.stack(pending), dtype=np.float32)
            pending = []


def calibration_batches(spec, preprocessing: Preprocessing, batch_size: int) -> Iterator[np.ndarray]:
    """The batches TensorRT calibrates with: image files read and preprocessed as ``infer`` does.

    Needs neither TensorRT nor a GPU, so what the calibrator feeds can be checked anywhere.

    Args:
        spec: a folder, glob, file or list of files (:func:`xnet_edge.images.list_images`).
        preprocessing: the model's contract block.
        batch_size: images per batch (the optimization profile's batch).

    Returns:
        An iterator of (batch_size, 3, H, W) float32 arrays (see :func:`image_batches`).

    Raises:
        UsageError: no images there, or ``batch_size`` < 1.
        ImageReadError: a file cannot be decoded (raised while iterating).
    """
    from ..images import list_images, read_rgb

    if batch_size < 1:
        raise UsageError(f"calibration batch size must be >= 1, got {batch_size}")
    files = list_images(spec, what="calibration images")
    return image_batches((read_rgb(p) for p in files), preprocessing, batch_size)


def make_entropy_calibrator(cache_path: str | os.PathLike, batches: Optional[Iterable[np.ndarray]] = None,
                            batch_shape: Optional[Sequence[int]] = None):
    """Create a ``tensorrt.IInt8EntropyCalibrator2`` backed by a cache file and optional batches.

    If ``cache_path`` exists TensorRT reads the scales from it and no batch is
    needed; otherwise it pulls ``batches`` through :meth:`get_batch` and the
    resulting cache is written to ``cache_path``.

    Args:
        cache_path: the TensorRT calibration cache (read if present, written after calibration).
        batches: float32 arrays of ``batch_shape`` (from :func:`calibration_batches`).
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
    calibrate = not cache_path.is_file()

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)  # the binding requires the base initializer
            self._batches = iter(batches) if calibrate and batches is not None else iter(())
            self._batch_size = int(batch_shape[0]) if batch_shape else 1
            nbytes = int(np.prod(batch_shape)) * 4 if batch_shape else 0
            self._memory: Optional[CudaMemory] = None
            if calibrate:
                # Before the builder runs: the CUDA context TensorRT builds in is the one set up here.
                from ..runtime.cuda_mem import open_cuda_memory

                self._memory = open_cuda_memory("auto")
                self._stream = self._memory.create_stream()
                self._device = self._memory.alloc_device(nbytes)
                self._host = self._memory.alloc_pinned(nbytes)

        def get_batch_size(self) -> int:
            return self._batch_size

        def get_batch(self, names: list[str]) -> Optional[list[int]]:
            batch = next(self._batches, None)
            if batch is None or self._memory is None:
                self.close()
                return None
            host = np.ascontiguousarray(batch, dtype=np.float32).reshape(-1).view(np.uint8)
            if host.nbytes != self._host.nbytes:
                raise UsageError(f"calibration batch has {host.nbytes} bytes, expected {self._host.nbytes}")
            self._host[...] = host
            self._memory.htod_async(self._device, self._host, self._stream)
            self._memory.synchronize(self._stream)
            return [int(self._device)]  # one image input

        def read_calibration_cache(self) -> Optional[bytes]:
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache: trt_types.IHostMemory | bytes) -> None:
            write_bytes_atomic(cache_path, bytes(memoryview(cache)))

        def close(self) -> None:
            """Release the device and pinned buffers (idempotent)."""
            if self._memory is not None:
                self._memory.close()
                self._memory = None

    return EntropyCalibrator()
