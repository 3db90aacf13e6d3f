"""The machine a benchmark ran on: CPU, GPU, versions, threads, Jetson power mode and clocks.

Everything is best-effort and never raises: a value that cannot be read is None.
Package versions come from installed metadata, so capturing the environment
imports neither torch nor TensorRT.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Optional

from .._version import __version__

_PACKAGES = {
    "numpy": ("numpy",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml"),
    "torch": ("torch",),
    "tensorrt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu11", "tensorrt_lean"),
    "cuda-python": ("cuda-python", "cuda-bindings"),
    "pycuda": ("pycuda",),
    "openvino": ("openvino",),
}


def _run(cmd: list[str], timeout: float = 10.0) -> Optional[str]:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _read(path: str | Path) -> Optional[str]:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def package_versions() -> dict[str, Optional[str]]:
    """Versions of the packages that decide inference speed (None: not installed)."""
    out: dict[str, Optional[str]] = {"xnet_edge": __version__, "python": platform.python_version()}
    for key, dists in _PACKAGES.items():
        out[key] = None
        for dist in dists:
            try:
                out[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


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


def cpu_info() -> dict:
    """CPU model, logical/physical/usable cores, frequency governor and clock range."""
    info = parse_cpuinfo(_read("/proc/cpuinfo") or "")
    if not info["model"]:
        info["model"] = platform.processor() or _read("/proc/device-tree/model") or None
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


def _khz_to_mhz(text: Optional[str]) -> Optional[float]:
    try:
        return int(text) / 1000 if text else None
    except ValueError:
        return None


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
    """GPU name, driver, memory and SM clocks from nvidia-smi, plus CUDA/compute capability.

    Returns None when no GPU is visible (no nvidia-smi and no Jetson GPU).
    """
    text = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm",
                 "--format=csv,noheader,nounits"])
    gpu = parse_nvidia_smi(text) if text else None
    from ..engine.manifest import machine_info

    machine = machine_info(probe_gpu=gpu is not None or _is_jetson())
    if gpu is None and machine.get("gpu_name"):
        gpu = {"name": machine["gpu_name"], "driver": None, "memory_mb": None}
    if gpu is None:
        return None
    gpu["compute_capability"] = machine.get("compute_capability")
    gpu["cuda"] = machine.get("cuda")
    return gpu


def _is_jetson() -> bool:
    return Path("/etc/nv_tegra_release").is_file()


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
    if not _is_jetson():
        return None
    from ..engine.manifest import jetpack_release

    nvp = _run(["nvpmodel", "-q"])
    cpu_flags = [_range_locked(p, "scaling_min_freq", "scaling_max_freq")
                 for p in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq"))]
    gpu_flags = [_range_locked(p, "min_freq", "max_freq") for p in Path("/sys/class/devfreq").glob("*")
                 if re.search(r"gpu|ga10b|gv11b|gp10b", (_read(p / "name") or p.name) + p.name)]
    flags = [f for f in cpu_flags + gpu_flags if f is not None]
    return {
        "model": _read("/proc/device-tree/model"),
        "jetpack": jetpack_release(),
        "nvpmodel": parse_nvpmodel(nvp) if nvp else None,
        "nvpmodel_raw": nvp.strip() if nvp else None,
        "clocks_locked": all(flags) if flags else None,
    }


def thread_settings(requested: Optional[int]) -> dict:
    """Thread-related settings: the requested count, OpenMP/MKL variables, torch's count if loaded."""
    out = {"requested": requested}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        out[var] = os.environ.get(var)
    torch = sys.modules.get("torch")
    out["torch_intra_op"] = torch.get_num_threads() if torch is not None else None
    return out


def load_average() -> Optional[list[float]]:
    """The 1, 5 and 15 minute load averages (None where the OS has none).

    Other work on the machine is the commonest reason for numbers that do not
    reproduce; a load near or above the core count means the benchmark shared the CPU.
    """
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def capture_environment(threads: Optional[int] = None) -> dict:
    """Everything about this machine that a latency number depends on.

    Args:
        threads: the thread count the user asked for (None: library defaults).

    Returns:
        ``{"created", "platform", "cpu", "gpu", "jetson", "versions", "threads", "load_average"}``.
    """
    from ..engine.manifest import machine_info

    versions = package_versions()
    machine = machine_info(probe_gpu=False)
    versions["cuda_toolkit"] = machine.get("cuda")
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "gpu": gpu_info(),
        "jetson": jetson_info(),
        "versions": versions,
        "threads": thread_settings(threads),
        "load_average": load_average(),
    }
