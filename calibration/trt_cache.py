"""TensorRT's legacy INT8 calibration cache (JetPack 5/6, TensorRT 8.5–10.x implicit quantization).

Format (text, one entry per line)::

    TRT-<version>-EntropyCalibration2
    <tensor name>: <hex>

``<version>`` is TensorRT's integer version (8.6.1 → ``8601``, 10.3.0 → ``100300``);
TensorRT ignores a cache written for another version. ``<hex>`` is the
big-endian IEEE-754 bit pattern of the float32 ``scale = amax / 127``, in
lower-case hex without zero padding (``3c010a14``; ``0`` for a zero scale).
Tensor names are ONNX tensor names; TensorRT's own names such as
``(Unnamed Layer* 64) [Shuffle]_output`` contain spaces, brackets and colons,
so a line is split at its *last* ``": "``.

This module needs only the standard library (it runs on a Jetson without numpy).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Mapping, Union

from ..errors import UsageError
from ..io_utils import write_bytes_atomic

DEFAULT_ALGORITHM = "EntropyCalibration2"
_HEADER = re.compile(r"^TRT-(\d+)-(\w+)$")


def trt_version_code(version: Union[str, int]) -> int:
    """TensorRT's integer version: ``"8.6.1"`` → 8601, ``"10.3.0"`` → 100300 (an int is returned as is).

    Raises:
        UsageError: not a ``MAJOR.MINOR[.PATCH]`` string.
    """
    if isinstance(version, int):
        return version
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)*\s*", str(version))
    if not m:
        raise UsageError(f"bad TensorRT version {version!r}: expected MAJOR.MINOR[.PATCH], e.g. 10.3.0")
    major, minor, patch = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch


def scale_to_hex(scale: float) -> str:
    """Big-endian float32 bit pattern of ``scale`` as unpadded lower-case hex."""
    return format(struct.unpack(">I", struct.pack(">f", float(scale)))[0], "x")


def hex_to_scale(text: str) -> float:
    """Inverse of :func:`scale_to_hex` (accepts padded or unpadded hex)."""
    return struct.unpack(">f", struct.pack(">I", int(text, 16)))[0]


def format_trt_cache(scales: Mapping[str, float], trt_version: Union[str, int] = "10.3.0",
                     algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The cache text for ``{tensor name: scale}`` (entries in the mapping's order).

    Raises:
        UsageError: a name with a line break, or a negative / non-finite scale.
    """
    lines = [f"TRT-{trt_version_code(trt_version)}-{algorithm}"]
    for name, scale in scales.items():
        if "\n" in name or "\r" in name:
            raise UsageError(f"tensor name {name!r} cannot be written to a calibration cache")
        if not (scale >= 0.0 and scale != float("inf")):
            raise UsageError(f"invalid scale {scale!r} for tensor {name!r}")
        lines.append(f"{name}: {scale_to_hex(scale)}")
    return "\n".join(lines) + "\n"


def write_trt_cache(path: Union[str, os.PathLike], scales: Mapping[str, float],
                    trt_version: Union[str, int] = "10.3.0", algorithm: str = DEFAULT_ALGORITHM) -> Path:
    """Write a TensorRT calibration cache atomically.

    Args:
        path: destination file.
        scales: ``{tensor name: scale}`` with ``scale = amax / 127``.
        trt_version: the TensorRT release that will read it (``"8.5.2"``, ``"10.3.0"``) or its integer code.
        algorithm: the calibrator name in the header.

    Returns:
        The path written.
    """
    write_bytes_atomic(path, format_trt_cache(scales, trt_version, algorithm).encode())
    return Path(path)


def parse_trt_cache(text: str, source: str = "<text>") -> tuple[str, dict[str, float]]:
    """Parse cache text into ``(header, {tensor name: scale})``.

    Raises:
        UsageError: no ``TRT-<version>-<algorithm>`` header or a malformed entry.
    """
    lines = [line.rstrip("\r") for line in text.split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines or not _HEADER.match(lines[0].strip()):
        first = lines[0][:60] if lines else "an empty file"
        raise UsageError(f"{source} is not a TensorRT calibration cache (first line: {first!r})")
    scales: dict[str, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, value = line.rpartition(": ")
        value = value.strip()
        if not sep or not name or not re.fullmatch(r"[0-9a-fA-F]{1,8}", value):
            raise UsageError(f"{source}:{number}: malformed cache entry {line[:80]!r}")
        scales[name] = hex_to_scale(value)
    return lines[0].strip(), scales


def read_trt_cache(path: Union[str, os.PathLike]) -> tuple[str, dict[str, float]]:
    """Read a TensorRT calibration cache.

    Args:
        path: the cache file.

    Returns:
        ``(header, {tensor name: scale})``, e.g. ``("TRT-8601-EntropyCalibration2", {"image": 0.0157, ...})``.

    Raises:
        UsageError: missing file or not a calibration cache.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"calibration cache not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a TensorRT calibration cache (not text)") from None
    return parse_trt_cache(text, str(path))
