"""What differs between the TensorRT releases xnet-edge builds for, as data.

The build plan (:mod:`.plan`), the trtexec script (:mod:`.trtexec_script`) and the tests
read these rows instead of comparing version numbers in code. ``source`` says how
each row is known: nothing here has run on a GPU or a real TensorRT.

* 8.5 (JetPack 5): trtexec builds (``--buildOnly``); no strongly typed networks, no
  builder optimization level; implicit INT8 with a calibration cache.
* 8.6 (JetPack 6.0): as 8.5, plus the optimization level; trtexec ``--skipInference``.
* 10.3 (JetPack 6.1/6.2) and other 10.x: xnet-edge's Python builder; ``STRONGLY_TYPED``
  network flag; FP16/INT8 builder flags; ``IInt8EntropyCalibrator2`` and
  ``set_calibration_profile``.
* 11.x: every network strongly typed; no FP16/INT8 flags, no implicit INT8, no
  ``set_calibration_profile``.

Strongly typed networks on DLA are not established for 10.x (TensorRT 11.4.1
announces them as new), so a 10.x DLA plan never relies on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class TensorRTRelease:
    """One TensorRT release line and the build features it has.

    Attributes:
        name: ``"8.5"``, ``"8.6"``, ``"10.3"``, ``"10"`` (any other 10.x) or ``"11"``.
        generation: 8, 10 or 11 (see :func:`xnet_edge.targets.trt_generation`).
        python_builder: xnet-edge's own builder (TensorRT >= 10 Python API) runs on it;
            otherwise the build goes through trtexec.
        strongly_typed: ``"no"`` (no such network flag), ``"flag"``
            (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``) or ``"always"`` (every network).
        opt_level: ``IBuilderConfig.builder_optimization_level`` / ``--builderOptimizationLevel``.
        implicit_int8: ``BuilderFlag.INT8`` with an ``IInt8EntropyCalibrator2`` or a calibration cache.
        fp16_flag: ``BuilderFlag.FP16`` (weakly typed precision).
        calibration_profile: ``IBuilderConfig.set_calibration_profile``.
        dla_strongly_typed: a strongly typed network is known to build for DLA.
        trtexec_build_only: the trtexec option that builds without running inference.
        source: how the row is known.
    """

    name: str
    generation: int
    python_builder: bool
    strongly_typed: str
    opt_level: bool
    implicit_int8: bool
    fp16_flag: bool
    calibration_profile: bool
    dla_strongly_typed: bool
    trtexec_build_only: str
    source: str

    @property
    def builder_flags(self) -> tuple[str, ...]:
        """``BuilderFlag`` members a plan for this release may set."""
        flags = ["GPU_FALLBACK"]
        if self.fp16_flag:
            flags.insert(0, "FP16")
        if self.implicit_int8:
            flags.insert(1 if self.fp16_flag else 0, "INT8")
        return tuple(flags)


RELEASES: tuple[TensorRTRelease, ...] = (
    TensorRTRelease("8.5", 8, python_builder=False, strongly_typed="no", opt_level=False, implicit_int8=True,
                    fp16_flag=True, calibration_profile=True, dla_strongly_typed=False,
                    trtexec_build_only="--buildOnly", source="documentation (TensorRT 8.5 API and trtexec help)"),
    TensorRTRelease("8.6", 8, python_builder=False, strongly_typed="no", opt_level=True, implicit_int8=True,
                    fp16_flag=True, calibration_profile=True, dla_strongly_typed=False,
                    trtexec_build_only="--skipInference", source="documentation (TensorRT 8.6 API and trtexec help)"),
    TensorRTRelease("10.3", 10, python_builder=True, strongly_typed="flag", opt_level=True, implicit_int8=True,
                    fp16_flag=True, calibration_profile=True, dla_strongly_typed=False,
                    trtexec_build_only="--skipInference", source="tensorrt-stubs 10.13 and TensorRT 10.3 documentation"),
    TensorRTRelease("10", 10, python_builder=True, strongly_typed="flag", opt_level=True, implicit_int8=True,
                    fp16_flag=True, calibration_profile=True, dla_strongly_typed=False,
                    trtexec_build_only="--skipInference", source="tensorrt-stubs 10.13"),
    TensorRTRelease("11", 11, python_builder=True, strongly_typed="always", opt_level=True, implicit_int8=False,
                    fp16_flag=False, calibration_profile=False, dla_strongly_typed=False,
                    trtexec_build_only="--skipInference", source="documentation (TensorRT 11 migration guide)"),
)

_BY_NAME = {r.name: r for r in RELEASES}
#: what ``--tensorrt`` accepts: a generation (the target's release of it) or a release
TENSORRT_CHOICES = ("8", "8.5", "8.6", "10", "10.3", "11")


def tensorrt_release(version: str | int) -> TensorRTRelease:
    """The release row for a TensorRT version, a release name or a generation.

    ``"8.6.2.3"`` and ``"8.6"`` give 8.6; ``"10.3.0.30"`` gives 10.3; other 10.x (and the
    short-lived 9.x) give ``"10"``; 11 and newer give ``"11"``; a bare ``8`` gives 8.5
    (the older, smaller feature set).

    Raises:
        UsageError: not a version, or older than TensorRT 8.5.
    """
    text = str(version).strip()
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.\d+)*", text)
    if not m:
        raise UsageError(f"bad TensorRT version {version!r}: expected e.g. 8.6, 10.3 or 10")
    major, minor = int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)
    if major == 8 and (minor is None or minor in (5, 6)):
        return _BY_NAME[f"8.{minor or 5}"]
    if major < 8 or major == 8:
        raise UsageError(f"unsupported TensorRT version {text}: xnet-edge needs TensorRT 8.5 or newer")
    if major == 10 and minor == 3:
        return _BY_NAME["10.3"]
    return _BY_NAME["10"] if major in (9, 10) else _BY_NAME["11"]
