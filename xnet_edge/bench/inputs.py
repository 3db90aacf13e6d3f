"""Real images to benchmark with: photos that ship with scikit-image, cut to one camera frame size.

Zeros or one repeated image flatter a benchmark (caches stay warm, some kernels
take shortcuts on constant data), so calls rotate over several real photos.
Each photo is centre-cropped to the frame's aspect ratio and resized to the
frame size, so end-to-end timings are those of a camera delivering frames of
one size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..images import skimage_photo
from ..preprocess import resize_bilinear, to_rgb_uint8

#: scikit-image photos used by default (all real RGB photographs, no download needed).
DEFAULT_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "motorcycle_left", "motorcycle_right",
                  "hubble_deep_field", "immunohistochemistry")
#: default frame size (H, W): VGA, what most robot cameras stream.
DEFAULT_FRAME_SIZE = (480, 640)


def center_crop_to_aspect(image: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred crop of ``image`` whose width / height equals ``aspect``."""
    h, w = image.shape[:2]
    if w / h > aspect:
        new_w = max(1, int(round(h * aspect)))
        x0 = (w - new_w) // 2
        return image[:, x0:x0 + new_w]
    new_h = max(1, int(round(w / aspect)))
    y0 = (h - new_h) // 2
    return image[y0:y0 + new_h]


def to_frame(image: np.ndarray, frame_size: Sequence[int]) -> np.ndarray:
    """Crop ``image`` to the frame's aspect ratio and resize it to ``frame_size`` (H, W), uint8 RGB."""
    fh, fw = int(frame_size[0]), int(frame_size[1])
    if fh <= 0 or fw <= 0:
        raise UsageError(f"frame size must be positive, got {fh}x{fw}")
    crop = center_crop_to_aspect(to_rgb_uint8(image), fw / fh)
    return np.clip(resize_bilinear(crop, (fh, fw)) + 0.5, 0, 255).astype(np.uint8)


def benchmark_frames(frame_size: Sequence[int] = DEFAULT_FRAME_SIZE,
                     names: Sequence[str] = DEFAULT_PHOTOS) -> list[tuple[str, np.ndarray]]:
    """Real photos as camera frames of one size.

    Args:
        frame_size: (H, W) of every frame.
        names: scikit-image photo names.

    Returns:
        ``[(name, HxWx3 uint8), ...]`` in the order of ``names``.
    """
    if not names:
        raise UsageError("at least one benchmark image is needed")
    return [(name, to_frame(skimage_photo(name), frame_size)) for name in names]
