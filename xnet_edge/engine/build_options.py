"""``BuildOptions``: what the user asked of one engine build, checked once, handed to every layer.

``xnet-edge build`` and ``xnet-edge bundle`` make one from their arguments
(:func:`xnet_edge.cli.common.build_options`); :func:`~.build.build_engine` and
:func:`~.bundle.make_bundle` take it and hand it to the plan functions of :mod:`.plan`,
which turn it into a :class:`~.plan.TrtBuildPlan` or :class:`~.plan.CpuBuildPlan` (the
decisions, as data). Each value is checked here on its own; whether it fits the target
(DLA cores, the precisions a target runs, the range of ``opt_level`` per backend) is decided
by the plan. Messages name the command-line flag, which is also how the docs spell them.

Standard library only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from .._options import OptionsMixin, whole_number
from ..errors import UsageError
from ..limits import check_threads
from ..targets import PRECISIONS, TargetProfile

PathLike = Union[str, "os.PathLike[str]"]


def _flag(name: str, tensorrt_only: bool = False, default: Any = None) -> Any:
    return field(default=default, metadata={"flag": name, "tensorrt_only": tensorrt_only})


@dataclass(frozen=True)
class BuildOptions(OptionsMixin):
    """The options of an engine build (all optional; the defaults follow the model and target).

    Attributes:
        precision: ``fp32``, ``fp16``, ``int8`` or ``best``; None (or ``"auto"``) follows the model
            (a Q/DQ model builds INT8, an FP16 model FP16) and then the target's default.
        dla: DLA core to run on with GPU fallback (Jetson targets with DLA); None: the GPU.
        workspace_mb: TensorRT workspace limit in MiB; None: the target's default.
        timing_cache: TensorRT timing cache file, loaded if present and saved after the build;
            None: a per-user cache keyed by TensorRT version and GPU. ``build_engine`` only.
        opt_level: TensorRT builder optimization level 0-5, or for the cpu target the ONNX Runtime
            level 0-3 (default 2, extended); None: the backend's default.
        calibration_cache: TensorRT calibration cache for legacy INT8 of an FP32 model (TensorRT 8/10).
        calibration_images: a folder, glob or list of image files to calibrate legacy INT8 on
            (TensorRT 10, IInt8EntropyCalibrator2). ``build_engine`` only.
        max_batch: largest batch of the optimization profile of a dynamic-batch model; None: the
            target's.
        threads: cpu target: ONNX Runtime intra-op threads recorded for the runtime (0: its default).

    Raises:
        UsageError: an unknown precision, a negative DLA core, a workspace or max batch below 1,
            a negative opt level, too many threads, or both calibration inputs.

    Example::

        build_engine("model.onnx", "jetson-orin-nx", "engine/", BuildOptions(precision="fp16", dla=0))
    """

    precision: Optional[str] = _flag("--precision")
    dla: Optional[int] = _flag("--dla", tensorrt_only=True)
    workspace_mb: Optional[int] = _flag("--workspace", tensorrt_only=True)
    timing_cache: Optional[PathLike] = _flag("--timing-cache", tensorrt_only=True)
    opt_level: Optional[int] = _flag("--opt-level")
    calibration_cache: Optional[PathLike] = _flag("--calibration-cache", tensorrt_only=True)
    calibration_images: Optional[Union[PathLike, Sequence[PathLike]]] = _flag("--calibration-images",
                                                                              tensorrt_only=True)
    max_batch: Optional[int] = _flag("--max-batch", tensorrt_only=True)
    threads: int = _flag("--threads", default=0)

    def __post_init__(self) -> None:
        precision = None if self.precision in (None, "", "auto") else self.precision
        if precision is not None and precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self._set("precision", precision)
        if self.dla is not None:
            self._set("dla", whole_number(self.dla, "--dla", 0))
        if self.workspace_mb is not None:
            self._set("workspace_mb", _positive(self.workspace_mb, "--workspace must be a positive number of MiB"))
        if self.opt_level is not None:
            self._set("opt_level", whole_number(self.opt_level, "--opt-level", 0))
        if self.max_batch is not None:
            self._set("max_batch", _positive(self.max_batch, "--max-batch must be at least 1"))
        self._set("threads", check_threads(self.threads, "--threads"))
        if self.calibration_cache is not None and self.calibration_images is not None:
            raise UsageError("pass either --calibration-cache or --calibration-images, not both")
        for name in ("timing_cache", "calibration_cache"):
            if getattr(self, name) is not None:
                self._set(name, Path(getattr(self, name)))
        images = self.calibration_images
        if images is not None and not isinstance(images, (str, os.PathLike)):
            self._set("calibration_images", tuple(images))

    @property
    def calibration(self) -> Optional[str]:
        """Where legacy INT8 scales would come from: ``"cache"``, ``"calibrator"`` (images) or None."""
        if self.calibration_cache is not None:
            return "cache"
        return "calibrator" if self.calibration_images is not None else None

    def check_files(self) -> None:
        """Refuse a calibration cache that is not a file (before any work starts).

        Raises:
            UsageError: naming the path.
        """
        if self.calibration_cache is not None and not Path(self.calibration_cache).is_file():
            raise UsageError(f"calibration cache not found: {self.calibration_cache}")

    def check_target(self, target: TargetProfile, **more_tensorrt_only: Any) -> None:
        """Refuse TensorRT-only options for the cpu target, naming every one given.

        Args:
            target: the build's target.
            **more_tensorrt_only: further TensorRT-only flags of the caller (``tensorrt=`` of a
                bundle), None when not given.

        Raises:
            UsageError: ``--dla, --workspace apply to TensorRT targets only; ...``.
        """
        given = [f.metadata["flag"] for f in fields(self)
                 if f.metadata["tensorrt_only"] and getattr(self, f.name) is not None]
        given += [f"--{name.replace('_', '-')}" for name, value in more_tensorrt_only.items() if value is not None]
        if not target.is_gpu and given:
            many = len(given) > 1
            raise UsageError(f"{', '.join(given)} appl{'y' if many else 'ies'} to TensorRT targets only; "
                             f"target {target.name} builds an optimized ONNX, drop {'them' if many else 'it'}")


def _positive(value: Any, message: str) -> int:
    try:
        return whole_number(value, message.split(" must")[0], 1)
    except UsageError:
        raise UsageError(f"{message}, got {value!r}") from None


__all__ = ["BuildOptions"]
