"""Calibration images: a folder, a video, in-memory arrays, or the photos that ship with scikit-image.

Every source yields ``(name, HxWx3 uint8 RGB)`` pairs in a deterministic order;
:func:`calibration_inputs` turns them into network inputs with the runtime's own
:func:`xnet_edge.preprocess.preprocess`, so calibration sees exactly what the
engine will see.

Sampling is reproducible: the same source, ``num_images`` and ``seed`` always
give the same images in the same order (and so the same fingerprint).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from .._deps import require
from ..errors import UsageError
from ..images import VIDEO_SUFFIXES, ImageReadError, bgr_to_rgb, list_images, read_rgb, skimage_photo
from ..preprocess import to_rgb_uint8

#: Real photos in scikit-image used for calibration (no download needed).
BUILTIN_CALIBRATION = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
                       "colorwheel", "camera", "coins", "brick", "gravel", "grass", "cell", "clock", "page", "text")
#: Real photos kept out of calibration: parity checks and held-out accuracy use these.
#: ``motorcycle_left``/``motorcycle_right`` are the Middlebury stereo pair (``--eval`` ground truth).
BUILTIN_HELDOUT = ("chelsea", "moon", "motorcycle_left", "motorcycle_right")

DEFAULT_NUM_IMAGES = 32
DEFAULT_MIN_IMAGES = 8

ImageSource = Union[str, os.PathLike, np.ndarray, Sequence[np.ndarray]]


class CalibrationDataWarning(UserWarning):
    """An input image or frame could not be read and was skipped."""


@dataclass
class CalibrationSet:
    """Preprocessed calibration inputs.

    Attributes:
        tensors: (1, 3, H, W) float32 network inputs, in order.
        names: where each tensor came from (file name, ``video.mp4#frame``, builtin name).
        source: a description of the source (folder path, ``builtin``, ``arrays``).
        seed: the sampling seed.
        fingerprint: sha256 over names and tensor bytes; equal sets have equal fingerprints.
    """

    tensors: list[np.ndarray]
    names: list[str]
    source: str
    seed: int
    fingerprint: str = field(default="")

    def __len__(self) -> int:
        return len(self.tensors)

    def to_dict(self) -> dict:
        """JSON summary for the calibration report."""
        return {"source": self.source, "num_images": len(self), "seed": self.seed,
                "fingerprint": self.fingerprint, "names": list(self.names)}


def builtin_images(split: str = "calibration") -> list[tuple[str, np.ndarray]]:
    """The real photos that ship with scikit-image.

    Args:
        split: ``"calibration"`` (16 photos) or ``"heldout"`` (photos never used to calibrate,
            including the Middlebury Motorcycle pair).

    Returns:
        ``[(name, HxWx3 uint8)]`` in a fixed order.
    """
    names = {"calibration": BUILTIN_CALIBRATION, "heldout": BUILTIN_HELDOUT}.get(split)
    if names is None:
        raise UsageError(f"unknown builtin split {split!r}: use 'calibration' or 'heldout'")
    return [(n, skimage_photo(n)) for n in names]


def augmented_crops(images: Sequence[tuple[str, np.ndarray]], count: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """``count`` images: the originals first, then seeded random crops (50–100% side) with flips.

    Used to grow a small set of real photos into a larger calibration set.
    """
    rng = np.random.default_rng(seed)
    out = list(images[:count])
    i = 0
    while len(out) < count:
        name, img = images[i % len(images)]
        h, w = img.shape[:2]
        scale = rng.uniform(0.5, 1.0)
        ch, cw = max(8, int(h * scale)), max(8, int(w * scale))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[y:y + ch, x:x + cw]
        flip = bool(rng.integers(0, 2))
        if flip:
            crop = crop[:, ::-1]
        out.append((f"{name}[crop{y},{x},{ch}x{cw}{',flip' if flip else ''}]", np.ascontiguousarray(crop)))
        i += 1
    return out


def _sample(items: list, num: int, seed: int) -> list:
    """A seeded subset of ``items`` of size ``num``, kept in the items' order."""
    if num >= len(items):
        return list(items)
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=num, replace=False))
    return [items[i] for i in keep]


def folder_images(folder: Union[str, os.PathLike], num_images: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Images from a folder and its sub-folders (any size), sampled with ``seed``; unreadable ones are skipped.

    Raises:
        UsageError: the folder holds no image files.
    """
    folder = Path(folder)
    files = list_images(folder, recursive=True, what="calibration images")
    order = list(np.random.default_rng(seed).permutation(len(files)))
    out = []
    for idx in order:  # seeded order; unreadable files are replaced by the next ones
        if len(out) == num_images:
            break
        path = files[idx]
        try:
            out.append((str(path.relative_to(folder)), read_rgb(path)))
        except ImageReadError as exc:
            warnings.warn(f"skipping {path}: {exc}", CalibrationDataWarning, stacklevel=2)
    return sorted(out, key=lambda item: item[0])


def video_frames(path: Union[str, os.PathLike], num_images: int) -> list[tuple[str, np.ndarray]]:
    """``num_images`` frames spread evenly over a video file.

    Raises:
        UsageError: the video cannot be opened or has no frames.
    """
    cv2 = require("cv2")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise UsageError(f"cannot open video {path}")
    total = 0
    while cap.grab():
        total += 1
    cap.release()
    if total == 0:
        raise UsageError(f"no frames in video {path}")
    wanted = set(np.unique(np.linspace(0, total - 1, min(num_images, total)).round().astype(int)).tolist())
    cap, out, index = cv2.VideoCapture(str(path)), [], 0
    while cap.grab():
        if index in wanted:
            ok, frame = cap.retrieve()
            if ok and frame is not None:
                out.append((f"{Path(path).name}#{index}", bgr_to_rgb(frame)))
            else:
                warnings.warn(f"skipping unreadable frame {index} of {path}", CalibrationDataWarning, stacklevel=2)
        index += 1
    cap.release()
    return out


def array_images(arrays: Union[np.ndarray, Sequence[np.ndarray]], num_images: int,
                 seed: int) -> list[tuple[str, np.ndarray]]:
    """In-memory images: an (N, H, W, C) array or a list of HxW[xC] arrays."""
    items = list(arrays) if not (isinstance(arrays, np.ndarray) and arrays.ndim == 3) else [arrays]
    named = [(f"array[{i}]", to_rgb_uint8(a)) for i, a in enumerate(items)]
    return _sample(named, num_images, seed)


def load_images(source: ImageSource, num_images: int = DEFAULT_NUM_IMAGES,
                seed: int = 0) -> tuple[list[tuple[str, np.ndarray]], str]:
    """Load calibration images from any supported source.

    Args:
        source: ``"builtin"``, an image folder, a video file, or arrays.
        num_images: how many images to use (builtin photos are extended with seeded crops).
        seed: sampling seed.

    Returns:
        (``[(name, HxWx3 uint8)]``, source description).

    Raises:
        UsageError: a missing path, an unsupported file, or a folder without images.
    """
    if num_images <= 0:
        raise UsageError(f"--num-images must be positive, got {num_images}")
    if not isinstance(source, (str, os.PathLike)):
        return array_images(source, num_images, seed), "arrays"
    if str(source) == "builtin":
        return augmented_crops(builtin_images("calibration"), num_images, seed), "builtin"
    path = Path(source)
    if path.is_dir():
        return folder_images(path, num_images, seed), str(path)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return video_frames(path, num_images), str(path)
    if path.is_file():
        raise UsageError(f"{path} is neither an image folder nor a video ({', '.join(VIDEO_SUFFIXES)})")
    raise UsageError(f"calibration images not found: {path} (give a folder, a video or 'builtin')")


def fingerprint(names: Iterable[str], tensors: Iterable[np.ndarray]) -> str:
    """sha256 over image names and the exact bytes of their preprocessed tensors."""
    h = hashlib.sha256()
    for name, t in zip(names, tensors):
        h.update(name.encode() + b"\0" + str(t.shape).encode() + b"\0")
        h.update(np.ascontiguousarray(t, dtype=np.float32).tobytes())
    return h.hexdigest()


def calibration_inputs(source: ImageSource, preprocessing, *,
                       num_images: int = DEFAULT_NUM_IMAGES, seed: int = 0,
                       min_images: int | None = None) -> CalibrationSet:
    """Load, sample and preprocess calibration images exactly as the runtime does.

    Args:
        source: ``"builtin"``, an image folder, a video file, or arrays.
        preprocessing: the model's :class:`~xnet_edge.contract.Preprocessing`.
        num_images: images to use.
        seed: sampling seed.
        min_images: fewest usable images to accept (default ``min(8, num_images)``).

    Returns:
        A :class:`CalibrationSet`.

    Raises:
        UsageError: the source is bad or fewer than ``min_images`` images could be read.
    """
    images, described = load_images(source, num_images, seed)
    minimum = min(DEFAULT_MIN_IMAGES, num_images) if min_images is None else min_images
    if len(images) < minimum:
        raise UsageError(f"only {len(images)} usable calibration image(s) in {described}; at least {minimum} "
                         "needed (add images or lower --min-images)")
    tensors = [preprocessing.apply(img)[0] for _, img in images]
    names = [n for n, _ in images]
    return CalibrationSet(tensors, names, described, seed, fingerprint(names, tensors))

