"""Middlebury stereo scenes as RGB-D: disparity + ``calib.txt`` -> metric depth.

Middlebury 2014/2021 scene folders hold ``im0.png`` (left image),
``disp0.pfm`` or ``disp0GT.pfm`` (left disparity in pixels, +inf where
unknown) and ``calib.txt``. Depth follows Middlebury's README:
``depth_mm = baseline * f / (d + doffs)``.

The Motorcycle scene ships inside scikit-image (``skimage.data.stereo_motorcycle``,
downsampled to 500x741), so one real RGB-D frame is always available offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._deps import require
from ..errors import UsageError
from ..images import read_rgb
from .base import DepthDataset
from .formats import DataFormatError, disparity_to_depth, read_middlebury_calib, read_pfm

#: Calibration of skimage's Motorcycle (Middlebury 2014, full-resolution values divided by 4).
MOTORCYCLE_FOCAL_PX = 994.978
MOTORCYCLE_BASELINE_MM = 193.001
MOTORCYCLE_DOFFS = 31.086

_DISPARITY_FILES = ("disp0.pfm", "disp0GT.pfm")


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


class MotorcycleDataset(DepthDataset):
    """The single Middlebury Motorcycle frame that ships in scikit-image."""

    name = "motorcycle"

    def __init__(self):
        self._sample = None

    def __len__(self) -> int:
        return 1

    def load(self, index: int):
        if self._sample is None:
            self._sample = middlebury_motorcycle()
        rgb, depth = self._sample
        return rgb.copy(), depth.copy()
