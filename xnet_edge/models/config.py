"""Model configuration: everything needed to rebuild a ×Net (stored in checkpoints and ONNX metadata)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import UsageError

TASKS = ("depth", "segmentation")


@dataclass
class XNetConfig:
    """Configuration of one ×Net variant.

    Attributes:
        name: registered variant name.
        encoder: timm architecture of the encoder (``features_only=True``).
        decoder: timm classification architecture run in reverse as the decoder.
        task: "depth" or "segmentation".
        max_depth: depth head range in metres (10 indoor, 80 outdoor).
        num_classes: segmentation classes.
        pyramid_width: common width of the Post Feature Pyramid.
        bridge_norm: "auto" (the decoder family's), "layernorm", "batchnorm" or "none".
        bridge_act: "auto" (the decoder family's activation) or an activation name.
        use_image: mix the pooled image into every bridge.
        input_size: default network input (H, W).
        mean, std: input normalization; None takes the encoder's pretrained config.
    """

    name: str
    encoder: str
    decoder: str
    task: str = "depth"
    max_depth: float = 10.0
    num_classes: int = 40
    pyramid_width: int = 64
    bridge_norm: str = "auto"
    bridge_act: str = "auto"
    use_image: bool = True
    input_size: tuple[int, int] = (256, 320)
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise UsageError(f"unknown task {self.task!r}; choose one of: {', '.join(TASKS)}")
        if self.max_depth <= 0:
            raise UsageError(f"max_depth must be positive, got {self.max_depth}")
        self.input_size = tuple(int(v) for v in self.input_size)
        if self.mean is not None:
            self.mean = tuple(float(v) for v in self.mean)
        if self.std is not None:
            self.std = tuple(float(v) for v in self.std)

    def replace(self, **overrides) -> "XNetConfig":
        """Return a copy with ``overrides`` applied; unknown keys raise UsageError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise UsageError(f"unknown model option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        for key in ("input_size", "mean", "std"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "XNetConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise UsageError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UsageError(f"unknown config key(s): {', '.join(unknown)}")
        return cls(**data)
