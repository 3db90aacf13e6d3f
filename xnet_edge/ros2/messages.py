"""ROS 2 message conversion shared by the bag path and the node.

Camera frames (``sensor_msgs/Image``, ``sensor_msgs/CompressedImage``) become numpy images;
depth (or labels) becomes ``sensor_msgs/Image``, with the ``CameraInfo`` rescaled to its size
and an organized ``PointCloud2``. The functions read messages by attribute only, so they work
on ``rosbags`` messages and on ``rclpy`` messages alike; messages are built through a
:class:`MessageFactory` (one for each implementation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError
from ..images import bgr_to_rgb

#: Image encodings read from camera topics (yuv422 is UYVY, yuv422_yuy2 is YUYV)
IMAGE_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "yuv422_yuy2")
#: CompressedImage formats read (the ``format`` field names one of these)
COMPRESSED_FORMATS = ("jpeg", "png")
#: depth encodings written: metres as float32, or millimetres as uint16 (depth_image_proc's convention)
DEPTH_ENCODINGS = ("32FC1", "16UC1")
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POINT_CLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
_FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32
_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 1, "yuv422": 2, "yuv422_yuy2": 2}


class UnsupportedEncodingError(UsageError):
    """A camera message in an encoding or format this package does not read."""


class CorruptMessageError(XnetEdgeError):
    """A camera message whose payload does not decode (the frame is skipped)."""


class MessageFactory:
    """Builds messages of one implementation from plain fields.

    Args:
        lookup: message type name (``"sensor_msgs/msg/Image"``) -> message class.
        adapt: ``adapt(cls, fields) -> fields`` converting values to what the class accepts
            (identity when None: rosbags takes numpy arrays as they are).
    """

    def __init__(self, lookup: Callable[[str], type], adapt: Optional[Callable[[type, dict], dict]] = None):
        self._lookup = lookup
        self._adapt = adapt

    def type_of(self, msgtype: str) -> type:
        """The message class of ``msgtype``."""
        return self._lookup(msgtype)

    def __call__(self, msgtype: str, **fields) -> Any:
        cls = self._lookup(msgtype)
        return cls(**(self._adapt(cls, fields) if self._adapt else fields))


def rosbags_factory(typestore) -> MessageFactory:
    """A :class:`MessageFactory` over a ``rosbags`` typestore."""
    return MessageFactory(lambda name: typestore.types[name])


# ---------------------------------------------------------------------------------------- camera frames in


def _bytes(data) -> np.ndarray:
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def image_to_array(msg) -> np.ndarray:
    """A ``sensor_msgs/Image`` as a numpy image in RGB order (gray and 16-bit stay as they are).

    Args:
        msg: an Image message (rosbags or rclpy).

    Returns:
        (H, W, 3) RGB uint8, (H, W, 4) RGBA uint8, (H, W) uint8 or (H, W) uint16.

    Raises:
        UnsupportedEncodingError: an encoding outside :data:`IMAGE_ENCODINGS`.
        CorruptMessageError: the data does not hold height x step bytes.
    """
    encoding = str(msg.encoding).lower()
    if encoding not in _CHANNELS:
        raise UnsupportedEncodingError(f"image encoding {msg.encoding!r} is not supported; supported: "
                                       f"{', '.join(IMAGE_ENCODINGS)} (Image), {', '.join(COMPRESSED_FORMATS)} "
                                       "(CompressedImage)")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    depth = 2 if encoding == "mono16" else 1
    row = w * _CHANNELS[encoding] * depth
    data = _bytes(msg.data)
    if h <= 0 or w <= 0 or step < row or data.size < h * step:
        raise CorruptMessageError(f"{encoding} image {w}x{h} with step {step} needs {h * max(step, row)} bytes, "
                                  f"got {data.size}")
    rows = data[:h * step].reshape(h, step)[:, :row]
    if depth == 2:
        dtype = ">u2" if msg.is_bigendian else "<u2"
        return np.ascontiguousarray(rows).view(dtype).reshape(h, w).astype(np.uint16)
    pixels = rows.reshape(h, w, _CHANNELS[encoding])
    if encoding == "mono8":
        return np.ascontiguousarray(pixels[..., 0])
    if encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(bgr_to_rgb(pixels))
    if encoding.startswith("yuv422"):
        cv2 = require("cv2")
        code = cv2.COLOR_YUV2RGB_UYVY if encoding == "yuv422" else cv2.COLOR_YUV2RGB_YUY2
        return cv2.cvtColor(np.ascontiguousarray(pixels), code)
    return np.ascontiguousarray(pixels)


def compressed_to_array(msg) -> np.ndarray:
    """A ``sensor_msgs/CompressedImage`` (jpeg/png, image_transport's format strings) as a numpy image.

    Raises:
        UnsupportedEncodingError: a format other than jpeg/png (e.g. compressedDepth, theora).
        CorruptMessageError: the bytes do not decode.
    """
    fmt = str(msg.format).lower()
    if "compresseddepth" in fmt or not any(name in fmt for name in (*COMPRESSED_FORMATS, "jpg")):
        raise UnsupportedEncodingError(f"compressed image format {msg.format!r} is not supported; supported: "
                                       f"{', '.join(COMPRESSED_FORMATS)} (CompressedImage), "
                                       f"{', '.join(IMAGE_ENCODINGS)} (Image)")
    cv2 = require("cv2")
    data = _bytes(msg.data)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise CorruptMessageError(f"{fmt} data ({data.size} bytes) does not decode")
    return bgr_to_rgb(image)


def message_to_array(msg) -> np.ndarray:
    """An Image or CompressedImage message as a numpy image (see the two functions above)."""
    return image_to_array(msg) if hasattr(msg, "encoding") else compressed_to_array(msg)


# ---------------------------------------------------------------------------------------- camera geometry


@dataclass(frozen=True)
class Camera:
    """Pinhole calibration of one image: 3x3 ``k``, 3x4 ``p``, distortion and its (H, W)."""

    k: np.ndarray
    p: np.ndarray
    size: tuple[int, int]
    d: tuple[float, ...] = ()
    r: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_intrinsics(cls, fx: float, fy: float, cx: float, cy: float, size: tuple[int, int]) -> "Camera":
        """An undistorted camera with the given intrinsics for an image of ``size`` = (H, W)."""
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        return cls(k, np.hstack([k, np.zeros((3, 1))]), (int(size[0]), int(size[1])))

    @classmethod
    def from_camera_info(cls, info) -> "Camera":
        """The calibration of the image a ``CameraInfo`` describes, after its ROI and binning.

        ``k`` / ``p`` in a CameraInfo are for the full sensor; the image is the ROI (when set),
        binned by ``binning_x`` / ``binning_y`` (0 or 1: none). Pixel centres sit at integer
        coordinates, so binning by ``b`` maps ``u`` to ``(u + 0.5) / b - 0.5``.

        Raises:
            XnetEdgeError: a CameraInfo without a calibration (K all zero) or without a size.
        """
        k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        p = np.asarray(info.p, dtype=np.float64).reshape(3, 4)
        if not (k[0, 0] > 0 and k[1, 1] > 0):
            raise XnetEdgeError("the CameraInfo has no calibration (K is zero): calibrate the camera or pass "
                                "--intrinsics fx,fy,cx,cy")
        if not p.any():
            p = np.hstack([k, np.zeros((3, 1))])
        roi = info.roi
        full = (int(info.height), int(info.width))
        crop = (int(roi.height) or full[0], int(roi.width) or full[1])
        if min(crop) <= 0:
            raise XnetEdgeError("the CameraInfo has no image size (height/width are 0)")
        bin_y, bin_x = max(int(info.binning_y), 1), max(int(info.binning_x), 1)
        ay, by = _affine(-float(roi.y_offset), 1.0 / bin_y)
        ax, bx = _affine(-float(roi.x_offset), 1.0 / bin_x)
        a = np.array([[ax, 0.0, bx], [0.0, ay, by], [0.0, 0.0, 1.0]])
        size = (crop[0] // bin_y, crop[1] // bin_x)
        return cls(a @ k, a @ p, size, tuple(float(v) for v in info.d), tuple(float(v) for v in info.r),
                   str(info.distortion_model) or "plumb_bob")

    def resized(self, size: tuple[int, int]) -> "Camera":
        """The same camera for this image resized to ``size`` = (H, W) (pixel centres aligned, as
        OpenCV's and this package's resizes do): ``fx' = fx * sx``, ``cx' = (cx + 0.5) * sx - 0.5``,
        and the same for y; works for any aspect change."""
        if tuple(size) == self.size:
            return self
        ay, by = _affine(0.0, size[0] / self.size[0])
        ax, bx = _affine(0.0, size[1] / self.size[1])
        a = np.array([[ax, 0.0, bx], [0.0, ay, by], [0.0, 0.0, 1.0]])
        return Camera(a @ self.k, a @ self.p, (int(size[0]), int(size[1])), self.d, self.r, self.distortion_model)

    @property
    def intrinsics(self):
        """fx, fy, cx, cy as :class:`xnet_edge.runtime.outputs.Intrinsics`."""
        from ..runtime.outputs import Intrinsics

        return Intrinsics(float(self.k[0, 0]), float(self.k[1, 1]), float(self.k[0, 2]), float(self.k[1, 2]))


def _affine(offset: float, factor: float) -> tuple[float, float]:
    # (a, b) of v = a*u + b: shift by ``offset``, then resample by ``factor`` with pixel centres
    # aligned, v = (u + offset + 0.5) * factor - 0.5
    return factor, (offset + 0.5) * factor - 0.5


# ---------------------------------------------------------------------------------------- results out


def depth_image(make: MessageFactory, header, depth: np.ndarray, encoding: str = "32FC1"):
    """Depth in metres as a ``sensor_msgs/Image``: ``32FC1`` metres or ``16UC1`` millimetres (0 = no depth).

    Raises:
        UsageError: an encoding outside :data:`DEPTH_ENCODINGS`.
    """
    from ..runtime.outputs import depth_to_png16

    if encoding == "32FC1":
        pixels = np.ascontiguousarray(depth, dtype="<f4")
    elif encoding == "16UC1":
        pixels = depth_to_png16(depth).astype("<u2")
    else:
        raise UsageError(f"bad depth encoding {encoding!r}: choose {' or '.join(DEPTH_ENCODINGS)}")
    return _image(make, header, pixels, encoding)


def label_image(make: MessageFactory, header, labels: np.ndarray, num_classes: Optional[int] = None):
    """Segmentation class labels as a ``mono8`` Image (``mono16`` beyond 256 classes)."""
    top = int(num_classes) if num_classes else int(np.max(labels, initial=0)) + 1
    if top <= 256:
        return _image(make, header, np.asarray(labels, dtype=np.uint8), "mono8")
    return _image(make, header, np.asarray(labels, dtype="<u2"), "mono16")


def _image(make: MessageFactory, header, pixels: np.ndarray, encoding: str):
    h, w = pixels.shape[:2]
    data = np.frombuffer(np.ascontiguousarray(pixels).tobytes(), dtype=np.uint8)
    return make(IMAGE, header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                step=data.size // max(h, 1), data=data)


def camera_info(make: MessageFactory, header, camera: Camera):
    """A ``sensor_msgs/CameraInfo`` describing ``camera`` exactly (no ROI, no binning)."""
    roi = make("sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return make(CAMERA_INFO, header=header, height=camera.size[0], width=camera.size[1],
                distortion_model=camera.distortion_model, d=np.asarray(camera.d, dtype=np.float64),
                k=camera.k.reshape(9).astype(np.float64), r=np.asarray(camera.r, dtype=np.float64),
                p=camera.p.reshape(12).astype(np.float64), binning_x=0, binning_y=0, roi=roi)


def point_cloud(make: MessageFactory, header, depth: np.ndarray, camera: Camera,
                rgb: Optional[np.ndarray] = None):
    """An organized ``PointCloud2`` (H x W points, NaN where there is no depth), as depth_image_proc makes.

    Points are in the camera's optical frame (x right, y down, z forward, metres), back-projected
    through ``camera`` (which must be at the depth's size).

    Args:
        make: the message factory.
        header: the input frame's header.
        depth: (H, W) metres.
        camera: the calibration of the depth image.
        rgb: (H, W, 3) uint8 colours to add as a packed ``rgb`` field, or None for xyz only.
    """
    from ..runtime.outputs import depth_to_points

    h, w = depth.shape
    if camera.size != (h, w):
        camera = camera.resized((h, w))
    points, mask = depth_to_points(depth, camera.intrinsics)
    names = ["x", "y", "z"] + (["rgb"] if rgb is not None else [])
    cloud = np.full((h, w, len(names)), np.nan, dtype="<f4")
    cloud[..., :3][mask] = points
    if rgb is not None:
        rgb = np.asarray(rgb, dtype=np.uint32)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]  # PCL: 0x00RRGGBB as float32 bits
        cloud[..., 3] = packed.astype("<u4").view("<f4")
    fields = [make("sensor_msgs/msg/PointField", name=n, offset=4 * i, datatype=_FLOAT32, count=1)
              for i, n in enumerate(names)]
    step = 4 * len(names)
    return make(POINT_CLOUD2, header=header, height=h, width=w, fields=fields, is_bigendian=False,
                point_step=step, row_step=step * w, data=np.frombuffer(cloud.tobytes(), dtype=np.uint8),
                is_dense=bool(mask.all()))


@dataclass(frozen=True)
class ResultOptions:
    """What is published for each result.

    Attributes:
        depth_encoding: ``"32FC1"`` metres or ``"16UC1"`` millimetres.
        points: also an organized PointCloud2 (needs a calibration).
        points_rgb: colour the points with the input image.
        depth_size: publish at this (H, W) (nearest-neighbour) instead of the image's size.
        num_classes: segmentation classes (labels are mono8 up to 256, else mono16).
    """

    depth_encoding: str = "32FC1"
    points: bool = False
    points_rgb: bool = False
    depth_size: Optional[tuple[int, int]] = None
    num_classes: Optional[int] = None

    def for_model(self, runtime) -> "ResultOptions":
        """These options fitted to a model's contract: its classes for labels; depth that is not
        metric (relative depth, inverse depth, disparity) is published as ``32FC1`` values only.

        Raises:
            UsageError: ``16UC1`` or points asked of a model without metric depth.
        """
        from ..contract import RELATIVE_KINDS

        kind = runtime.output_kind
        if kind in RELATIVE_KINDS and (self.depth_encoding != "32FC1" or self.points or self.points_rgb):
            raise UsageError(f"this model predicts {kind}, not metres: 16UC1 millimetres and point clouds need a "
                             "metric-depth model; publish 32FC1 values without --points")
        if kind == "segmentation":
            return replace(self, num_classes=runtime.num_classes)
        return self


def result_messages(make: MessageFactory, header, result: np.ndarray, camera: Optional[Camera],
                    options: ResultOptions, image: Optional[np.ndarray] = None) -> dict[str, Any]:
    """The messages for one result, all with the input's ``header``.

    Args:
        make: the message factory.
        header: the camera message's header.
        result: (H, W) float depth in metres, or integer class labels.
        camera: the input image's calibration, or None (then only the image is published).
        options: see :class:`ResultOptions`.
        image: the input image (for coloured points).

    Returns:
        ``{"image": Image, "camera_info": CameraInfo, "points": PointCloud2}`` — the last two
        only when there is a calibration (and points were asked for, for depth).
    """
    if options.depth_size is not None:
        result = resize_nearest(result, options.depth_size)
    labels = np.issubdtype(result.dtype, np.integer)
    out = {"image": label_image(make, header, result, options.num_classes) if labels
           else depth_image(make, header, result, options.depth_encoding)}
    if camera is None:
        return out
    camera = camera.resized(result.shape[:2])
    out["camera_info"] = camera_info(make, header, camera)
    if (options.points or options.points_rgb) and not labels:
        rgb = None
        if options.points_rgb and image is not None:
            from ..preprocess import to_rgb_uint8

            rgb = resize_nearest(to_rgb_uint8(image), result.shape[:2])
        out["points"] = point_cloud(make, header, result, camera, rgb)
    return out


def resize_nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize with pixel centres aligned (depth and labels must not be blended)."""
    h, w = array.shape[:2]
    if (h, w) == tuple(size):
        return array
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return array[rows][:, cols]
