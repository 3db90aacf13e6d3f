"""Peak memory while an artifact runs: host RSS, and GPU memory where it can be read.

Host: Linux keeps the process's peak resident set (``VmHWM`` in
``/proc/self/status``) and lets a process reset it by writing ``5`` to
``/proc/self/clear_refs``. Resetting before each of an artifact's slices and
reading after gives that artifact's own peak even when several artifacts share
the process. Where the reset is not allowed (or off Linux) the peak is the
process-wide one (``getrusage``), and the report says so (``"scope": "process"``).

GPU: for PyTorch on CUDA, ``torch.cuda.max_memory_allocated``; for TensorRT, the
device memory in use (``cudaMemGetInfo``) once the engine is loaded, minus what
was in use before — TensorRT allocates its activations up front, so that is its
peak. On a Jetson GPU memory is host memory and shows in the RSS.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str, status: Optional[str] = None) -> Optional[int]:
    try:
        text = status if status is not None else _STATUS.read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def current_rss_mb() -> Optional[float]:
    """Resident set size of this process now, in MiB (None where unknown)."""
    kib = _status_kib("VmRSS")
    return kib / 1024 if kib is not None else None


def _process_peak_mb() -> Optional[float]:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class PeakRss:
    """Peak resident memory over a window that can be restarted.

    ``reset()`` starts a window; ``peak_mb()`` is the highest RSS since then.
    ``scope`` is ``"window"`` when resets work, else ``"process"`` (peak since start).
    """

    def __init__(self):
        self.scope = "window" if self._try_reset() else "process"

    @staticmethod
    def _try_reset() -> bool:
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            return False
        return _status_kib("VmHWM") is not None

    def reset(self) -> None:
        """Start a new window (no-op when only the process-wide peak is available)."""
        if self.scope == "window":
            self._try_reset()

    def peak_mb(self) -> Optional[float]:
        """Peak RSS in MiB over the window (or since the process started)."""
        if self.scope == "window":
            kib = _status_kib("VmHWM")
            if kib is not None:
                return kib / 1024
        return _process_peak_mb()


def cuda_used_mb() -> Optional[float]:
    """Device memory in use on the current CUDA device, in MiB (None without a CUDA binding/GPU).

    Asks cuda-python (``cudaMemGetInfo``) and then pycuda (needs a current context).
    Never raises.
    """
    probes = (_used_from_cuda_python, _used_from_pycuda)
    for probe in probes:
        try:
            used = probe()
        except Exception:  # a missing binding, no GPU or no context: try the next one
            used = None
        if used is not None:
            return used
    return None


def _used_from_cuda_python() -> Optional[float]:
    from ..cuda_import import require_cudart

    err, free, total = require_cudart().cudaMemGetInfo()
    if int(err) != 0:
        return None
    return (int(total) - int(free)) / (1024 * 1024)


def _used_from_pycuda() -> Optional[float]:
    from ..cuda_import import import_pycuda_driver

    drv = import_pycuda_driver()
    if drv is None:
        return None
    free, total = drv.mem_get_info()
    return (int(total) - int(free)) / (1024 * 1024)


def torch_cuda_peak_mb(reset: bool = False) -> Optional[float]:
    """``torch.cuda.max_memory_allocated`` in MiB when torch is loaded and sees CUDA; optionally reset it.

    Torch is not imported here: a process that never loaded it has nothing to report.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    peak = torch.cuda.max_memory_allocated() / (1024 * 1024)
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return float(peak)
