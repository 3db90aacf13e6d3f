"""Middlebury stereo scenes as RGB-D: disparity + ``calib.txt`` -> metric depth.

Middlebury 2014/2021 scene folders hold ``im0.png`` (left image),
``disp0.pfm`` or ``disp0GT.pfm`` (left disparity in pixels, +inf where
unknown) and ``calib.txt``. Depth follows Middlebury's README:
``depth_mm = baseline * f / (d + doffs)``.

The Motorcycle scene ships inside scikit-image (``skimage.data.stereo_motorcycle``,
downsampled to 500x741), so one real RGB-D frame is always available offline.

The Middlebury 2006 Aloe scene ships with OpenCV's sample data (Debian's
``opencv-doc`` package: ``aloeL.jpg`` and its ground-truth disparity
``aloeGT.png``, 1282x1110). Its calibration is not published with it, so it
is relative ground truth: depth is given as ``1 / disparity`` and only
metrics after a scale-and-shift fit in disparity space (``align="disparity"``)
are meaningful.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._deps import require
from ..errors import UsageError
from ..images import read_rgb
from .base import DepthDataset, SingleFrameDataset
from .formats import DataFormatError, disparity_to_depth, read_middlebury_calib, read_pfm

#: Calibration of skimage's Motorcycle (Middlebury 2014, full-resolution values divided by 4).
MOTORCYCLE_FOCAL_PX = 994.978
MOTORCYCLE_BASELINE_MM = 193.001
MOTORCYCLE_DOFFS = 31.086

_DISPARITY_FILES = ("disp0.pfm", "disp0GT.pfm")

#: where Debian's opencv-doc package puts OpenCV's sample data
OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
ALOE_FILES = ("aloeL.jpg", "aloeGT.png")
ALOE_HOW_TO_GET = ("install Debian's opencv-doc package (apt-get install opencv-doc), or point "
                   "OPENCV_SAMPLES_DATA_PATH (or aloe:FOLDER) at a copy of OpenCV's samples/data")


def middlebury_motorcycle() -> tuple[np.ndarray, np.ndarray]:
    """The Middlebury 2014 Motorcycle scene from scikit-image as RGB-D.

    Returns:
        (rgb uint8 500x741x3, depth float32 500x741 metres); pixels with unknown
        disparity (+inf in skimage's array) have depth 0.

    Raises:
        MissingDependencyError: scikit-image is not installed.
    """
    data = require("skimage.data")
    left, _right, disparity = data.stereo_motorcycle()
    depth = disparity_to_depth(disparity, MOTORCYCLE_FOCAL_PX, MOTORCYCLE_BASELINE_MM, MOTORCYCLE_DOFFS)
    return np.ascontiguousarray(left, dtype=np.uint8), depth


def read_middlebury_scene(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one Middlebury scene folder as (rgb uint8, depth float32 metres, 0 = unknown).

    Raises:
        UsageError: the folder lacks calib.txt, im0.png or a disparity file.
        DataFormatError: image and disparity sizes differ.
    """
    folder = Path(folder)
    disp_path = next((folder / n for n in _DISPARITY_FILES if (folder / n).is_file()), None)
    if not (folder / "calib.txt").is_file() or not (folder / "im0.png").is_file() or disp_path is None:
        raise UsageError(f"{folder}: a Middlebury scene needs calib.txt, im0.png and disp0.pfm (or disp0GT.pfm)")
    calib = read_middlebury_calib(folder / "calib.txt")
    rgb = read_rgb(folder / "im0.png")
    disparity = read_pfm(disp_path)
    if disparity.ndim != 2 or disparity.shape != rgb.shape[:2]:
        raise DataFormatError(f"{disp_path}: disparity {disparity.shape} does not match im0.png {rgb.shape[:2]}")
    depth = disparity_to_depth(disparity, float(calib["cam0"][0, 0]), float(calib["baseline"]),
                               float(calib["doffs"]))
    return rgb, depth


class MiddleburyDataset(DepthDataset):
    """One Middlebury scene folder, or a folder of scene folders (each with ``calib.txt``).

    No crop and no depth cap: the ground truth is dense and metric within each scene.
    """

    name = "middlebury"

    def __init__(self, path):
        root = Path(path).expanduser()
        if not root.is_dir():
            raise UsageError(f"Middlebury folder not found: {root}")
        if (root / "calib.txt").is_file():
            self.scenes = [root]
        else:
            self.scenes = sorted(p.parent for p in root.glob("*/calib.txt"))
        if not self.scenes:
            raise UsageError(f"no Middlebury scenes (folders with calib.txt) in {root}")

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int):
        return read_middlebury_scene(self.scenes[index])


class MotorcycleDataset(SingleFrameDataset):
    """The single Middlebury Motorcycle frame that ships in scikit-image."""

    name = "motorcycle"

    def read(self):
        return middlebury_motorcycle()


def find_aloe(folder: str | os.PathLike | None = None) -> Path:
    """The folder holding ``aloeL.jpg`` and ``aloeGT.png``.

    Args:
        folder: where to look; None searches ``$OPENCV_SAMPLES_DATA_PATH`` and then
            :data:`OPENCV_DOC_DATA` (Debian's ``opencv-doc``).

    Raises:
        UsageError: the files are in none of those places (the message says how to get them).
    """
    if folder:
        places = [Path(folder).expanduser()]
    else:
        env = os.environ.get("OPENCV_SAMPLES_DATA_PATH")
        places = [Path(p) for p in (env.split(os.pathsep) if env else [])] + [OPENCV_DOC_DATA]
    for place in places:
        if all((place / name).is_file() for name in ALOE_FILES):
            return place
    raise UsageError(f"the Middlebury Aloe scene ({', '.join(ALOE_FILES)}) is not in "
                     f"{', '.join(str(p) for p in places)}: {ALOE_HOW_TO_GET}")


def middlebury_aloe(folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The Middlebury 2006 Aloe scene (left view) with relative depth ``1 / disparity``.

    Args:
        folder: see :func:`find_aloe`.

    Returns:
        (rgb uint8 1110x1282x3, depth float32 1110x1282 in units of 1/pixel); pixels
        without ground truth (disparity 0) have depth 0.

    Raises:
        UsageError: the files are missing.
        DataFormatError: the ground truth is unreadable or does not match the image.
    """
    cv2 = require("cv2")
    place = find_aloe(folder)
    rgb = read_rgb(place / ALOE_FILES[0])
    disparity = cv2.imread(str(place / ALOE_FILES[1]), cv2.IMREAD_UNCHANGED)
    if disparity is None or disparity.ndim != 2 or disparity.shape != rgb.shape[:2]:
        raise DataFormatError(f"{place / ALOE_FILES[1]}: not an 8-bit disparity map of the size of "
                              f"{ALOE_FILES[0]} {rgb.shape[:2]}")
    disparity = disparity.astype(np.float32)
    depth = np.where(disparity > 0, 1.0 / np.maximum(disparity, 1e-6), 0.0).astype(np.float32)
    return rgb, depth


class AloeDataset(SingleFrameDataset):
    """The Middlebury 2006 Aloe frame from OpenCV's sample data (relative depth: align in disparity space)."""

    name = "aloe"
    min_depth = 1e-6  # 1 / disparity: every known pixel counts
    default_align = "disparity"

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = find_aloe(folder)

    def read(self):
        return middlebury_aloe(self.folder)
