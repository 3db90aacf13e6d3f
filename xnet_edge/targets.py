"""Target device profiles, kept as data: adding a device is one entry in :data:`_PROFILES`.

A target says what an engine is built for: which precisions make sense, how many
DLA cores the device has, the default TensorRT workspace and input size, the
memory an engine may use, and which TensorRT generation the device runs:

* ``8``  — JetPack 5 (TensorRT 8.5) and JetPack 6.0 (TensorRT 8.6): trtexec builds;
  legacy INT8 calibration cache.
* ``10`` — JetPack 6.1/6.2 (TensorRT 10.3) / desktop TensorRT 10: builder flags (FP16/INT8),
  Q/DQ or legacy cache.
* ``11`` — TensorRT 11: strongly typed networks only (precision comes from the ONNX).

Nothing here imports TensorRT; :func:`trt_generation` maps a version string to a generation.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Optional

from .errors import UsageError

#: engine precisions; "best" lets TensorRT pick per layer
PRECISIONS = ("fp32", "fp16", "int8", "best")
TRT_GENERATIONS = (8, 10, 11)


@dataclass(frozen=True)
class TargetProfile:
    """One device an engine can be built for.

    Attributes:
        name: the ``--target`` name.
        kind: ``"cpu"``, ``"jetson"`` or ``"gpu"`` (desktop/server).
        description: the devices it covers.
        precisions: precisions a build may ask for, in order of preference.
        default_precision: used when ``--precision`` is not given (a Q/DQ input implies int8).
        dla_cores: number of DLA cores (0: none).
        workspace_mb: default TensorRT workspace pool limit (MiB).
        trt_generations: TensorRT generations the device ships or supports, preferred first.
        tensorrt: the TensorRT release the device ships by default (None: any of the generations).
        tensorrt_releases: every TensorRT release the device ships (JetPack 6.0: 8.6, 6.1/6.2:
            10.3), preferred first; empty for desktop GPUs (any release of the generations).
        jetpack: the JetPack release for Jetson targets.
        compute_capability: the GPU's compute capability (``"8.7"``), None for cpu.
        input_size: default network input (H, W) for this device (multiples of 32).
        memory_mb: memory an engine and its buffers should stay under on this device.
        max_batch: the largest batch of the optimization profile for dynamic-batch models.
    """

    name: str
    kind: str
    description: str
    precisions: tuple[str, ...]
    default_precision: str
    dla_cores: int = 0
    workspace_mb: int = 0
    trt_generations: tuple[int, ...] = ()
    tensorrt: Optional[str] = None
    tensorrt_releases: tuple[str, ...] = ()
    jetpack: Optional[str] = None
    compute_capability: Optional[str] = None
    input_size: tuple[int, int] = (256, 320)
    memory_mb: int = 0
    max_batch: int = 1

    @property
    def is_gpu(self) -> bool:
        """True for TensorRT targets (Jetson and desktop GPUs)."""
        return self.kind != "cpu"

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists); this is what the manifest stores as ``target``."""
        d = dataclasses.asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return d


_PROFILES: tuple[TargetProfile, ...] = (
    TargetProfile("cpu", "cpu", "any x86-64/aarch64 CPU through ONNX Runtime (optimized ONNX)",
                  precisions=("fp32", "int8", "best"), default_precision="fp32", input_size=(256, 320),
                  memory_mb=1024, max_batch=1),
    # JetPack 6.1/6.2: TensorRT 10.3, CUDA 12.6; JetPack 6.0: TensorRT 8.6, CUDA 12.2; Ampere iGPU (sm_87).
    TargetProfile("jetson-orin-nano", "jetson", "Jetson Orin Nano 4/8 GB (JetPack 6)", PRECISIONS, "fp16",
                  dla_cores=0, workspace_mb=1024, trt_generations=(10, 8), tensorrt="10.3",
                  tensorrt_releases=("10.3", "8.6"), jetpack="6",
                  compute_capability="8.7", input_size=(256, 320), memory_mb=2048, max_batch=4),
    TargetProfile("jetson-orin-nx", "jetson", "Jetson Orin NX 16 GB (JetPack 6)", PRECISIONS, "fp16",
                  dla_cores=2, workspace_mb=2048, trt_generations=(10, 8), tensorrt="10.3",
                  tensorrt_releases=("10.3", "8.6"), jetpack="6",
                  compute_capability="8.7", input_size=(320, 416), memory_mb=4096, max_batch=4),
    TargetProfile("jetson-agx-orin", "jetson", "Jetson AGX Orin 32/64 GB (JetPack 6)", PRECISIONS, "fp16",
                  dla_cores=2, workspace_mb=4096, trt_generations=(10, 8), tensorrt="10.3",
                  tensorrt_releases=("10.3", "8.6"), jetpack="6",
                  compute_capability="8.7", input_size=(384, 512), memory_mb=8192, max_batch=8),
    # JetPack 5.1: TensorRT 8.5, CUDA 11.4, Volta iGPU (sm_72).
    TargetProfile("jetson-xavier-nx", "jetson", "Jetson Xavier NX 8/16 GB (JetPack 5)", PRECISIONS, "fp16",
                  dla_cores=2, workspace_mb=1024, trt_generations=(8,), tensorrt="8.5",
                  tensorrt_releases=("8.5",), jetpack="5",
                  compute_capability="7.2", input_size=(256, 320), memory_mb=2048, max_batch=4),
    TargetProfile("jetson-agx-xavier", "jetson", "Jetson AGX Xavier 32/64 GB (JetPack 5)", PRECISIONS, "fp16",
                  dla_cores=2, workspace_mb=2048, trt_generations=(8,), tensorrt="8.5",
                  tensorrt_releases=("8.5",), jetpack="5",
                  compute_capability="7.2", input_size=(320, 416), memory_mb=4096, max_batch=4),
    # Desktop and server GPUs by compute capability; TensorRT 10 or 11 (preferred first).
    TargetProfile("gpu-sm75", "gpu", "Turing: T4, RTX 20xx, Quadro RTX", PRECISIONS, "fp16",
                  workspace_mb=4096, trt_generations=(10, 11), compute_capability="7.5",
                  input_size=(384, 512), memory_mb=8192, max_batch=16),
    TargetProfile("gpu-sm86", "gpu", "Ampere: RTX 30xx, A10, A40, RTX A-series", PRECISIONS, "fp16",
                  workspace_mb=4096, trt_generations=(10, 11), compute_capability="8.6",
                  input_size=(384, 512), memory_mb=8192, max_batch=16),
    TargetProfile("gpu-sm89", "gpu", "Ada: RTX 40xx, L4, L40, RTX 6000 Ada", PRECISIONS, "fp16",
                  workspace_mb=4096, trt_generations=(10, 11), compute_capability="8.9",
                  input_size=(384, 512), memory_mb=8192, max_batch=16),
    TargetProfile("gpu-sm90", "gpu", "Hopper: H100, H200, GH200", PRECISIONS, "fp16",
                  workspace_mb=8192, trt_generations=(10, 11), compute_capability="9.0",
                  input_size=(384, 512), memory_mb=16384, max_batch=32),
    TargetProfile("gpu-sm100", "gpu", "Blackwell datacenter: B200, GB200", PRECISIONS, "fp16",
                  workspace_mb=8192, trt_generations=(10, 11), compute_capability="10.0",
                  input_size=(384, 512), memory_mb=16384, max_batch=32),
)

TARGETS: dict[str, TargetProfile] = {p.name: p for p in _PROFILES}


def list_targets() -> list[TargetProfile]:
    """All target profiles, in table order (cpu, Jetsons, desktop GPUs)."""
    return list(_PROFILES)


def get_target(name: str) -> TargetProfile:
    """Look a target up by name.

    Raises:
        UsageError: unknown name; the message lists the known targets.
    """
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(f"unknown target {name!r}; known targets: {', '.join(TARGETS)}") from None


def trt_generation(version: str) -> int:
    """Map a TensorRT version string (``"10.3.0.30"``) to its generation: 8, 10 or 11.

    TensorRT 9 (a short-lived LLM release) builds like 10; anything newer than 11
    is treated as 11 (strongly typed only).

    Raises:
        UsageError: the string has no major version, or it is older than TensorRT 8.
    """
    m = re.match(r"\s*(\d+)", str(version))
    if not m or int(m.group(1)) < 8:
        raise UsageError(f"unsupported TensorRT version {version!r}: xnet-edge needs TensorRT 8.5 or newer")
    major = int(m.group(1))
    return 8 if major == 8 else 10 if major in (9, 10) else 11


def target_for_compute_capability(cc: str) -> Optional[TargetProfile]:
    """The desktop/server GPU target for a compute capability (``"8.6"`` -> gpu-sm86), or None."""
    for profile in _PROFILES:
        if profile.kind == "gpu" and profile.compute_capability == cc:
            return profile
    return None
