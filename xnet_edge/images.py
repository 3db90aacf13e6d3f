"""Image files and sample photos: the suffix lists, one lister, one reader, one error.

Datasets, calibration, the TensorRT calibrator and ``xnet-edge infer`` all read
images through this module, so they accept the same files and fail the same way.
OpenCV (``cv2``) is imported by the functions that decode; scikit-image by
:func:`skimage_photo`. Nothing here imports torch (the runtime path uses it).
"""

from __future__ import annotations

import glob as globlib
import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ._deps import require
from .errors import MissingDependencyError, UsageError, XnetEdgeError
from .preprocess import to_rgb_uint8

#: file suffixes (lower case) that count as images when a folder is listed
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".pbm")
#: file suffixes (lower case) read as videos
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")

PathLike = Union[str, os.PathLike]


class ImageReadError(UsageError):
    """An image file is missing, empty or cannot be decoded."""


def is_glob(spec: str) -> bool:
    """True when ``spec`` holds a glob wildcard (``*``, ``?`` or ``[``)."""
    return any(ch in spec for ch in "*?[")


def list_images(spec: Union[PathLike, Sequence[PathLike]], *, recursive: bool = False,
                what: str = "input") -> list[Path]:
    """The files a path, folder, glob or explicit list names.

    Args:
        spec: one file (returned as it is, whatever its suffix), a folder (its files
            with an :data:`IMAGE_SUFFIXES` suffix, sorted), a glob (every matching file,
            sorted; ``**`` recurses) or a sequence of paths (kept in order).
        recursive: list a folder's sub-folders too.
        what: what the files are, for messages (``"calibration images"``).

    Returns:
        The paths, never empty.

    Raises:
        UsageError: nothing exists there, nothing matches, the folder holds no images, or the
            path is not a regular file (a FIFO would block).
        XnetEdgeError: the folder cannot be read (permissions).
    """
    if not isinstance(spec, (str, os.PathLike)):
        files = [Path(p) for p in spec]
        if not files:
            raise UsageError(f"no {what} given")
        return files
    if isinstance(spec, str) and is_glob(spec):
        files = sorted(Path(p) for p in globlib.glob(spec, recursive=True) if Path(p).is_file())
        if not files:
            raise UsageError(f"no files match {spec!r}")
        return files
    path = Path(spec)
    if path.is_dir():
        try:
            os.listdir(path)  # rglob would show an unreadable folder as an empty one
        except OSError as exc:
            raise XnetEdgeError(f"cannot read {what} folder {path}: {exc.strerror or exc}") from None
        found = path.rglob("*") if recursive else path.iterdir()
        files = sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {what} folder {path}")
        return files
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    if not path.is_file():  # reading a FIFO or a device would block or never end
        raise UsageError(f"{what} {path} is not a regular file (a FIFO, socket or device); give an image, "
                         "a video or a folder (cameras: camera:N)")
    return [path]


def bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR / BGRA channel order -> RGB / RGBA (a copy); gray images are returned as they are."""
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image[:, :, ::-1])
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, [2, 1, 0, 3]]
    return image


def read_image(path: PathLike) -> np.ndarray:
    """Decode an image file as stored: RGB / RGBA / gray, 8 or 16 bit, in RGB channel order.

    Raises:
        ImageReadError: the file is missing, empty, not an image or corrupt.
    """
    cv2 = require("cv2")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageReadError(f"{path} is an empty file")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageReadError(f"cannot decode {path}: {str(exc).strip().splitlines()[-1]}") from None
    if image is None:
        raise ImageReadError(f"cannot decode {path}: not an image or corrupt")
    if image.size == 0 or min(image.shape[:2]) == 0:
        raise ImageReadError(f"{path} has zero size {image.shape}")
    return bgr_to_rgb(image)


def read_rgb(path: PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB (gray repeated, alpha dropped, 16 bit scaled to 8).

    Raises:
        ImageReadError: see :func:`read_image`.
    """
    return to_rgb_uint8(read_image(path))


def skimage_photo(name: str) -> np.ndarray:
    """One photo that ships with scikit-image, as HxWx3 uint8 RGB.

    Args:
        name: a ``skimage.data`` loader (``"chelsea"``, ``"coffee"``, ...), or
            ``"motorcycle_left"`` / ``"motorcycle_right"`` for the Middlebury 2014 stereo pair.

    Raises:
        UsageError: unknown name.
        MissingDependencyError: scikit-image is not installed.
    """
    try:
        skdata = require("skimage.data")
    except MissingDependencyError:
        raise MissingDependencyError("skimage", None, "pip install scikit-image (sample photos)") from None
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skdata.stereo_motorcycle()
        return to_rgb_uint8(left if name == "motorcycle_left" else right)
    loader = getattr(skdata, name, None)
    if loader is None or not callable(loader):
        raise UsageError(f"unknown scikit-image photo {name!r}")
    return to_rgb_uint8(loader())
