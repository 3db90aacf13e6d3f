"""The dataset interface every reader implements, and the standard evaluation crops.

A dataset is a sized, indexable, iterable collection of ``(rgb, depth)``
samples: ``rgb`` is HxWx3 uint8, ``depth`` is HxW float32 metres with 0 (or any
non-finite / non-positive value) where the ground truth is unknown. Each dataset
also carries its evaluation protocol: the depth range (``min_depth``,
``max_depth``) and an optional crop, so ``xnet-edge eval`` applies the numbers
the literature uses without extra flags.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np


@dataclass(frozen=True)
class Crop:
    """An evaluation crop given as fractions of the image height and width.

    Pixel bounds are ``int(fraction * size)`` (the convention of the reference
    evaluation code), so a crop defined for one resolution scales to others.

    Attributes:
        name: e.g. ``"eigen"`` or ``"garg"``.
        top, bottom, left, right: fractions in [0, 1]; rows ``[top*H, bottom*H)``,
            columns ``[left*W, right*W)`` are kept.
    """

    name: str
    top: float
    bottom: float
    left: float
    right: float

    def bounds(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Pixel bounds (row0, row1, col0, col1) at this size."""
        # the tiny epsilon keeps exact ratios like 471/480 from rounding down to 470
        return (int(self.top * height + 1e-6), int(self.bottom * height + 1e-6),
                int(self.left * width + 1e-6), int(self.right * width + 1e-6))

    def mask(self, height: int, width: int) -> np.ndarray:
        """Boolean HxW mask, True inside the crop."""
        r0, r1, c0, c1 = self.bounds(height, width)
        out = np.zeros((height, width), dtype=bool)
        out[r0:r1, c0:c1] = True
        return out


#: Eigen et al. (2014) NYU Depth v2 crop: rows 45:471, columns 41:601 of 480x640.
NYU_EIGEN_CROP = Crop("eigen", 45 / 480, 471 / 480, 41 / 640, 601 / 640)
#: Garg et al. (2016) KITTI crop.
KITTI_GARG_CROP = Crop("garg", 0.40810811, 0.99189189, 0.03594771, 0.96405229)
#: Eigen et al. (2014) KITTI crop.
KITTI_EIGEN_CROP = Crop("eigen", 0.3324324, 0.91351351, 0.0359477, 0.96405229)


class DepthDataset(abc.ABC):
    """Base class: a sized, indexable, iterable collection of (rgb, depth_m) samples.

    Subclasses implement ``__len__`` and ``load(index)``; they set ``name``,
    ``min_depth``, ``max_depth`` (None = no cap) and ``crop`` (None = whole image).
    """

    name: str = "dataset"
    min_depth: float = 1e-3
    max_depth: Optional[float] = None
    crop: Optional[Crop] = None

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abc.abstractmethod
    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Read sample ``index`` (0 <= index < len) as (rgb uint8 HxWx3, depth float32 HxW metres)."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{self.name}: index {index} out of range for {n} samples")
        return self.load(index)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self.load(i)

    def eval_mask(self, height: int, width: int) -> Optional[np.ndarray]:
        """The crop as a boolean HxW mask, or None when the whole image counts."""
        return None if self.crop is None else self.crop.mask(height, width)

    def protocol(self) -> dict:
        """The evaluation protocol as a JSON-ready dict (depth range and crop)."""
        return {"min_depth": self.min_depth, "max_depth": self.max_depth,
                "crop": None if self.crop is None else self.crop.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} samples)"


class SingleFrameDataset(DepthDataset):
    """One fixed RGB-D frame (a sample that ships with a package): read once, handed out as copies.

    Subclasses implement :meth:`read`.
    """

    _sample: Optional[tuple[np.ndarray, np.ndarray]] = None

    def __len__(self) -> int:
        return 1

    @abc.abstractmethod
    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """The frame as (rgb uint8 HxWx3, depth float32 HxW)."""

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._sample is None:
            self._sample = self.read()
        rgb, depth = self._sample
        return rgb.copy(), depth.copy()
