"""The interface every inference backend implements (numpy in, numpy out)."""

from __future__ import annotations

import abc
from typing import Optional

import numpy as np

from ..errors import XnetEdgeError
from .spec import TensorSpec, primary_output
from .timing import HookList


class Backend(abc.ABC):
    """One loaded network that maps a (N, 3, H, W) float32 batch to its primary output.

    Subclasses set ``inputs`` and ``outputs`` (lists of :class:`TensorSpec`) in
    ``__init__`` and implement :meth:`run`. Backends are not thread-safe: one
    Runtime drives one backend from one thread.
    """

    #: short name shown in summaries ("onnxruntime", "tensorrt", "torch")
    name = "backend"

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @property
    def input(self) -> TensorSpec:
        """The image input ("image" by the ONNX contract)."""
        for spec in self.inputs:
            if spec.name == "image":
                return spec
        if len(self.inputs) != 1:
            raise XnetEdgeError(f"expected one image input, the model has {[s.name for s in self.inputs]}")
        return self.inputs[0]

    @property
    def output(self) -> TensorSpec:
        """The primary output ("depth", else "logits", else the first)."""
        return primary_output(self.outputs)

    def network_size(self) -> Optional[tuple[int, int]]:
        """(H, W) fixed by the model, or None when H/W are dynamic."""
        shape = self.input.shape
        if len(shape) != 4:
            raise XnetEdgeError(f"input {self.input.name!r} has shape {shape}; expected (N, 3, H, W)")
        h, w = shape[2], shape[3]
        return (h, w) if h > 0 and w > 0 else None

    def batch_range(self) -> tuple[int, Optional[int]]:
        """(smallest, largest) batch the model accepts; largest None means unbounded."""
        n = self.input.shape[0]
        return (n, n) if n > 0 else (1, None)

    def contract_parts(self) -> dict:
        """The contract blocks the artifact itself carries (ONNX metadata, checkpoint config):
        ``{"preprocessing", "output", "config", "quantization"}`` as dicts, or {} when it carries none
        (see :func:`xnet_edge.contract.contract_from_parts`)."""
        return {}

    def check_input_size(self, height: int, width: int) -> None:
        """Raise UsageError if the model cannot take a (height, width) input (default: no limit)."""

    @abc.abstractmethod
    def run(self, batch: np.ndarray, hooks: HookList) -> np.ndarray:
        """Run one batch.

        Args:
            batch: (N, 3, H, W) float32, N inside :meth:`batch_range`.
            hooks: where to report "h2d", "enqueue", "compute", "d2h" timings.

        Returns:
            The primary output, (N, C, H, W) as a host numpy array the caller may keep.
        """

    def describe(self) -> dict:
        """Settings worth printing in a summary or benchmark report."""
        return {"backend": self.name}

    def close(self) -> None:
        """Release the backend's resources (idempotent)."""
