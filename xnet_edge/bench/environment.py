"""The conditions a benchmark ran under: this machine (from :mod:`xnet_edge.platform`), threads, load.

Everything is best-effort and never raises: a value that cannot be read is None.
Package versions come from installed metadata, so capturing the environment
imports neither torch nor TensorRT.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from typing import Optional

from ..platform import cpu_info, cuda_toolkit_version, gpu_info, jetson_info, package_versions, tensorrt_cuda


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
    versions = package_versions()
    versions["cuda_toolkit"] = cuda_toolkit_version()
    versions["tensorrt_cuda"] = tensorrt_cuda()
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
