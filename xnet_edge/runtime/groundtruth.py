"""Depth metrics of streamed predictions against ground truth (``xnet-edge infer --gt``).

Ground truth is read with :mod:`xnet_edge.data` readers and scored with
:func:`xnet_edge.eval.depth_metrics`; nothing here imports torch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UsageError, XnetEdgeError
from ..preprocess import resize_bilinear

#: alignments reported side by side: metric depth as predicted, and median-scaled
ALIGNMENTS = (None, "median")
_GT_SUFFIXES = (".npy", ".png", ".pfm")
_GT_NAME_TAILS = ("", "_depth", "_gt", "_depth_gt")


def load_ground_truth(path: str | Path) -> np.ndarray:
    """Read a ground-truth depth map as float32 metres (0 or non-finite = unknown).

    Args:
        path: ``.npy`` (metres), 16-bit ``.png`` (millimetres), a Middlebury disparity ``.pfm``
            with ``calib.txt`` in the same folder, or a Middlebury scene folder.

    Raises:
        UsageError: missing file, unknown type, or a ``.pfm`` without ``calib.txt``.
        XnetEdgeError: the file is unreadable or has the wrong layout.
    """
    from ..data import read_depth_png, read_middlebury_scene, read_pfm
    from ..data.formats import disparity_to_depth, read_middlebury_calib

    path = Path(path)
    if path.is_dir():
        return read_middlebury_scene(path)[1]
    if not path.is_file():
        raise UsageError(f"ground truth not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise XnetEdgeError(f"cannot read {path}: {exc}") from None
    elif suffix == ".png":
        depth = read_depth_png(path, scale=1000.0)
    elif suffix == ".pfm":
        calib_path = path.parent / "calib.txt"
        if not calib_path.is_file():
            raise UsageError(f"{path} is a disparity map: put Middlebury's calib.txt beside it to get depth")
        calib = read_middlebury_calib(calib_path)
        depth = disparity_to_depth(read_pfm(path), float(calib["cam0"][0, 0]), float(calib["baseline"]),
                                   float(calib["doffs"]))
    else:
        raise UsageError(f"unknown ground-truth type {path.name}: use .npy (m), 16-bit .png (mm) or .pfm + calib.txt")
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise XnetEdgeError(f"{path}: ground truth must be a single-channel HxW map, got shape {depth.shape}")
    return depth


def find_ground_truth(folder: Path, stem: str) -> Optional[Path]:
    """``folder/<stem>[_depth|_gt].{npy,png,pfm}`` if one exists."""
    for tail in _GT_NAME_TAILS:
        for suffix in _GT_SUFFIXES:
            candidate = folder / f"{stem}{tail}{suffix}"
            if candidate.is_file():
                return candidate
    return None


class GroundTruthScorer:
    """Collects depth metrics of each frame against its ground truth.

    Args:
        spec: one ground-truth file / Middlebury scene (for a single input image), or a folder
            of files named after the input frames.
        single_input: whether the input is exactly one image.
        max_depth: evaluation cap in metres (the model's range); None for no cap.

    Raises:
        UsageError: a single ground-truth file for several inputs, or an unreadable path.
    """

    def __init__(self, spec: str | Path, single_input: bool, max_depth: Optional[float] = None):
        path = Path(spec)
        if not path.exists():
            raise UsageError(f"ground truth not found: {path}")
        self.max_depth = max_depth
        self._folder = path if path.is_dir() and not (path / "calib.txt").is_file() else None
        self._single = None
        if self._folder is None:
            if not single_input:
                raise UsageError("--gt FILE scores one input image; for several frames pass a folder of "
                                 "ground-truth files named after them (<stem>.npy / <stem>.png / <stem>.pfm)")
            self._single = load_ground_truth(path)
        self.alignments: tuple[Optional[str], ...] = ALIGNMENTS
        self.per_frame: dict[Optional[str], list[dict]] = {a: [] for a in ALIGNMENTS}
        self.missing: list[str] = []
        self._lock = threading.Lock()

    def set_model(self, max_depth: Optional[float], output_kind: str = "metric-depth") -> None:
        """The model's range and output kind: metric depth is scored as predicted and median-scaled,
        other depth kinds with their standard alignment only (:func:`xnet_edge.eval.report_alignments`)."""
        from ..eval import report_alignments

        self.max_depth = max_depth
        self.alignments = report_alignments(output_kind)
        self.per_frame = {a: [] for a in self.alignments}

    def add(self, stem: str, depth: np.ndarray) -> None:
        """Score one prediction (resized to the ground truth's size if they differ)."""
        from ..eval import depth_metrics

        gt = self._single
        if gt is None:
            found = find_ground_truth(self._folder, stem)
            if found is None:
                with self._lock:
                    self.missing.append(stem)
                return
            gt = load_ground_truth(found)
        pred = depth if depth.shape == gt.shape else resize_bilinear(depth, gt.shape)
        scores = {a: depth_metrics(pred, gt, max_depth=self.max_depth, align=a) for a in self.alignments}
        with self._lock:
            for align, values in scores.items():
                if np.isfinite(values["abs_rel"]):
                    self.per_frame[align].append(values)

    def report(self) -> dict:
        """Mean metrics per alignment, frames scored and frames without ground truth."""
        from ..eval import mean_metrics

        return {"frames": len(self.per_frame[self.alignments[0]]), "missing_ground_truth": list(self.missing),
                "max_depth": self.max_depth,
                "metrics": {(a or "none"): mean_metrics(self.per_frame[a]) for a in self.alignments}}
