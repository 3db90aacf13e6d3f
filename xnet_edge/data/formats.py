"""File formats used by the depth datasets: 16-bit depth PNGs, PFM, Middlebury calib.txt, RGB output.

RGB images are read by :func:`xnet_edge.images.read_rgb`. OpenCV (``cv2``) is
imported inside the functions that read or write PNG/JPEG.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError


class DataFormatError(XnetEdgeError):
    """A dataset file exists but cannot be read or has the wrong layout."""


def read_depth_png(path: str | os.PathLike, scale: float) -> np.ndarray:
    """Read a 16-bit depth PNG as float32 metres: ``value / scale`` (0 stays 0 = invalid).

    Args:
        path: the PNG file.
        scale: stored units per metre (1000 for millimetres, 256 for KITTI).

    Raises:
        DataFormatError: unreadable, or not a single-channel 16-bit image.
    """
    cv2 = require("cv2")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DataFormatError(f"cannot read depth image {path}")
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise DataFormatError(f"{path}: expected a single-channel 16-bit PNG, got {raw.dtype} {raw.shape}")
    return raw.astype(np.float32) / np.float32(scale)


def write_depth_png(path: str | os.PathLike, depth_m: np.ndarray, scale: float = 1000.0) -> None:
    """Write metres as a 16-bit PNG of ``round(depth * scale)``; invalid (non-finite, <= 0) -> 0.

    Raises:
        UsageError: a depth that does not fit in 16 bits at this scale.
    """
    cv2 = require("cv2")
    depth = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    scaled = np.where(valid, np.round(depth * scale), 0.0)
    if scaled.max(initial=0.0) > 65535:
        raise UsageError(f"depth up to {depth[valid].max():.2f} m does not fit 16 bits at scale {scale}")
    if not cv2.imwrite(str(path), scaled.astype(np.uint16)):
        raise DataFormatError(f"cannot write {path}")


def write_rgb(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an HxWx3 uint8 RGB image (format from the extension)."""
    cv2 = require("cv2")
    if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(rgb, np.uint8), cv2.COLOR_RGB2BGR)):
        raise DataFormatError(f"cannot write {path}")


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a Portable Float Map (Middlebury disparities) as float32, top row first.

    Returns:
        HxW (``Pf``) or HxWx3 (``PF``) float32 array; Middlebury marks unknown disparity as +inf.

    Raises:
        DataFormatError: not a PFM file or truncated data.
    """
    data = Path(path).read_bytes()
    tokens, pos = [], 0
    # header: type, width, height, scale -- whitespace separated, each field ends at whitespace
    for _ in range(4):
        m = re.compile(rb"\s*(\S+)\s").match(data, pos)
        if not m:
            raise DataFormatError(f"{path}: bad PFM header")
        tokens.append(m.group(1))
        pos = m.end()
    kind, width, height, scale = tokens
    if kind not in (b"Pf", b"PF"):
        raise DataFormatError(f"{path}: not a PFM file (magic {kind!r})")
    channels = 3 if kind == b"PF" else 1
    w, h, scale = int(width), int(height), float(scale)
    dtype = "<f4" if scale < 0 else ">f4"
    count = w * h * channels
    if len(data) - pos < 4 * count:
        raise DataFormatError(f"{path}: PFM data truncated ({len(data) - pos} of {4 * count} bytes)")
    values = np.frombuffer(data, dtype=dtype, count=count, offset=pos).astype(np.float32)
    shape = (h, w, 3) if channels == 3 else (h, w)
    return np.ascontiguousarray(np.flipud(values.reshape(shape)))  # PFM stores the bottom row first


def write_pfm(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a float array (HxW or HxWx3) as little-endian PFM, bottom row first."""
    arr = np.asarray(array, dtype="<f4")
    kind = "PF" if arr.ndim == 3 else "Pf"
    header = f"{kind}\n{arr.shape[1]} {arr.shape[0]}\n-1\n".encode()
    Path(path).write_bytes(header + np.flipud(arr).tobytes())


def read_middlebury_calib(path: str | os.PathLike) -> dict:
    """Parse a Middlebury 2014-style ``calib.txt``.

    Returns:
        dict with ``cam0`` and ``cam1`` (3x3 float64), and floats for the scalar
        keys (``doffs``, ``baseline`` in mm, ``width``, ``height``, ``ndisp``, ...).

    Raises:
        DataFormatError: ``cam0``, ``doffs`` or ``baseline`` missing.
    """
    calib: dict = {}
    for line in Path(path).read_text().splitlines():
        if "=" not in line:
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        if value.startswith("["):
            numbers = [float(v) for v in re.split(r"[\s;\[\]]+", value) if v]
            if len(numbers) != 9:
                raise DataFormatError(f"{path}: {key} is not a 3x3 matrix")
            calib[key] = np.array(numbers).reshape(3, 3)
        else:
            try:
                calib[key] = float(value)
            except ValueError:
                calib[key] = value
    missing = [k for k in ("cam0", "doffs", "baseline") if k not in calib]
    if missing:
        raise DataFormatError(f"{path}: missing {', '.join(missing)}")
    return calib


def disparity_to_depth(disparity: np.ndarray, focal_px: float, baseline_mm: float, doffs: float) -> np.ndarray:
    """Middlebury disparity (pixels) to depth in metres; unknown disparity (non-finite) -> 0.

    ``depth_mm = baseline * f / (d + doffs)``, the formula in Middlebury's README.
    """
    d = np.asarray(disparity, dtype=np.float64)
    denom = d + doffs
    valid = np.isfinite(d) & (denom > 0)
    depth = np.zeros(d.shape, dtype=np.float32)
    depth[valid] = (baseline_mm * focal_px / denom[valid] / 1000.0).astype(np.float32)
    return depth
