"""Photo textures for the scene generator: real photographs that ship with pinned packages.

Every photo comes from a package in ``requirements.txt`` (scikit-image's and
matplotlib's sample data), so a seed gives the same scenes on every machine.
Photos are read once per process, shrunk to at most ``_MAX_SIDE`` pixels,
converted to linear RGB and kept as a mip pyramid. A :class:`PhotoTexture`
maps surface coordinates in metres onto a photo and picks, per point, the mip
level whose texel matches the pixel's footprint on the surface, so distant or
grazing surfaces are filtered instead of aliased. Because every pixel's
surface point comes from exact ray casting, the mapping is perspective-correct.

Licences are listed in ``docs/data_eval.md`` (all CC0 or public domain).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

_MAX_SIDE = 256  # photos are shrunk to this longest side; more detail is never seen at 256x320


@dataclass(frozen=True)
class PhotoSource:
    """One photograph: where it ships and what it can stand for in a scene.

    Attributes:
        name: short name.
        package: ``skimage`` or ``matplotlib``.
        file: file name inside the package's sample-data folder.
        material: True for surface textures that tile (brick, gravel, grass), False for
            pictures (posters, packaging, screens) shown once on a face.
    """

    name: str
    package: str
    file: str
    material: bool


#: every photo the generator may use (the Middlebury Motorcycle images are evaluation data: never here)
PHOTOS = (
    PhotoSource("brick", "skimage", "brick.png", True),
    PhotoSource("gravel", "skimage", "gravel.png", True),
    PhotoSource("grass", "skimage", "grass.png", True),
    PhotoSource("text", "skimage", "text.png", True),
    PhotoSource("coins", "skimage", "coins.png", True),
    PhotoSource("coffee", "skimage", "coffee.png", False),
    PhotoSource("chelsea", "skimage", "chelsea.png", False),
    PhotoSource("astronaut", "skimage", "astronaut.png", False),
    PhotoSource("rocket", "skimage", "rocket.jpg", False),
    PhotoSource("camera", "skimage", "camera.png", False),
    PhotoSource("hubble", "skimage", "hubble_deep_field.jpg", False),
    PhotoSource("clock", "skimage", "clock_motion.png", False),
    PhotoSource("grace_hopper", "matplotlib", "grace_hopper.jpg", False),
)


def _package_folder(package: str) -> Path:
    if package == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


@dataclass(frozen=True)
class _Pyramid:
    """Mip levels of one photo, all channels in one flat float32 array per channel."""

    flat: np.ndarray  # (3, total texels), linear RGB
    offsets: np.ndarray  # int64 start of each level
    widths: np.ndarray  # int64 width of each level
    heights: np.ndarray  # int64 height of each level
    gray: bool


def _read(source: PhotoSource) -> np.ndarray:
    """The photo as float32 linear RGB HxWx3 in [0, 1], at most ``_MAX_SIDE`` on its long side."""
    import cv2

    from ..images import read_rgb

    image = read_rgb(_package_folder(source.package) / source.file)
    scale = _MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    return (image.astype(np.float32) / 255.0) ** 2  # the renderer's gamma is 2


def _pyramid(image: np.ndarray) -> _Pyramid:
    levels = [image]
    while min(levels[-1].shape[:2]) >= 4:
        a = levels[-1]
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        a = a[:h, :w]
        levels.append(0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]))
    flat = np.concatenate([lv.reshape(-1, 3) for lv in levels]).T.copy()
    sizes = np.array([lv.shape[0] * lv.shape[1] for lv in levels])
    gray = bool(np.allclose(image[..., 0], image[..., 1]) and np.allclose(image[..., 1], image[..., 2]))
    return _Pyramid(flat=flat, offsets=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
                    widths=np.array([lv.shape[1] for lv in levels], np.int64),
                    heights=np.array([lv.shape[0] for lv in levels], np.int64), gray=gray)


@functools.lru_cache(maxsize=None)
def pyramid(name: str) -> _Pyramid:
    """The (cached) mip pyramid of photo ``name``."""
    source = next(s for s in PHOTOS if s.name == name)
    return _pyramid(_read(source))


class PhotoTexture:
    """A photo mapped onto a surface: ``(u, v, footprint) -> (3, n)`` linear RGB albedo.

    Args:
        name: one of :data:`PHOTOS`.
        size_m: (width, height) in metres that one copy of the photo covers.
        offset_m: surface coordinates (u, v) of the photo's top-left corner.
        tint: per-channel multiplier (3,), e.g. to colour a grey photo.
        angle: rotation of the photo on the surface, radians.
    """

    def __init__(self, name: str, size_m: tuple[float, float], offset_m: tuple[float, float] = (0.0, 0.0),
                 tint: Optional[np.ndarray] = None, angle: float = 0.0):
        self.pyr = pyramid(name)
        self.size_m = (float(size_m[0]), float(size_m[1]))
        self.offset_m = (float(offset_m[0]), float(offset_m[1]))
        self.tint = None if tint is None else np.asarray(tint, np.float32)
        self.cos, self.sin = math.cos(angle), math.sin(angle)

    def __call__(self, u: np.ndarray, v: np.ndarray, footprint: Optional[np.ndarray] = None) -> np.ndarray:
        pyr = self.pyr
        w0, h0 = float(pyr.widths[0]), float(pyr.heights[0])
        du, dv = u - self.offset_m[0], v - self.offset_m[1]
        ru, rv = self.cos * du + self.sin * dv, -self.sin * du + self.cos * dv
        x, y = ru / self.size_m[0], rv / self.size_m[1]  # photo coordinates, one copy per unit
        x, y = x - np.floor(x), np.ceil(y) - y  # v points up on walls, rows point down
        if footprint is None:
            level = np.zeros(x.shape, np.int64)
        else:
            texels = footprint * (w0 / self.size_m[0])  # texels of level 0 under one pixel
            level = np.clip(np.floor(np.log2(np.maximum(texels, 1e-6))), 0, len(pyr.widths) - 1).astype(np.int64)
        widths, heights = pyr.widths[level], pyr.heights[level]
        col = np.minimum((x * widths).astype(np.int64), widths - 1)
        row = np.minimum((y * heights).astype(np.int64), heights - 1)
        out = pyr.flat[:, pyr.offsets[level] + row * widths + col]
        if self.tint is not None:
            out *= self.tint[:, None]
        return out


def material_photos() -> list[str]:
    """Names of the photos that tile as surface materials."""
    return [s.name for s in PHOTOS if s.material]


def picture_photos() -> list[str]:
    """Names of the photos shown once as pictures (posters, packaging, screens)."""
    return [s.name for s in PHOTOS if not s.material]
