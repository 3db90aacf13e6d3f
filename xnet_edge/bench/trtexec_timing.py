"""Run NVIDIA's ``trtexec`` on the same plan and read its performance summary into our fields.

trtexec (TensorRT 8.4+) ends a run with::

    [I] === Performance summary ===
    [I] Throughput: 130.298 qps
    [I] Latency: min = 5.38 ms, max = 13.3 ms, mean = 7.60 ms, median = 7.16 ms, percentile(90%) = 10.2 ms, ...
    [I] Enqueue Time: min = ...
    [I] H2D Latency: min = ...
    [I] GPU Compute Time: min = ...
    [I] D2H Latency: min = ...
    [I] Total Host Walltime: 3.00082 s
    [I] Total GPU Compute Time: 2.96536 s
    [W] * Throughput may be bound by Enqueue Time rather than GPU Compute ...

"Latency" is H2D + GPU compute + D2H of one query, the same span as our
model-only latency. trtexec prints no standard deviation; older releases print
``percentile: X ms at 99%`` instead of ``percentile(99%) = X ms``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from ..errors import UsageError, XnetEdgeError
from .method import BenchSettings

#: trtexec summary line label -> our stage name (None: the end-to-end latency itself)
_LINES = {"Latency": None, "Enqueue Time": "enqueue", "H2D Latency": "h2d", "GPU Compute Time": "compute",
          "D2H Latency": "d2h"}
_STAT_NAMES = {"min": "min", "max": "max", "mean": "mean", "median": "median"}
_DEFAULT_LOCATIONS = ("/usr/src/tensorrt/bin/trtexec", "/usr/local/tensorrt/bin/trtexec")


def find_trtexec() -> Optional[str]:
    """``$TRTEXEC``, else ``trtexec`` on the PATH, else JetPack's ``/usr/src/tensorrt/bin/trtexec``."""
    env = os.environ.get("TRTEXEC")
    if env and Path(env).is_file():
        return env
    found = shutil.which("trtexec")
    if found:
        return found
    return next((p for p in _DEFAULT_LOCATIONS if Path(p).is_file() and os.access(p, os.X_OK)), None)


def _parse_stats(text: str) -> dict[str, float]:
    stats: dict[str, float] = {}
    for key, value in re.findall(r"(min|max|mean|median)\s*=\s*([-+0-9.eE]+)\s*ms", text):
        stats[_STAT_NAMES[key]] = float(value)
    for q, value in re.findall(r"percentile\((\d+(?:\.\d+)?)%\)\s*=\s*([-+0-9.eE]+)\s*ms", text):
        stats[f"p{float(q):g}"] = float(value)
    for value, q in re.findall(r"percentile:\s*([-+0-9.eE]+)\s*ms at (\d+(?:\.\d+)?)%", text):
        stats[f"p{float(q):g}"] = float(value)
    return stats


def parse_trtexec_summary(text: str, batch: int = 1) -> dict:
    """Turn trtexec's output into the benchmark result fields.

    Args:
        text: trtexec's stdout (the whole log is fine; only the summary is read).
        batch: images per query, for images/s.

    Returns:
        ``{"latency_ms": {...}, "throughput": {"inferences_per_s", "images_per_s"},
        "stages_ms": {"enqueue"|"h2d"|"compute"|"d2h": {...}}, "total_host_walltime_s",
        "total_gpu_compute_s", "warnings": [...]}``; statistics trtexec does not print
        (``std``, sometimes p90/p95) are None.

    Raises:
        XnetEdgeError: the text holds no performance summary (trtexec failed).
    """
    start = text.find("=== Performance summary ===")
    if start < 0:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        raise XnetEdgeError(f"trtexec printed no performance summary (last lines: {tail[:300]})")
    summary = text[start:]
    out: dict = {"latency_ms": None, "throughput": None, "stages_ms": {}, "total_host_walltime_s": None,
                 "total_gpu_compute_s": None, "warnings": []}
    for line in summary.splitlines():
        body = re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip())
        label, _, rest = body.partition(":")
        label = label.strip()
        if label in _LINES:
            stats = _full_stats(_parse_stats(rest))
            if _LINES[label] is None:
                out["latency_ms"] = stats
            else:
                out["stages_ms"][_LINES[label]] = stats
        elif label == "Throughput":
            m = re.search(r"([-+0-9.eE]+)\s*qps", rest)
            if m:
                qps = float(m.group(1))
                out["throughput"] = {"inferences_per_s": qps, "images_per_s": qps * batch}
        elif label in ("Total Host Walltime", "Total GPU Compute Time"):
            m = re.search(r"([-+0-9.eE]+)\s*s", rest)
            key = "total_host_walltime_s" if label.startswith("Total Host") else "total_gpu_compute_s"
            out[key] = float(m.group(1)) if m else None
        elif "[W]" in line and body:
            out["warnings"].append(body.lstrip("* ").strip())
    if out["latency_ms"] is None:
        raise XnetEdgeError("trtexec's performance summary has no Latency line")
    return out


def _full_stats(found: dict[str, float]) -> dict[str, Optional[float]]:
    from .stats import LATENCY_KEYS

    return {key: found.get(key) for key in LATENCY_KEYS}


def trtexec_timing_args(plan: str | Path, settings: BenchSettings, *, input_name: str = "image",
                        input_shape: Optional[Sequence[int]] = None, cuda_graph: bool = False, spin_wait: bool = False,
                        dla_core: Optional[int] = None) -> list[str]:
    """trtexec arguments (without the program) that measure ``plan`` like ``xnet-edge bench`` does.

    Args:
        plan: the TensorRT plan file.
        settings: warm-up, duration and iterations (trtexec's ``--duration`` is whole seconds: rounded up).
        input_name, input_shape: the shape to run for engines with dynamic dimensions.
        cuda_graph: ``--useCudaGraph``.
        spin_wait: ``--useSpinWait``.
        dla_core: ``--useDLACore`` for engines built for a DLA.
    """
    args = [f"--loadEngine={plan}", f"--warmUp={int(round(settings.warmup_ms))}",
            f"--duration={int(math.ceil(settings.duration_s))}", f"--iterations={settings.iterations}"]
    if input_shape is not None:
        args.append(f"--shapes={input_name}:{'x'.join(str(int(d)) for d in input_shape)}")
    if cuda_graph:
        args.append("--useCudaGraph")
    if spin_wait:
        args.append("--useSpinWait")
    if dla_core is not None:
        args.append(f"--useDLACore={int(dla_core)}")
    return args


def run_trtexec(program: str, args: Sequence[str], batch: int, timeout_s: float = 600.0) -> dict:
    """Run trtexec and parse its summary; the result also carries the command line.

    Raises:
        UsageError: the program cannot be started.
        XnetEdgeError: trtexec failed, timed out, or printed no summary.
    """
    command = [program, *args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise UsageError(f"trtexec not found at {program}") from None
    except subprocess.TimeoutExpired:
        raise XnetEdgeError(f"trtexec did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no output)"]
        raise XnetEdgeError(f"trtexec exited with {proc.returncode}: {last[0][:300]}")
    result = parse_trtexec_summary(proc.stdout, batch)
    result["command"] = " ".join(shlex.quote(a) for a in command)
    return result
