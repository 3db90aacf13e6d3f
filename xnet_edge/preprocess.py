"""Image pre- and post-processing shared by every backend (numpy only, no torch).

The PyTorch model, the ONNX Runtime runner and the TensorRT runner all call
these functions, so a depth map never differs because of preprocessing.

Pipeline: any image -> RGB uint8 -> resize keeping aspect to fit the network
input -> normalize -> pad bottom/right to the network size -> network ->
crop the padding -> resize back to the original size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import InputSizeError, UsageError

#: Images larger than this (pixels per side) are downscaled before anything else.
MAX_SIDE = 8192


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"256x320"`` (or ``256,320``) into (H, W).

    Raises:
        UsageError: not two positive integers.
    """
    m = re.fullmatch(r"\s*(\d+)\s*[x×,]\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
        raise UsageError(f"bad size {text!r}: expected HxW, e.g. 256x320")
    return int(m.group(1)), int(m.group(2))


def size_arg(text: str) -> tuple[int, int]:
    """:func:`parse_size` as an argparse ``type=`` (the CLI, benchmark scripts).

    Raises:
        argparse.ArgumentTypeError: not two positive integers; argparse prints the message and exits 2.
    """
    import argparse

    try:
        return parse_size(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_input_size(height: int, width: int, stride: int) -> None:
    """Raise InputSizeError naming the nearest valid size if H or W is not a multiple of ``stride``.

    Args:
        height, width: the requested network input size.
        stride: the model's output stride (the largest feature reduction).

    Raises:
        InputSizeError: the size is not positive or not divisible by ``stride``.
    """
    if height <= 0 or width <= 0:
        raise InputSizeError(f"input size must be positive, got {height}x{width}")
    if height % stride or width % stride:
        nh, nw = nearest_valid_size(height, width, stride)
        up_h, up_w = -(-height // stride) * stride, -(-width // stride) * stride
        raise InputSizeError(
            f"input size {height}x{width} is not divisible by the model stride {stride}: "
            f"use {nh}x{nw} (nearest) or pad to {up_h}x{up_w}"
        )


def nearest_valid_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """Return the multiple-of-``stride`` size nearest to (height, width), at least one stride."""
    return (max(stride, int(round(height / stride)) * stride),
            max(stride, int(round(width / stride)) * stride))


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Convert grayscale, RGBA, 16-bit or float images to HxWx3 uint8 RGB.

    Raises:
        UsageError: empty image or an unsupported number of channels / dtype.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0 or min(img.shape[:2]) == 0:
        raise UsageError(f"expected a non-empty HxW or HxWxC image, got shape {img.shape}")
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 1:
        img = np.repeat(img, 3, axis=2)
    elif channels == 4:
        img = img[:, :, :3]
    elif channels != 3:
        raise UsageError(f"expected 1, 3 or 4 channels, got {channels}")
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    if np.issubdtype(img.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(img)) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(img) * scale + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(img.dtype, np.integer):
        return np.clip(img, 0, 255).astype(np.uint8)
    raise UsageError(f"unsupported image dtype {img.dtype}")


def _axis_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Source coordinates for align_corners=False (half-pixel centres), as torch does.
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = (src - lo).astype(np.float32)
    return lo, hi, frac


def resize_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an HxW or HxWxC array to ``size`` = (H, W).

    Matches ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
    (no antialiasing). Returns float32.
    """
    arr = np.asarray(array, dtype=np.float32)
    out_h, out_w = int(size[0]), int(size[1])
    if arr.shape[:2] == (out_h, out_w):
        return arr.copy()
    y0, y1, fy = _axis_weights(arr.shape[0], out_h)
    x0, x1, fx = _axis_weights(arr.shape[1], out_w)
    if arr.ndim == 3:
        fy, fx = fy[:, None, None], fx[None, :, None]
    else:
        fy, fx = fy[:, None], fx[None, :]
    rows0, rows1 = arr[y0], arr[y1]
    top = rows0[:, x0] * (1 - fx) + rows0[:, x1] * fx
    bottom = rows1[:, x0] * (1 - fx) + rows1[:, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits inside the padded network input.

    Attributes:
        original: (H, W) of the image given by the user.
        resized: (H, W) of the image after the aspect-keeping resize.
        network: (H, W) of the network input (resized + bottom/right padding).
    """

    original: tuple[int, int]
    resized: tuple[int, int]
    network: tuple[int, int]

    def valid_mask(self) -> np.ndarray:
        """Boolean (H, W) mask at network size: True where real image pixels are."""
        mask = np.zeros(self.network, dtype=bool)
        mask[: self.resized[0], : self.resized[1]] = True
        return mask


def fit_size(image_hw: tuple[int, int], network_hw: tuple[int, int]) -> tuple[int, int]:
    """Largest (H, W) with the image's aspect ratio that fits inside ``network_hw``."""
    h, w = image_hw
    scale = min(network_hw[0] / h, network_hw[1] / w)
    return (min(network_hw[0], max(1, int(round(h * scale)))),
            min(network_hw[1], max(1, int(round(w * scale)))))


def preprocess(image: np.ndarray, network_hw: tuple[int, int], mean, std, *, scale: float = 1.0,
               channels: str = "rgb") -> tuple[np.ndarray, Letterbox]:
    """Turn one image into a (1, 3, H, W) float32 network input: ``scale * (rgb / 255 - mean) / std``.

    Args:
        image: HxW, HxWx3 or HxWx4 array (uint8, uint16 or float).
        network_hw: the network input size (H, W).
        mean, std: per-channel normalization in 0..1 units (R, G, B order).
        scale: 1 for networks that take 0..1 values, 255 for 0..255.
        channels: "rgb", or "bgr" to feed the channels in reverse order.

    Returns:
        (tensor, letterbox): the normalized, padded input and where the image sits in it.
    """
    rgb = to_rgb_uint8(image)
    if max(rgb.shape[:2]) > MAX_SIDE:
        rgb = resize_bilinear(rgb, fit_size(rgb.shape[:2], (MAX_SIDE, MAX_SIDE))).astype(np.uint8)
    resized_hw = fit_size(rgb.shape[:2], network_hw)
    resized = resize_bilinear(rgb, resized_hw) / 255.0
    norm = (resized - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if scale != 1.0:
        norm = norm * np.float32(scale)
    if channels == "bgr":
        norm = norm[:, :, ::-1]
    out = np.zeros((1, 3, network_hw[0], network_hw[1]), dtype=np.float32)
    out[0, :, : resized_hw[0], : resized_hw[1]] = norm.transpose(2, 0, 1)
    original = tuple(int(v) for v in np.asarray(image).shape[:2])
    return out, Letterbox(original, resized_hw, tuple(network_hw))


def postprocess(depth: np.ndarray, box: Letterbox) -> np.ndarray:
    """Crop the padding off a network-size depth map and resize it to the original image size.

    Args:
        depth: (H, W), (1, H, W) or (1, 1, H, W) network output.
        box: the Letterbox returned by :func:`preprocess`.

    Returns:
        float32 (H, W) depth at the original image size.
    """
    d = np.asarray(depth, dtype=np.float32).reshape(box.network)
    d = d[: box.resized[0], : box.resized[1]]
    return resize_bilinear(d, box.original)
