"""Plain descriptions shared by every backend: tensor specs and the preprocessing contract.

Pure Python + numpy; no backend library is imported here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..errors import UsageError, XnetEdgeError

#: Names the ONNX contract gives the primary output, in order of preference.
PRIMARY_OUTPUTS = ("depth", "logits")

_RESIZE_MODES = ("letterbox",)
_PAD_MODES = ("bottom-right",)


@dataclass(frozen=True)
class TensorSpec:
    """One network input or output.

    Attributes:
        name: tensor name ("image", "depth", ...).
        shape: dimensions; -1 marks a dynamic one.
        dtype: numpy dtype of the tensor.
        is_input: True for inputs.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    is_input: bool = True

    @property
    def is_dynamic(self) -> bool:
        """True if any dimension is dynamic."""
        return any(d < 0 for d in self.shape)


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


def primary_output(outputs: Sequence[TensorSpec]) -> TensorSpec:
    """The output a Runtime returns: "depth", else "logits", else the first one."""
    by_name = {o.name: o for o in outputs}
    for name in PRIMARY_OUTPUTS:
        if name in by_name:
            return by_name[name]
    if not outputs:
        raise XnetEdgeError("the model has no outputs")
    return outputs[0]


@dataclass(frozen=True)
class Preprocessing:
    """How images become network inputs (the ``"xnet_edge.preprocessing"`` contract).

    Attributes:
        input_size: network input (H, W).
        mean, std: per-channel normalization in 0..1 units.
        resize: only "letterbox" (keep aspect, fit inside the input).
        pad: only "bottom-right".
    """

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "letterbox"
    pad: str = "bottom-right"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "preprocessing") -> "Preprocessing":
        """Build from the contract's dict, checking every field.

        Raises:
            XnetEdgeError: a field is missing or has a value this runtime cannot honour.
        """
        try:
            size = tuple(int(v) for v in data["input_size"])
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise XnetEdgeError(f"{where}: needs input_size [H, W], mean [3] and std [3] ({exc!r})") from None
        if len(size) != 2 or min(size) <= 0 or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise XnetEdgeError(f"{where}: bad values input_size={size} mean={mean} std={std}")
        resize, pad = data.get("resize", "letterbox"), data.get("pad", "bottom-right")
        if resize not in _RESIZE_MODES or pad not in _PAD_MODES:
            raise XnetEdgeError(f"{where}: resize={resize!r} pad={pad!r} is not supported; this runtime "
                                f"does resize={_RESIZE_MODES[0]!r} with pad={_PAD_MODES[0]!r}")
        return cls(size, mean, std, resize, pad)

    @classmethod
    def from_json(cls, text: str, where: str = "preprocessing") -> "Preprocessing":
        """Parse the JSON string stored in ONNX metadata."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise XnetEdgeError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise XnetEdgeError(f"{where}: expected a JSON object")
        return cls.from_dict(data, where)

    def with_input_size(self, size: Optional[Sequence[int]]) -> "Preprocessing":
        """A copy with another network input size (None keeps this one)."""
        if size is None:
            return self
        hw = tuple(int(v) for v in size)
        if len(hw) != 2 or min(hw) <= 0:
            raise UsageError(f"input size must be (H, W) with positive values, got {size!r}")
        return Preprocessing(hw, self.mean, self.std, self.resize, self.pad)

    def to_dict(self) -> dict:
        """The contract's JSON-friendly dict."""
        return {"input_size": list(self.input_size), "mean": list(self.mean), "std": list(self.std),
                "resize": self.resize, "pad": self.pad}
