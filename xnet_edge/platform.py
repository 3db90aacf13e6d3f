"""This machine: CPU, GPU, Jetson module and the versions of the packages that run models.

The one place that probes the host. Engine manifests record :func:`machine_info`
as their ``build_machine`` (and the runtime compares it with the engine's), and
benchmark reports record :func:`cpu_info`, :func:`gpu_info`, :func:`jetson_info`
and :func:`package_versions`.

Everything is best-effort and never raises: a value that cannot be read is None.
Only the standard library runs here (the runtime path on a Jetson imports this
without numpy or torch); package versions come from installed metadata, and the
GPU is asked through cuda-python, pycuda, ``nvidia-smi`` or the Jetson device
tree, whichever answers first.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional

from ._version import __version__

# Package -> the distributions that install it (the first one found wins).
PACKAGES = {
    "numpy": ("numpy",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml"),
    "torch": ("torch",),
    "tensorrt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu11", "tensorrt_lean"),
    "cuda-python": ("cuda-python", "cuda-bindings"),
    "pycuda": ("pycuda",),
    "openvino": ("openvino",),
}

NV_TEGRA_RELEASE = "/etc/nv_tegra_release"
DEVICE_TREE_MODEL = "/proc/device-tree/model"

# L4T release (from /etc/nv_tegra_release) -> JetPack release.
_L4T_TO_JETPACK = {
    "35.1": "5.0.2", "35.2": "5.1", "35.3": "5.1.1", "35.4": "5.1.2", "35.5": "5.1.3", "35.6": "5.1.4",
    "36.2": "6.0 DP", "36.3": "6.0", "36.4": "6.1/6.2",
}

# Jetson modules by the name in /proc/device-tree/model -> integrated GPU compute capability.
_JETSON_GPUS = (("Orin", "8.7"), ("Xavier", "7.2"), ("TX2", "6.2"), ("Nano", "5.3"))

_NVIDIA_SMI_FIELDS = "name,driver_version,memory.total,clocks.sm,clocks.max.sm"


def _run(cmd: list[str], timeout: float = 10.0) -> Optional[str]:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _read(path: str | os.PathLike) -> Optional[str]:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


# --------------------------------------------------------------------------- package versions


def package_version(package: str, import_module: Optional[str] = None) -> Optional[str]:
    """The installed version of one of :data:`PACKAGES`, or None.

    Args:
        package: a key of :data:`PACKAGES`.
        import_module: when no distribution metadata is found, import this module
            and read its ``__version__`` (JetPack installs TensorRT's Python binding
            through apt, without pip metadata).

    Returns:
        The version string, or None when not installed.
    """
    for dist in PACKAGES[package]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    if import_module is None:
        return None
    try:
        import importlib

        return str(getattr(importlib.import_module(import_module), "__version__", None) or "") or None
    except Exception:  # a broken binding is "not available" here, never a crash
        return None


def package_versions() -> dict[str, Optional[str]]:
    """Versions of the packages that decide inference speed, from metadata only (None: not installed)."""
    out: dict[str, Optional[str]] = {"xnet_edge": __version__, "python": platform.python_version()}
    out.update({key: package_version(key) for key in PACKAGES})
    return out


# --------------------------------------------------------------------------- CUDA and the GPU


def cuda_toolkit_version() -> Optional[str]:
    """The CUDA toolkit version under ``/usr/local/cuda`` (``"12.6"``), or None."""
    for path in ("/usr/local/cuda/version.json", "/usr/local/cuda/version.txt"):
        text = _read(path)
        if text is None:
            continue
        if path.endswith(".json"):
            try:
                return ".".join(json.loads(text)["cuda"]["version"].split(".")[:2])
            except (ValueError, KeyError, AttributeError):
                continue
        m = re.search(r"(\d+\.\d+)", text)
        if m:
            return m.group(1)
    return None


def _gpu_from_cuda_python() -> Optional[dict]:
    from .cuda_import import cuda_versions, require_cudart

    cudart = require_cudart()
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count < 1:
        return None
    err, prop = cudart.cudaGetDeviceProperties(0)
    if int(err) != 0:
        return None
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    # cudaRuntimeGetVersion would give the CUDA the bindings were built for, not the driver's
    return {"name": name.rstrip("\x00").strip(), "compute_capability": f"{prop.major}.{prop.minor}",
            "cuda_driver": cuda_versions(cudart)["driver"]}


def _gpu_from_pycuda() -> Optional[dict]:
    from .cuda_import import import_pycuda_driver, version_string

    drv = import_pycuda_driver()
    if drv is None:
        return None
    drv.init()
    if drv.Device.count() < 1:
        return None
    dev = drv.Device(0)
    major, minor = dev.compute_capability()
    return {"name": dev.name(), "compute_capability": f"{major}.{minor}",
            "cuda_driver": version_string(drv.get_driver_version())}


# JetPack release -> the CUDA its TensorRT is built for
_JETPACK_CUDA = (("5.", "11.4"), ("6.0", "12.2"), ("6.1", "12.6"))


def tensorrt_cuda() -> Optional[str]:
    """The CUDA release the installed TensorRT is built for, or None when unknown.

    pip's ``tensorrt-cuNN`` packages name the CUDA major (``"12"``); JetPack's apt
    TensorRT has no pip metadata, so its JetPack release gives the CUDA version
    (``"12.6"`` on 6.1/6.2). This is the CUDA that matters for a plan, unlike the
    CUDA the Python bindings were built for.
    """
    for major in ("13", "12", "11"):
        for dist in (f"tensorrt-cu{major}", f"tensorrt-cu{major}-bindings", f"tensorrt_cu{major}"):
            try:
                metadata.version(dist)
                return major
            except metadata.PackageNotFoundError:
                continue
    try:
        for requirement in metadata.requires("tensorrt") or ():
            m = re.match(r"tensorrt[-_]cu(\d+)", requirement)
            if m:
                return m.group(1)
    except metadata.PackageNotFoundError:
        pass
    jetpack = jetpack_release()
    for prefix, cuda in _JETPACK_CUDA:
        if jetpack and jetpack.startswith(prefix):
            return cuda
    return None


def _gpu_from_nvidia_smi() -> Optional[dict]:
    out = _run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"])
    if not out or not out.strip():
        return None
    name, cc = (part.strip() for part in out.strip().splitlines()[0].rsplit(",", 1))
    return {"name": name, "compute_capability": cc if re.fullmatch(r"\d+\.\d+", cc) else None}


def jetson_gpu(model_path: str | os.PathLike = DEVICE_TREE_MODEL) -> Optional[dict]:
    """The Jetson's integrated GPU from its device-tree model name, for when no CUDA binding answers.

    Returns:
        ``{"name", "compute_capability"}`` or None off a Jetson.
    """
    try:
        model = Path(model_path).read_bytes().decode(errors="replace").strip("\x00").strip()
    except OSError:
        return None
    if "jetson" not in model.lower():
        return None
    for key, cc in _JETSON_GPUS:  # "Orin Nano" must match Orin before Nano
        if key.lower() in model.lower():
            return {"name": model, "compute_capability": cc}
    return {"name": model, "compute_capability": None}


_GPU_PROBES: tuple[Callable[[], Optional[dict]], ...] = (
    _gpu_from_cuda_python, _gpu_from_pycuda, _gpu_from_nvidia_smi, jetson_gpu)


def gpu_device() -> dict:
    """The first GPU as the first probe that answers sees it (cuda-python, pycuda, nvidia-smi, Jetson).

    Returns:
        ``{"name", "compute_capability"}`` plus ``"cuda_driver"`` (the newest CUDA the
        driver supports) when a CUDA binding answered; ``{}`` when no GPU is visible.
    """
    for probe in _GPU_PROBES:
        try:
            info = probe()
        except Exception:  # each probe is best-effort; the next one may answer
            info = None
        if info and info.get("name"):
            return info
    return {}


def parse_nvidia_smi(text: str) -> Optional[dict]:
    """First GPU from ``nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm
    --format=csv,noheader,nounits`` output."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    parts = [p.strip() for p in lines[0].split(",")]
    if len(parts) < 2:
        return None

    def number(i: int) -> Optional[float]:
        try:
            return float(parts[i])
        except (IndexError, ValueError):
            return None

    return {"name": parts[0], "driver": parts[1], "memory_mb": number(2), "sm_clock_mhz": number(3),
            "sm_clock_max_mhz": number(4), "count": len(lines)}


def gpu_info() -> Optional[dict]:
    """GPU name, driver, memory and SM clocks from nvidia-smi, plus CUDA version and compute capability.

    Returns:
        The dict, or None when no GPU is visible (no nvidia-smi and no Jetson GPU).
    """
    text = _run(["nvidia-smi", f"--query-gpu={_NVIDIA_SMI_FIELDS}", "--format=csv,noheader,nounits"])
    gpu = parse_nvidia_smi(text) if text else None
    device = gpu_device() if gpu is not None or is_jetson() else {}
    if gpu is None and device.get("name"):
        gpu = {"name": device["name"], "driver": None, "memory_mb": None}
    if gpu is None:
        return None
    gpu["compute_capability"] = device.get("compute_capability")
    gpu["cuda"] = cuda_toolkit_version()
    gpu["cuda_driver"] = device.get("cuda_driver")
    return gpu


# --------------------------------------------------------------------------- Jetson


def is_jetson() -> bool:
    """True on an NVIDIA Jetson (L4T writes ``/etc/nv_tegra_release``)."""
    return Path(NV_TEGRA_RELEASE).is_file()


def jetpack_release(path: str | os.PathLike = NV_TEGRA_RELEASE) -> Optional[str]:
    """The JetPack release read from ``/etc/nv_tegra_release``, or None off a Jetson.

    The file holds the L4T release, e.g. ``# R36 (release), REVISION: 4.3, ...``;
    this returns ``"6.1/6.2 (L4T R36.4.3)"``, or ``"L4T R36.9.0"`` for an L4T
    release this table does not know.
    """
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    return parse_nv_tegra_release(text)


def parse_nv_tegra_release(text: str) -> Optional[str]:
    """Parse the contents of ``/etc/nv_tegra_release`` (see :func:`jetpack_release`)."""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    major, rev, patch = m.group(1), m.group(2), m.group(3) or "0"
    l4t = f"L4T R{major}.{rev}.{patch}"
    jetpack = _L4T_TO_JETPACK.get(f"{major}.{rev}")
    return f"{jetpack} ({l4t})" if jetpack else l4t


def parse_nvpmodel(text: str) -> dict:
    """``nvpmodel -q`` output -> ``{"mode": "MAXN", "id": 0}`` (values None when absent).

    The output looks like ``NV Power Mode: MAXN`` followed by the mode number on its
    own line (some releases print an ``NV Fan Mode`` line first).
    """
    mode = re.search(r"NV Power Mode\s*:\s*(.+)", text)
    after = text[mode.end():] if mode else ""
    number = re.search(r"^\s*(\d+)\s*$", after, re.MULTILINE)
    return {"mode": mode.group(1).strip() if mode else None, "id": int(number.group(1)) if number else None}


def _range_locked(folder: Path, lo: str, hi: str) -> Optional[bool]:
    a, b = _read(folder / lo), _read(folder / hi)
    if a is None or b is None:
        return None
    return a == b


def jetson_info() -> Optional[dict]:
    """Jetson model, JetPack, power mode and whether CPU/GPU clocks are pinned; None off a Jetson.

    Clocks count as locked when every CPU's and the GPU's minimum frequency equals its
    maximum (what ``jetson_clocks`` sets).
    """
    if not is_jetson():
        return None
    nvp = _run(["nvpmodel", "-q"])
    cpu_flags = [_range_locked(p, "scaling_min_freq", "scaling_max_freq")
                 for p in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq"))]
    gpu_flags = [_range_locked(p, "min_freq", "max_freq") for p in Path("/sys/class/devfreq").glob("*")
                 if re.search(r"gpu|ga10b|gv11b|gp10b", (_read(p / "name") or p.name) + p.name)]
    flags = [f for f in cpu_flags + gpu_flags if f is not None]
    return {
        "model": _read(DEVICE_TREE_MODEL),
        "jetpack": jetpack_release(),
        "nvpmodel": parse_nvpmodel(nvp) if nvp else None,
        "nvpmodel_raw": nvp.strip() if nvp else None,
        "clocks_locked": all(flags) if flags else None,
    }


# --------------------------------------------------------------------------- CPU


def parse_cpuinfo(text: str) -> dict:
    """CPU model and physical core count from ``/proc/cpuinfo`` text."""
    model = None
    for key in ("model name", "Model", "Hardware", "cpu model"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if m:
            model = m.group(1).strip()
            break
    cores = set()
    for block in text.split("\n\n"):
        phys = re.search(r"^physical id\s*:\s*(\d+)", block, re.MULTILINE)
        core = re.search(r"^core id\s*:\s*(\d+)", block, re.MULTILINE)
        if core:
            cores.add((phys.group(1) if phys else "0", core.group(1)))
    return {"model": model, "physical_cores": len(cores) or None}


def _khz_to_mhz(text: Optional[str]) -> Optional[float]:
    try:
        return int(text) / 1000 if text else None
    except ValueError:
        return None


def cpu_info() -> dict:
    """CPU model, logical/physical/usable cores, frequency governor and clock range."""
    info = parse_cpuinfo(_read("/proc/cpuinfo") or "")
    if not info["model"]:
        info["model"] = platform.processor() or _read(DEVICE_TREE_MODEL) or None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    freq = Path("/sys/devices/system/cpu/cpu0/cpufreq")
    info.update({
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "governor": _read(freq / "scaling_governor"),
        "min_mhz": _khz_to_mhz(_read(freq / "scaling_min_freq")),
        "max_mhz": _khz_to_mhz(_read(freq / "scaling_max_freq")),
        "machine": platform.machine(),
    })
    return info


# --------------------------------------------------------------------------- the engine view


def machine_info(probe_gpu: bool = True) -> dict:
    """This machine in an engine manifest's ``build_machine`` layout.

    Args:
        probe_gpu: False skips the GPU query (name and compute capability stay None).

    Returns:
        ``{"tensorrt", "tensorrt_cuda", "cuda", "cuda_driver", "onnxruntime", "gpu_name",
        "compute_capability", "jetpack", "platform", "python"}``: ``tensorrt_cuda`` is the CUDA
        TensorRT is built for (:func:`tensorrt_cuda`), ``cuda`` the toolkit under /usr/local/cuda,
        ``cuda_driver`` the newest CUDA the driver supports (``cudaDriverGetVersion``).
    """
    gpu = gpu_device() if probe_gpu else {}
    return {
        "tensorrt": package_version("tensorrt", import_module="tensorrt"),
        "tensorrt_cuda": tensorrt_cuda(),
        "cuda": cuda_toolkit_version(),
        "cuda_driver": gpu.get("cuda_driver"),
        "onnxruntime": package_version("onnxruntime"),
        "gpu_name": gpu.get("name"),
        "compute_capability": gpu.get("compute_capability"),
        "jetpack": jetpack_release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
