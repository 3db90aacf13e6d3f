"""Readers for real RGB-D benchmarks: NYU Depth v2, KITTI (Eigen split) and folders of PNGs.

Every reader is a :class:`~xnet_edge.data.base.DepthDataset` yielding
``(rgb uint8 HxWx3, depth float32 HxW metres)`` with 0 where depth is unknown,
and carries the evaluation protocol of its benchmark (crop, depth cap).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._deps import require
from ..errors import UsageError
from ..images import IMAGE_SUFFIXES, read_rgb
from .base import KITTI_GARG_CROP, NYU_EIGEN_CROP, DepthDataset
from .formats import DataFormatError, read_depth_png

#: Units per metre of the depth PNGs each layout stores.
NYU_PNG_SCALE = 1000.0  # millimetres
KITTI_PNG_SCALE = 256.0  # KITTI depth benchmark convention


def _require_path(path: str | os.PathLike, what: str, kind: str = "exists") -> Path:
    p = Path(path).expanduser()
    ok = {"exists": p.exists(), "file": p.is_file(), "dir": p.is_dir()}[kind]
    if not ok:
        raise UsageError(f"{what} not found: {p}")
    return p


# ----------------------------------------------------------------------------- NYU Depth v2


class NYUDepthV2Mat(DepthDataset):
    """The official labeled NYU Depth v2 file (``nyu_depth_v2_labeled.mat``, MATLAB v7.3 = HDF5).

    h5py sees MATLAB's column-major arrays transposed: ``images`` is
    (N, 3, W, H) uint8 and ``depths`` (N, W, H) float32 metres; samples come
    back as HxWx3 and HxW. The Eigen test split (654 images) is read from the
    official ``splits.mat`` (``testNdxs``/``trainNdxs``, 1-based).

    Args:
        path: the labeled ``.mat`` file.
        split: "test" (default), "train" or "all".
        splits: the ``splits.mat`` file; default: ``splits.mat`` beside ``path``.
        depth_key: "depths" (in-painted, the usual choice) or "rawDepths".

    Raises:
        UsageError: missing files, unknown split, or a split asked for without splits.mat.
        MissingDependencyError: h5py is not installed.
    """

    name = "nyu"
    max_depth = 10.0
    crop = NYU_EIGEN_CROP

    def __init__(self, path, split: str = "test", splits=None, depth_key: str = "depths"):
        self.path = _require_path(path, "NYU .mat file", "file")
        self.depth_key = depth_key
        self._handle = None
        self._pid = None
        with require("h5py").File(self.path, "r") as f:
            for key in ("images", depth_key):
                if key not in f:
                    raise DataFormatError(f"{self.path}: no '{key}' dataset (is this nyu_depth_v2_labeled.mat?)")
            total = f["images"].shape[0]
        self.indices = self._split_indices(split, splits, total)

    def _split_indices(self, split: str, splits, total: int) -> np.ndarray:
        if split == "all":
            return np.arange(total)
        if split not in ("test", "train"):
            raise UsageError(f"unknown NYU split {split!r}: use test, train or all")
        splits = Path(splits) if splits else self.path.with_name("splits.mat")
        if not splits.is_file():
            raise UsageError(f"NYU split '{split}' needs the official splits.mat (looked for {splits}); "
                             f"put it beside the .mat, pass ?splits=PATH, or use ?split=all")
        ndx = _read_mat_vector(splits, "testNdxs" if split == "test" else "trainNdxs")
        if ndx.min() < 1 or ndx.max() > total:
            raise DataFormatError(f"{splits}: indices outside 1..{total}")
        return ndx - 1  # MATLAB is 1-based

    def _file(self):
        # h5py handles do not survive fork(): reopen in each worker process
        if self._handle is None or self._pid != os.getpid():
            self._handle = require("h5py").File(self.path, "r")
            self._pid = os.getpid()
        return self._handle

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int):
        f = self._file()
        i = int(self.indices[index])
        rgb = np.ascontiguousarray(np.asarray(f["images"][i]).transpose(2, 1, 0)).astype(np.uint8)
        depth = np.ascontiguousarray(np.asarray(f[self.depth_key][i], dtype=np.float32).T)
        return rgb, depth

    def close(self) -> None:
        """Close the HDF5 file (it reopens on the next read)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _read_mat_vector(path: Path, key: str) -> np.ndarray:
    """A 1-D integer vector from a MATLAB file, v5 (scipy) or v7.3 (h5py)."""
    try:
        from scipy.io import loadmat

        data = loadmat(str(path))
        if key not in data:
            raise DataFormatError(f"{path}: no '{key}'")
        return np.asarray(data[key]).astype(np.int64).ravel()
    except NotImplementedError:  # scipy refuses v7.3 files: they are HDF5
        with require("h5py").File(path, "r") as f:
            if key not in f:
                raise DataFormatError(f"{path}: no '{key}'") from None
            return np.asarray(f[key]).astype(np.int64).ravel()


class PairedFiles(DepthDataset):
    """A list of (rgb file, depth PNG) pairs with a PNG scale; the base of the folder readers."""

    def __init__(self, pairs: Sequence[tuple[Path, Path]], scale: float, source: Path):
        if not pairs:
            raise UsageError(f"no RGB/depth pairs found in {source}")
        self.pairs = list(pairs)
        self.scale = float(scale)
        self.source = source

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int):
        rgb_path, depth_path = self.pairs[index]
        rgb = read_rgb(rgb_path)
        if depth_path.suffix == ".npy":
            depth = np.load(depth_path, allow_pickle=False).astype(np.float32)
        else:
            depth = read_depth_png(depth_path, self.scale)
        if depth.shape != rgb.shape[:2]:
            raise DataFormatError(f"{depth_path}: depth {depth.shape} does not match image {rgb.shape[:2]}")
        return rgb, depth


class NYUDepthV2Folder(PairedFiles):
    """NYU Depth v2 extracted to PNGs in the common layout (BTS/AdaBins ``official_splits``).

    Every ``sync_depth_XXXXX.png`` (uint16 millimetres) found below ``root``
    pairs with ``rgb_XXXXX.jpg`` (or ``.png``) in the same folder, e.g.
    ``official_splits/test/bathroom/rgb_00045.jpg`` + ``sync_depth_00045.png``.
    """

    name = "nyu"
    max_depth = 10.0
    crop = NYU_EIGEN_CROP

    def __init__(self, root, scale: float = NYU_PNG_SCALE):
        root = _require_path(root, "NYU folder", "dir")
        pairs = []
        for depth_path in sorted(root.rglob("sync_depth_*.png")):
            number = depth_path.stem[len("sync_depth_"):]
            rgb = _first_existing(depth_path.with_name(f"rgb_{number}{ext}") for ext in (".jpg", ".png"))
            if rgb is not None:
                pairs.append((rgb, depth_path))
        super().__init__(pairs, scale, root)


def _first_existing(paths) -> Optional[Path]:
    for p in paths:
        if p.is_file():
            return p
    return None


# ----------------------------------------------------------------------------- KITTI


class KITTIEigen(PairedFiles):
    """KITTI with the annotated depth maps of the KITTI depth benchmark (uint16 PNG, metres * 256).

    Two ways to say which frames:

    * a split file (e.g. the Eigen test list ``eigen_test_files_with_gt.txt``):
      lines ``RGB_PATH GT_PATH [FOCAL]``, RGB relative to ``root`` and GT to
      ``gt_root`` (both default to the list's folder); lines whose GT is
      ``None`` (frames without annotation) are skipped;
    * a folder: every ``<drive>/proj_depth/groundtruth/image_0X/<frame>.png``
      below it pairs with ``<date>/<drive>/image_0X/data/<frame>.png`` (or
      ``<drive>/image_0X/data/<frame>.png``) under ``root`` (default the same folder).

    Evaluation protocol: Garg crop, 1e-3..80 m.
    """

    name = "kitti"
    max_depth = 80.0
    crop = KITTI_GARG_CROP

    def __init__(self, path, root=None, gt_root=None, scale: float = KITTI_PNG_SCALE):
        path = _require_path(path, "KITTI split file or folder")
        if path.is_file():
            pairs = self._pairs_from_list(path, Path(root or path.parent), Path(gt_root or root or path.parent))
        else:
            pairs = self._pairs_from_folder(path, Path(root or path))
        super().__init__(pairs, scale, path)

    @staticmethod
    def _pairs_from_list(list_file: Path, root: Path, gt_root: Path):
        pairs = []
        for number, line in enumerate(list_file.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise DataFormatError(f"{list_file}:{number}: expected 'RGB_PATH GT_PATH [FOCAL]'")
            if fields[1] == "None":
                continue
            rgb, gt = root / fields[0], gt_root / fields[1]
            for p in (rgb, gt):
                if not p.is_file():
                    raise UsageError(f"{list_file}:{number}: file not found: {p}")
            pairs.append((rgb, gt))
        return pairs

    @staticmethod
    def _pairs_from_folder(folder: Path, root: Path):
        pairs = []
        for gt in sorted(folder.rglob("proj_depth/groundtruth/image_0*/*.png")):
            camera, drive = gt.parent.name, gt.parents[3].name
            candidates = [root / drive[:10] / drive / camera / "data" / gt.name,
                          root / drive / camera / "data" / gt.name]
            rgb = _first_existing(candidates)
            if rgb is not None:
                pairs.append((rgb, gt))
        return pairs


# ----------------------------------------------------------------------------- generic folder


class DepthFolder(PairedFiles):
    """A folder of RGB images and 16-bit depth PNGs (millimetres by default) or ``.npy`` metres.

    Layouts, tried in order:

    * sub-folders ``rgb/`` (or ``color``, ``image``, ``images``) and ``depth/``
      (or ``depths``), files matched by name without extension;
    * one folder with ``NAME_depth.png`` (or ``.npy``) beside ``NAME_rgb.*``,
      ``NAME_color.*`` or ``NAME.*``.

    Args:
        root: the folder.
        scale: PNG units per metre (1000 = millimetres); ignored for ``.npy``.
    """

    name = "folder"

    def __init__(self, root, scale: float = 1000.0):
        root = _require_path(root, "depth folder", "dir")
        pairs = self._subfolder_pairs(root) or self._flat_pairs(root)
        super().__init__(pairs, scale, root)

    @staticmethod
    def _subfolder_pairs(root: Path):
        rgb_dir = _first_existing_dir(root / n for n in ("rgb", "color", "colour", "image", "images"))
        depth_dir = _first_existing_dir(root / n for n in ("depth", "depths"))
        if rgb_dir is None or depth_dir is None:
            return []
        return pair_by_stem(rgb_dir, depth_dir, (".png", ".npy"))

    @staticmethod
    def _flat_pairs(root: Path):
        pairs = []
        for depth in sorted(list(root.glob("*_depth.png")) + list(root.glob("*_depth.npy"))):
            prefix = depth.name[: -len("_depth") - len(depth.suffix)]
            rgb = _first_existing(root / f"{prefix}{tag}{ext}" for tag in ("_rgb", "_color", "")
                                  for ext in IMAGE_SUFFIXES)
            if rgb is not None:
                pairs.append((rgb, depth))
        return pairs


def pair_by_stem(image_dir: Path, target_dir: Path, suffixes: Sequence[str]) -> list[tuple[Path, Path]]:
    """(image, target) pairs of two folders matched by file name without extension, sorted by image.

    Args:
        image_dir: folder of images (any of ``IMAGE_SUFFIXES``).
        target_dir: folder of ground-truth files.
        suffixes: the ground-truth file extensions accepted (lower case, with the dot).
    """
    by_stem = {p.stem: p for p in target_dir.iterdir() if p.suffix.lower() in suffixes}
    return [(p, by_stem[p.stem]) for p in sorted(image_dir.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in by_stem]


def _first_existing_dir(paths) -> Optional[Path]:
    for p in paths:
        if p.is_dir():
            return p
    return None

