"""Shape helpers shared by every backend. The tensor specs, the preprocessing block and the
choice of the primary output belong to :mod:`xnet_edge.contract` and are re-exported here.

Pure Python + numpy; no backend library is imported here.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..contract import Preprocessing, TensorSpec, primary_output
from ..errors import XnetEdgeError

__all__ = ["Preprocessing", "TensorSpec", "nbytes", "normalize_shape", "primary_output", "volume"]


def normalize_shape(dims: Sequence[Any]) -> tuple[int, ...]:
    """Turn a shape with symbolic/None/negative dims (ONNX, TensorRT) into ints with -1 for dynamic."""
    out = []
    for d in dims:
        try:
            value = int(d)
        except (TypeError, ValueError):
            value = -1
        out.append(value if value >= 0 else -1)
    return tuple(out)


def volume(shape: Sequence[int]) -> int:
    """Number of elements of a fully known shape.

    Raises:
        XnetEdgeError: a dimension is still dynamic.
    """
    if any(int(d) < 0 for d in shape):
        raise XnetEdgeError(f"shape {tuple(shape)} still has dynamic dimensions")
    return int(math.prod(int(d) for d in shape))


def nbytes(shape: Sequence[int], dtype: Any) -> int:
    """Bytes needed for a tensor of ``shape`` and ``dtype``."""
    return volume(shape) * np.dtype(dtype).itemsize
