"""``RuntimeOptions``: every option a :class:`~xnet_edge.runtime.Runtime` and its backends read, checked once.

``Runtime(artifact, RuntimeOptions(threads=2))``; ``infer``, ``eval`` and ``ros2`` make one from
their shared ``runtime`` argument group (:func:`xnet_edge.cli.common.runtime_options`), ``bench``
one per artifact (:func:`xnet_edge.bench.subjects.open_subject`), and
:func:`xnet_edge.runtime.infer` takes one.
Each value is checked here when the object is made; what depends on this machine (a provider
onnxruntime lacks, a CUDA device torch cannot see) or on the artifact (a fixed input size,
TensorRT on ``device="cpu"``) is checked when the Runtime opens.

The provider and graph-optimization names of ONNX Runtime are defined here, so the options and
the ONNX Runtime backend (:mod:`.backend_ort`) read them from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

from .._options import OptionsMixin
from ..errors import UsageError
from ..limits import check_threads

#: backends a Runtime can run (``auto``: the artifact's own)
BACKENDS = ("auto", "onnxruntime", "tensorrt", "torch")
#: short names of ONNX Runtime execution providers
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}
#: ONNX Runtime graph optimization levels by their short names
ORT_LEVEL_NAMES = {"disable_all": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                   "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
#: PyTorch devices (and ``cuda:N``)
DEVICES = ("auto", "cpu", "cuda")
#: CUDA bindings the TensorRT backend can use
CUDA_APIS = ("auto", "cuda-python", "pycuda")


def provider_name(name: str) -> str:
    """An ONNX Runtime provider's full name from a short one (``cuda``) or the full one.

    Raises:
        UsageError: not a provider name.
    """
    full = PROVIDER_ALIASES.get(str(name).lower(), str(name))
    if not full.endswith("ExecutionProvider"):
        raise UsageError(f"unknown execution provider {name!r}; use cpu, cuda, tensorrt, auto "
                         "or a full onnxruntime provider name")
    return full


def ort_level_name(name: str) -> str:
    """``onnxruntime.GraphOptimizationLevel`` member name of ``all`` / ``ORT_ENABLE_ALL`` / ...

    Raises:
        UsageError: an unknown level.
    """
    key = str(name).lower().removeprefix("ort_").removeprefix("enable_")
    member = ORT_LEVEL_NAMES.get(key, str(name).upper())
    if member not in ORT_LEVEL_NAMES.values():
        raise UsageError(f"unknown graph optimization level {name!r}; use one of {', '.join(ORT_LEVEL_NAMES)}")
    return member


def check_device(device: Optional[str]) -> str:
    """``device`` when it is auto, cpu, cuda or cuda:N (None or empty: auto).

    Raises:
        UsageError: any other text.
    """
    text = str(device or "auto")
    if text not in DEVICES and not (text.startswith("cuda:") and text[5:].isdigit()):
        raise UsageError(f"unknown device {device!r}; choose auto, cpu, cuda or cuda:N")
    return text


def _providers(value: Union[None, str, Sequence[str]]) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    names = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
    if not names:
        raise UsageError("providers: name at least one (cpu, cuda, tensorrt, auto or a provider name)")
    if names != ["auto"]:
        for name in names:
            provider_name(name)
    return tuple(names)


def _input_size(value: Any) -> Optional[tuple[int, int]]:
    if value is None:
        return None
    if isinstance(value, str):
        from ..preprocess import parse_size

        return parse_size(value)
    size = tuple(value)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise UsageError(f"input_size must be (height, width) in pixels, got {value!r}")
    return size  # type: ignore[return-value]


def _flag(value: Any, name: str, allow_none: bool = False) -> Any:
    if (value is None and allow_none) or isinstance(value, bool):
        return value
    raise UsageError(f"{name} must be True or False{' or None' if allow_none else ''}, got {value!r}")


@dataclass(frozen=True)
class RuntimeOptions(OptionsMixin):
    """How a :class:`~xnet_edge.runtime.Runtime` runs its artifact (every field optional).

    Attributes:
        backend: ``auto`` (by artifact), ``onnxruntime``, ``tensorrt`` or ``torch``; a backend that
            cannot run the artifact says what to do instead.
        providers: ONNX Runtime providers: ``cpu`` (the default), ``cuda``, ``tensorrt``, ``auto``
            (TensorRT > CUDA > CPU among those installed), a comma-separated string or a list;
            an explicitly requested provider that is missing is an error. None: the manifest's, else cpu.
        threads: ONNX Runtime intra-op threads; None: the manifest's, else one per core.
        graph_optimization_level: ONNX Runtime ``all``, ``extended``, ``basic`` or ``disable_all``
            (or ``ORT_ENABLE_ALL``, ...); None: the manifest's, else ONNX Runtime's default.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` for PyTorch; TensorRT uses the N of ``cuda:N``.
        fused: PyTorch: the fused Triton bridge kernels (None: on CUDA when the model offers them).
        cuda_graph: TensorRT: capture and replay a CUDA graph (cuda-python only).
        cuda_api: TensorRT's CUDA binding: ``auto``, ``cuda-python`` or ``pycuda``.
        input_size: network (H, W) for a model with a dynamic input size (or ``"HxW"``); a model
            with a fixed size refuses another.
        preprocessing: a dict in the ``xnet_edge.preprocessing`` layout (``input_size``, ``mean``,
            ``std``, ...) overriding the artifact's, e.g. for a bare ``.plan``.
        check: verify an engine folder's hashes and this machine against its manifest (False
            skips it; not recommended).
        machine: a :func:`~xnet_edge.platform.machine_info` dict to check the manifest against
            instead of probing this machine.
        cuda_memory: an open :class:`~.cuda_mem.CudaMemory` for the TensorRT backend to use
            instead of opening its own (sharing a device, tests).
        timing: a timing hook ``hook(stage, seconds)`` or a list of them (see :mod:`.timing`).

    Raises:
        UsageError: an unknown backend, provider, level, device or CUDA binding; a bad thread count,
            input size or preprocessing block; a non-boolean switch.
    """

    backend: str = "auto"
    providers: Optional[Union[str, Sequence[str]]] = None
    threads: Optional[int] = None
    graph_optimization_level: Optional[str] = None
    device: Optional[str] = "auto"
    fused: Optional[bool] = None
    cuda_graph: bool = False
    cuda_api: str = "auto"
    input_size: Optional[Union[str, Sequence[int]]] = None
    preprocessing: Optional[Mapping[str, Any]] = None
    check: bool = True
    machine: Optional[Mapping[str, Any]] = None
    cuda_memory: Any = field(default=None, compare=False, repr=False)
    timing: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        self._set("providers", _providers(self.providers))
        check_threads(self.threads, "threads")
        if self.graph_optimization_level is not None:
            self._set("graph_optimization_level", ort_level_name(self.graph_optimization_level))
        self._set("device", check_device(self.device))
        _flag(self.fused, "fused", allow_none=True)
        _flag(self.cuda_graph, "cuda_graph")
        _flag(self.check, "check")
        if self.cuda_api not in CUDA_APIS:
            raise UsageError(f"unknown CUDA binding {self.cuda_api!r}; choose one of {', '.join(CUDA_APIS)}")
        self._set("input_size", _input_size(self.input_size))
        if self.preprocessing is not None:
            from ..contract import Preprocessing

            Preprocessing.from_dict(self.preprocessing, where="preprocessing=")
            self._set("preprocessing", dict(self.preprocessing))
        if self.machine is not None and not isinstance(self.machine, Mapping):
            raise UsageError(f"machine must be a machine_info() dict, got {type(self.machine).__name__}")
        if self.timing is not None and not callable(self.timing):
            self._set("timing", tuple(self.timing))


__all__ = ["BACKENDS", "RuntimeOptions", "check_device", "ort_level_name", "provider_name"]
