"""Inference outputs.

Depth models: ``.npy`` metres, 16-bit PNG millimetres, colorized PNG, ``.ply`` point cloud.
Segmentation models: class-id PNG (8-bit up to 256 classes, else 16-bit), ``.npy`` of the ids,
and a colour PNG through a fixed palette (optionally blended over the input).

A depth model without a metric scale (relative / inverse depth, disparity) gets its raw output
in the ``.npy`` and a colour image with a per-frame range; millimetres and point clouds need a
``depth_scale`` (:func:`to_metric`) and are skipped without one.

Every file is written through a temporary file and a rename, so an interrupted run never
leaves half a file. OpenCV encodes the PNGs and matplotlib provides the colormaps; both
are imported when used.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._deps import require
from ..contract import RELATIVE_KINDS
from ..errors import UsageError, XnetEdgeError
from ..io_utils import write_bytes_atomic

FORMATS = ("npy", "png16", "color", "ply")
DEFAULT_FORMATS = ("npy", "png16", "color")
#: segmentation outputs: ``<stem>_labels.png``, ``<stem>_labels.npy``, ``<stem>_seg_color.png``
SEGMENTATION_FORMATS = ("labels", "labels-npy", "seg-color")
#: weight of the palette colour when ``overlay`` blends it over the input
OVERLAY_ALPHA = 0.5


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera intrinsics in pixels, for the image size depth is predicted at."""

    fx: float
    fy: float
    cx: float
    cy: float


def parse_formats(text: str) -> tuple[str, ...]:
    """``"npy,png16"`` -> ("npy", "png16"); depth and segmentation format names are accepted.

    Raises:
        UsageError: unknown or empty format list, or depth and segmentation formats mixed.
    """
    names = tuple(dict.fromkeys(f.strip().lower() for f in str(text).split(",") if f.strip()))
    unknown = [f for f in names if f not in FORMATS + SEGMENTATION_FORMATS]
    if not names or unknown:
        raise UsageError(f"bad --format {text!r}: choose from {', '.join(FORMATS)} (depth models) or "
                         f"{', '.join(SEGMENTATION_FORMATS)} (segmentation models), comma-separated")
    if set(names) & set(FORMATS) and set(names) & set(SEGMENTATION_FORMATS):
        raise UsageError(f"bad --format {text!r}: mixes depth ({', '.join(FORMATS)}) and segmentation "
                         f"({', '.join(SEGMENTATION_FORMATS)}) outputs")
    return names


def parse_intrinsics(text: str) -> Intrinsics:
    """``"fx,fy,cx,cy"`` -> Intrinsics.

    Raises:
        UsageError: not four finite numbers, or non-positive focal lengths.
    """
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[0] <= 0 or values[1] <= 0:
        raise UsageError(f"bad --intrinsics {text!r}: expected fx,fy,cx,cy in pixels, finite, with fx, fy > 0")
    return Intrinsics(*values)


def parse_range(text: Optional[str]) -> Optional[tuple[float, float]]:
    """``"0.5,8"`` -> (0.5, 8.0); None stays None.

    Raises:
        UsageError: not two increasing numbers.
    """
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in str(text).split(","))
    except ValueError:
        raise UsageError(f"bad depth range {text!r}: expected MIN,MAX in metres") from None
    if not hi > lo:
        raise UsageError(f"bad depth range {text!r}: MAX must be greater than MIN")
    return lo, hi


def to_metric(values: np.ndarray, output_kind: str, scale: float) -> np.ndarray:
    """Metres from a relative output and a known scale: ``scale * x`` for relative depth,
    ``scale / x`` for inverse depth and disparity (e.g. focal length x baseline); metric depth
    is returned unchanged. Non-positive inverse values become 0 (no depth)."""
    x = np.asarray(values, dtype=np.float32)
    if output_kind == "metric-depth":
        return x
    if output_kind == "relative-depth":
        return x * np.float32(scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.float32(scale) / x, 0.0).astype(np.float32)


def depth_to_png16(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres (the RealSense/ROS convention): invalid -> 0, far clipped to 65535."""
    d = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    mm = np.zeros(d.shape, dtype=np.uint16)
    mm[valid] = np.clip(np.round(d[valid] * 1000.0), 1, 65535).astype(np.uint16)
    return mm


def color_range(depth: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """A robust (min, max) for colorizing: the given percentiles of the valid depths."""
    valid = depth[np.isfinite(depth) & (depth > 0)]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, percentiles)
    return float(lo), float(hi if hi > lo else lo + 1e-6)


def colormap_lut(colormap: str) -> np.ndarray:
    """The (256, 3) uint8 RGB table of a matplotlib colormap, near (0) to far (255).

    Raises:
        UsageError: unknown colormap.
    """
    matplotlib = require("matplotlib")
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise UsageError(f"unknown colormap {colormap!r} (any matplotlib colormap, e.g. turbo, inferno, viridis)") \
            from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


#: width of the colour bar strip beside colorized depth: bar, then the range labels
BAR_WIDTH = 76


def color_bar(height: int, colormap: str, depth_range: tuple[float, float]) -> np.ndarray:
    """A vertical colour bar (far at the top, near at the bottom) labelled with the range in metres.

    Args:
        height: rows of the picture it goes beside.
        colormap: the matplotlib colormap of the depth.
        depth_range: (near, far) in metres, the colormap's ends.

    Returns:
        (height, BAR_WIDTH, 3) uint8 RGB.
    """
    cv2 = require("cv2")
    lut = colormap_lut(colormap)
    strip = np.full((height, BAR_WIDTH, 3), 32, np.uint8)
    pad = min(8, height // 8)
    rows = max(height - 2 * pad, 1)
    index = np.round(np.linspace(255, 0, rows)).astype(np.int64)   # top row: far
    strip[pad:pad + rows, 4:20] = lut[index][:, None, :]
    lo, hi = depth_range
    scale = 0.45 if height >= 300 else 0.35 if height >= 48 else 0.25
    for text, y in ((f"{hi:.2f} m", pad + 10), (f"{lo:.2f} m", pad + rows - 1)):
        cv2.putText(strip, text, (23, min(max(y, 8), height - 1)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def colorize(depth: np.ndarray, colormap: str = "turbo", depth_range: Optional[tuple[float, float]] = None,
             inverse: bool = False) -> np.ndarray:
    """Depth -> HxWx3 uint8 RGB through a matplotlib colormap; invalid pixels are black.

    Args:
        depth: (H, W) metres (or relative values).
        colormap: a matplotlib colormap name.
        depth_range: (near, far) mapped to the colormap's ends; per-image percentiles when None.
        inverse: the values grow towards the camera (inverse depth, disparity); near keeps the
            colour it has for metric depth.

    Raises:
        UsageError: unknown colormap.
    """
    lut = colormap_lut(colormap)
    d = np.asarray(depth, dtype=np.float32)
    lo, hi = depth_range or color_range(d)
    valid = np.isfinite(d) & (d > 0)
    index = np.clip((np.nan_to_num(d) - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    if inverse:
        index = 255 - index
    rgb = lut[index]
    rgb[~valid] = 0
    return rgb


def side_by_side(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """The input image (converted to RGB uint8) left of the colorized depth."""
    from ..preprocess import resize_bilinear, to_rgb_uint8

    rgb = to_rgb_uint8(image)
    if rgb.shape[:2] != color.shape[:2]:
        rgb = np.clip(resize_bilinear(rgb, color.shape[:2]) + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([rgb, color], axis=1)


def depth_to_points(depth: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Back-project a depth map through a pinhole camera (OpenCV axes: x right, y down, z forward).

    Args:
        depth: (H, W) metres; pixels <= 0 or non-finite are skipped.
        intrinsics: fx, fy, cx, cy in pixels.

    Returns:
        (points, mask): (N, 3) float32 metres of the valid pixels in row-major order, and the
        (H, W) boolean mask of those pixels.
    """
    d = np.asarray(depth, dtype=np.float32)
    mask = np.isfinite(d) & (d > 0)
    rows, cols = np.nonzero(mask)
    z = d[rows, cols]
    x = (cols.astype(np.float32) - intrinsics.cx) * z / intrinsics.fx
    y = (rows.astype(np.float32) - intrinsics.cy) * z / intrinsics.fy
    return np.stack([x, y, z], axis=1).astype(np.float32), mask


def ply_bytes(points: np.ndarray, colors: Optional[np.ndarray] = None) -> bytes:
    """A binary little-endian PLY with float x/y/z and, when given, uchar red/green/blue vertices."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(len(points), dtype=fields)
    vertices["x"], vertices["y"], vertices["z"] = points[:, 0], points[:, 1], points[:, 2]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}",
              "property float x", "property float y", "property float z"]
    if colors is not None:
        colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
        vertices["red"], vertices["green"], vertices["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    return ("\n".join(header) + "\n").encode("ascii") + vertices.tobytes()


def label_dtype(num_classes: Optional[int]) -> np.dtype:
    """uint8 for up to 256 classes, else uint16 (the PNG and ``.npy`` of class ids)."""
    return np.dtype(np.uint8) if num_classes is not None and num_classes <= 256 else np.dtype(np.uint16)


def labels_array(labels: np.ndarray, num_classes: Optional[int]) -> np.ndarray:
    """Class ids as the smallest unsigned type that holds ``num_classes`` (see :func:`label_dtype`).

    Raises:
        XnetEdgeError: an id that does not fit (negative, or beyond the type).
    """
    ids = np.asarray(labels)
    dtype = label_dtype(num_classes)
    if ids.size and (ids.min() < 0 or ids.max() > np.iinfo(dtype).max):
        raise XnetEdgeError(f"class ids {int(ids.min())}..{int(ids.max())} do not fit a {dtype.name} label image")
    return ids.astype(dtype)


def palette(count: int) -> np.ndarray:
    """A fixed (count, 3) uint8 RGB palette: class 0 black, neighbours far apart.

    The bits of the class id are dealt out to R, G and B from the most significant colour bit
    down (the PASCAL VOC colour map), so the colours never depend on the model or the image.
    """
    ids = np.arange(count, dtype=np.int64)
    rgb = np.zeros((count, 3), dtype=np.int64)
    for shift in range(7, -1, -1):
        for channel in range(3):
            rgb[:, channel] |= ((ids >> channel) & 1) << shift
        ids = ids >> 3
    return rgb.astype(np.uint8)


def colorize_labels(labels: np.ndarray, image: Optional[np.ndarray] = None,
                    alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Class ids -> HxWx3 uint8 RGB through :func:`palette`, blended over ``image`` when given.

    Args:
        labels: (H, W) non-negative class ids.
        image: the input (any kind :func:`~xnet_edge.preprocess.to_rgb_uint8` takes); resized to
            the labels when its size differs.
        alpha: weight of the palette colour in the blend.
    """
    ids = np.asarray(labels, dtype=np.int64)
    color = palette(int(ids.max()) + 1 if ids.size else 1)[ids]
    if image is None:
        return color
    from ..preprocess import resize_bilinear, to_rgb_uint8

    rgb = to_rgb_uint8(image).astype(np.float32)
    if rgb.shape[:2] != ids.shape:
        rgb = resize_bilinear(rgb, ids.shape)
    return np.clip((1.0 - alpha) * rgb + alpha * color + 0.5, 0, 255).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 or single-channel uint8/uint16 array (OpenCV encoder)."""
    cv2 = require("cv2")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise XnetEdgeError(f"PNG encoding failed for an array of shape {image.shape}")
    return buf.tobytes()


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` file of an array, as bytes (to write atomically)."""
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


class OutputWriter:
    """Writes the requested outputs of one frame into a folder.

    Depth formats (:data:`FORMATS`) or segmentation formats (:data:`SEGMENTATION_FORMATS`);
    which applies is fixed by the formats given or, when ``formats`` is None, by
    :meth:`bind` once the model's task is known.

    Args:
        folder: output folder (created when the first file is written).
        formats: depth formats, segmentation formats, or None (the task's defaults).
        intrinsics: needed for "ply".
        colormap: matplotlib colormap for "color".
        depth_range: fixed (near, far) for "color"; per-frame percentiles when None.
        with_input: put the input image left of the colorized depth.
        overlay: "seg-color" blends the palette over the input instead of the bare palette.
        num_classes: segmentation classes (sets the label image's bit depth; see :meth:`bind`).
        depth_scale: for depth kinds without a metric scale, what makes metres (:func:`to_metric`);
            without it ``png16`` and ``ply`` are skipped for them (see ``notes``).

    Raises:
        UsageError: "ply" without intrinsics, or a bad colormap.
    """

    def __init__(self, folder: str | Path, formats: Optional[Sequence[str]] = DEFAULT_FORMATS,
                 intrinsics: Optional[Intrinsics] = None, colormap: str = "turbo",
                 depth_range: Optional[tuple[float, float]] = None, with_input: bool = True,
                 overlay: bool = False, num_classes: Optional[int] = None, depth_scale: Optional[float] = None):
        self.folder = Path(folder)
        self.notes: list[str] = []
        self.output_kind = "metric-depth"
        if depth_scale is not None and not float(depth_scale) > 0:
            raise UsageError(f"--depth-scale must be > 0, got {depth_scale}")
        self.depth_scale = None if depth_scale is None else float(depth_scale)
        self.formats = None if formats is None else tuple(formats)
        if self.formats is not None and "ply" in self.formats and intrinsics is None:
            raise UsageError("--format ply needs the camera intrinsics: --intrinsics fx,fy,cx,cy")
        if self.formats is None or "color" in self.formats:
            colorize(np.ones((1, 1), np.float32), colormap)  # fail on a bad colormap before any work
        self.intrinsics = intrinsics
        self.colormap = colormap
        self.depth_range = depth_range
        self.with_input = with_input  # the folder is created by the first write
        self.overlay = overlay
        self.num_classes = num_classes

    @property
    def segmentation(self) -> bool:
        """True when this writer writes segmentation outputs."""
        return self.formats is not None and bool(set(self.formats) & set(SEGMENTATION_FORMATS))

    def bind(self, task: str, num_classes: Optional[int] = None) -> "OutputWriter":
        """Fit the writer to the model: the task's default formats, or a check of the given ones.

        Args:
            task: "segmentation" or a depth kind ("depth", "metric-depth", "inverse-depth", ...).
            num_classes: the segmentation model's classes (8-bit labels up to 256).

        Returns:
            self.

        Raises:
            UsageError: formats of the other task were asked for, or a depth scale for metric depth.
        """
        segmentation = task == "segmentation"
        self.output_kind = "metric-depth" if task == "depth" else task
        if self.output_kind == "metric-depth" and self.depth_scale is not None:
            raise UsageError("--depth-scale is for relative-depth, inverse-depth and disparity models; this model "
                             "predicts metres")
        if self.formats is None:
            self.formats = SEGMENTATION_FORMATS if segmentation else DEFAULT_FORMATS
        elif segmentation != self.segmentation:
            wanted = SEGMENTATION_FORMATS if segmentation else FORMATS
            raise UsageError(f"this is a {'segmentation' if segmentation else 'depth'} model: --format takes "
                             f"{', '.join(wanted)}, not {', '.join(self.formats)}")
        if segmentation and num_classes is not None:
            self.num_classes = int(num_classes)
        needs_metres = [f for f in ("png16", "ply") if f in self.formats]
        if self.output_kind in RELATIVE_KINDS and self.depth_scale is None and needs_metres:
            self.formats = tuple(f for f in self.formats if f not in needs_metres)
            self.notes.append(f"{self.output_kind} model: {' and '.join(needs_metres)} skipped (they need metres; "
                              "give --depth-scale to convert)")
        return self

    def write(self, stem: str, image: Optional[np.ndarray], result: np.ndarray) -> list[Path]:
        """Write every format for one frame (depth in metres, or class ids); returns the paths written."""
        if self.formats is None:
            self.bind("depth")
        if self.segmentation:
            return self._write_labels(stem, image, result)
        return self._write_depth(stem, image, result)

    def _write_labels(self, stem: str, image: Optional[np.ndarray], labels: np.ndarray) -> list[Path]:
        ids = labels_array(labels, self.num_classes)
        written = []
        if "labels" in self.formats:
            written.append(self.folder / f"{stem}_labels.png")
            write_bytes_atomic(written[-1], encode_png(ids))
        if "labels-npy" in self.formats:
            written.append(self.folder / f"{stem}_labels.npy")
            write_bytes_atomic(written[-1], npy_bytes(ids))
        if "seg-color" in self.formats:
            written.append(self.folder / f"{stem}_seg_color.png")
            picture = colorize_labels(ids, image if self.overlay else None)
            write_bytes_atomic(written[-1], encode_png(picture))
        return written

    def _write_depth(self, stem: str, image: Optional[np.ndarray], depth: np.ndarray) -> list[Path]:
        written = []
        if "npy" in self.formats:  # the raw output, whatever its kind
            path = self.folder / f"{stem}_depth.npy"
            write_bytes_atomic(path, npy_bytes(np.asarray(depth, dtype=np.float32)))
            written.append(path)
        scaled = self.depth_scale is not None
        metres = to_metric(depth, self.output_kind, self.depth_scale) if scaled else depth
        if "png16" in self.formats:
            path = self.folder / f"{stem}_depth16.png"
            write_bytes_atomic(path, encode_png(depth_to_png16(metres)))
            written.append(path)
        color = None
        in_metres = scaled or self.output_kind == "metric-depth"
        span = self.depth_range or color_range(np.asarray(metres, dtype=np.float32))
        if "color" in self.formats or "ply" in self.formats:
            color = colorize(metres, self.colormap, span, inverse=not in_metres and self.output_kind != "relative-depth")
        if "color" in self.formats:
            path = self.folder / f"{stem}_color.png"
            picture = side_by_side(image, color) if (self.with_input and image is not None) else color
            if in_metres:  # the bar is labelled in metres
                picture = np.concatenate([picture, color_bar(picture.shape[0], self.colormap, span)], axis=1)
            write_bytes_atomic(path, encode_png(picture))
            written.append(path)
        if "ply" in self.formats:
            path = self.folder / f"{stem}.ply"
            points, mask = depth_to_points(metres, self.intrinsics)
            rgb = self._point_colors(image, color, mask)
            write_bytes_atomic(path, ply_bytes(points, rgb))
            written.append(path)
        return written

    @staticmethod
    def _point_colors(image, color, mask):
        # Points take the input image's colours when it matches the depth size, else the depth colours.
        from ..preprocess import to_rgb_uint8

        if image is not None and np.asarray(image).shape[:2] == mask.shape:
            return to_rgb_uint8(image)[mask]
        return color[mask]
