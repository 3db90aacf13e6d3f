"""Training data: scenes held as arrays (RGB uint8, depth float32, labels uint8), cached on disk.

A data spec is ``synthetic:N`` (N generated scenes, seeded) or any
``KIND:PATH`` that :func:`xnet_edge.data.open_dataset` reads. Scenes are
brought to one size (cover-resize, centre-crop) so that batches are plain
array slices; the cache is ``.npy`` files opened as memory maps, so
generating or decoding happens once per run, not once per epoch. Generated
scenes also carry their semantic labels (for segmentation training).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

import numpy as np

from ..errors import UsageError
from ..io_utils import atomic_dir

CACHE_VERSION = 1


@dataclass
class SceneSet:
    """Equal-sized scenes: ``rgb`` (N, H, W, 3) uint8, ``depth`` (N, H, W) float32 metres and,
    when the data has them, ``labels`` (N, H, W) uint8 class ids (255 = ignore)."""

    rgb: np.ndarray
    depth: np.ndarray
    spec: str
    labels: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.rgb.ndim != 4 or self.rgb.shape[-1] != 3 or self.depth.shape != self.rgb.shape[:3]:
            raise UsageError(f"scene arrays do not match: rgb {self.rgb.shape}, depth {self.depth.shape}")
        if self.labels is not None and self.labels.shape != self.depth.shape:
            raise UsageError(f"scene labels {self.labels.shape} do not match depth {self.depth.shape}")

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[2])


def parse_data_spec(spec: str) -> tuple[str, str]:
    """Split a data spec into (kind, rest) and check it.

    ``synthetic:N`` (N a positive integer) is generated here with the run's seed and
    scene size; every other spec (including ``synthetic:N?seed=..``) goes to
    :func:`xnet_edge.data.open_dataset`, whose parser checks it.

    Raises:
        UsageError: a bad scene count, an unknown kind or malformed options.
    """
    kind, _, rest = str(spec).strip().partition(":")
    if kind == "synthetic" and "?" not in rest:
        if not rest.isdigit() or int(rest) <= 0:
            raise UsageError(f"bad data spec {spec!r}: synthetic takes a positive scene count, "
                             "e.g. synthetic:2000")
        return kind, rest
    from ..data import parse_dataset_spec

    kind, path, _ = parse_dataset_spec(spec)
    return kind, path


def _is_generated(spec: str) -> bool:
    kind, _, rest = str(spec).strip().partition(":")
    return kind == "synthetic" and rest.isdigit()


def fit_scene(rgb: np.ndarray, depth: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize (keeping aspect, covering ``size``) and centre-crop one scene to ``size``.

    RGB is resized with area/linear filtering; depth with nearest neighbour so
    that invalid pixels and edges are not blended.
    """
    import cv2

    h, w = depth.shape[:2]
    th, tw = size
    if (h, w) != (th, tw):
        scale = max(th / h, tw / w)
        nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(np.ascontiguousarray(rgb), (nw, nh), interpolation=interp)
        depth = cv2.resize(np.ascontiguousarray(depth, dtype=np.float32), (nw, nh),
                           interpolation=cv2.INTER_NEAREST)
        top, left = (nh - th) // 2, (nw - tw) // 2
        rgb, depth = rgb[top:top + th, left:left + tw], depth[top:top + th, left:left + tw]
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
    return np.ascontiguousarray(rgb, dtype=np.uint8), depth


def _samples(spec: str, size: tuple[int, int], seed: int) -> tuple[Iterator[tuple], Optional[int]]:
    """(rgb, depth, labels or None) samples of a spec, and their count when known."""
    kind, rest = parse_data_spec(spec)
    if _is_generated(spec):
        from ..data import synthetic

        count = int(rest)
        scenes = synthetic.generate_scenes(count, size=size, seed=seed)
        return ((s.rgb, s.depth, s.labels) for s in scenes), count
    from ..data import open_dataset

    dataset = open_dataset(spec)
    total = len(dataset) if hasattr(dataset, "__len__") else None
    return ((rgb, depth, None) for rgb, depth in dataset), total  # readers yield (rgb uint8, depth metres)


def cache_key(spec: str, size: tuple[int, int], seed: int, limit: Optional[int]) -> str:
    """File-system-safe name of a cache folder for these arguments."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)[-80:]
    return f"{safe}_{size[0]}x{size[1]}_seed{seed}" + (f"_n{limit}" if limit else "")


def generator_fingerprint() -> str:
    """sha256 over the scene generator's source files: a changed generator invalidates caches."""
    import hashlib

    from ..data import synthetic

    h = hashlib.sha256()
    folder = Path(synthetic.__file__).parent
    for name in sorted(synthetic.GENERATOR_FILES):
        h.update(name.encode() + (folder / name).read_bytes())
    return h.hexdigest()


def _cache_is_current(folder: Path, source: Optional[str]) -> bool:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("version") == CACHE_VERSION and meta.get("generator") == source


def build_scene_set(spec: str, size: tuple[int, int], seed: int = 0, *, limit: Optional[int] = None,
                    cache_dir: Optional[Union[str, os.PathLike]] = None, progress: bool = True,
                    labels: bool = False, generator: Optional[str] = None) -> SceneSet:
    """Load (or build and cache) the scenes a data spec names, all at ``size``.

    Args:
        spec: ``synthetic:N`` or ``KIND:PATH``.
        size: (H, W) every scene is brought to.
        seed: generator seed (synthetic scenes only).
        limit: keep at most this many scenes.
        cache_dir: folder for the ``.npy`` cache; None keeps the scenes in memory only. A cache
            of generated scenes is rebuilt when the generator's source has changed.
        progress: show a tqdm bar while building.
        labels: the scenes' semantic labels are needed (segmentation training); generated
            scenes have them (an older cache without them is rebuilt).
        generator: for generated scenes, the generator fingerprint the scenes must come from
            (a resumed run passes the one it started with); None: the current generator's.

    Returns:
        A :class:`SceneSet` (memory-mapped when cached).

    Raises:
        UsageError: a bad spec, an empty dataset, or ``labels`` for data without labels.
    """
    if labels and not _is_generated(spec):
        raise UsageError(f"data {spec!r} has no semantic labels; segmentation training reads the labels of "
                         "generated scenes (synthetic:N)")
    folder = Path(cache_dir) / cache_key(spec, size, seed, limit) if cache_dir else None
    source = (generator or generator_fingerprint()) if _is_generated(spec) else None
    stored = folder / "labels.npy" if folder is not None else None
    if folder is not None and _cache_is_current(folder, source) and (stored.exists() or not labels):
        return SceneSet(np.load(folder / "rgb.npy", mmap_mode="r"), np.load(folder / "depth.npy", mmap_mode="r"),
                        spec, np.load(stored, mmap_mode="r") if stored.exists() else None)
    if source is not None and source != generator_fingerprint():
        raise UsageError(f"the scenes of {spec!r} came from another version of the scene generator and their "
                         f"cache is not in {cache_dir}; this run cannot continue on the same scenes")
    rgb, depth, classes = _collect(spec, size, seed, limit, progress)
    if folder is None:
        return SceneSet(rgb, depth, spec, classes)
    with atomic_dir(folder) as tmp:
        np.save(tmp / "rgb.npy", rgb)
        np.save(tmp / "depth.npy", depth)
        if classes is not None:
            np.save(tmp / "labels.npy", classes)
        meta = {"spec": spec, "size": list(size), "seed": seed, "limit": limit, "count": len(rgb),
                "version": CACHE_VERSION, "generator": source}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return build_scene_set(spec, size, seed, limit=limit, cache_dir=cache_dir, progress=False)


def _collect(spec: str, size: tuple[int, int], seed: int, limit: Optional[int],
             progress: bool) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    from tqdm.auto import tqdm

    samples, total = _samples(spec, size, seed)
    if limit is not None:
        total = min(total, limit) if total is not None else limit
    rgbs, depths, labels = [], [], []
    bar = tqdm(samples, total=total, desc=f"scenes {spec}", unit="scene", disable=not progress)
    for rgb, depth, classes in bar:
        r, d = fit_scene(np.asarray(rgb), np.asarray(depth, dtype=np.float32), size)
        rgbs.append(r)
        depths.append(d)
        if classes is not None:
            if classes.shape != d.shape:  # generated scenes are rendered at ``size``
                raise UsageError(f"labels of {spec!r} are {classes.shape}, not the scene size {d.shape}")
            labels.append(np.asarray(classes, dtype=np.uint8))
        if limit is not None and len(rgbs) >= limit:
            break
    bar.close()
    if not rgbs:
        raise UsageError(f"data spec {spec!r} yielded no scenes")
    return np.stack(rgbs), np.stack(depths), (np.stack(labels) if len(labels) == len(rgbs) else None)


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The scene order of one epoch: a permutation that depends only on (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def iter_batches(order: np.ndarray, batch_size: int, rank: int = 0, world: int = 1) -> Iterable[np.ndarray]:
    """Full batches of this rank's share of ``order`` (the incomplete tail is dropped)."""
    per_step = batch_size * world
    for start in range(0, len(order) - per_step + 1, per_step):
        yield order[start + rank * batch_size: start + (rank + 1) * batch_size]
