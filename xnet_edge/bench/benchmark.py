"""``run_benchmark``: measure one or more artifacts side by side and return the report.

Order of work: check every argument and path before loading anything (usage
mistakes fail fast with one line); load the frames; open every artifact; measure
them in interleaved rounds (:mod:`.method`); close them; run trtexec on the plans
if asked; assemble the report (:mod:`.report`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import UsageError, XnetEdgeError
from ..limits import check_threads
from .environment import capture_environment, load_average
from .inputs import DEFAULT_FRAME_SIZE, DEFAULT_PHOTOS, benchmark_frames
from .memory import PeakRss
from .method import BenchSettings, measure
from .report import SCHEMA, SCHEMA_VERSION, build_result, unique_labels
from .subjects import MODES, open_subject, stage_split
from .trtexec_timing import find_trtexec, run_trtexec, trtexec_timing_args


def check_options(kinds: Sequence[str], *, threads: Optional[int], cuda_graph: bool, spin_wait: bool,
                  trtexec: bool, end_to_end: bool) -> None:
    """Refuse flag combinations that cannot apply to the artifacts given.

    Args:
        kinds: each artifact's kind ("onnx", "tensorrt-plan", "checkpoint").

    Raises:
        UsageError: one line saying which flag conflicts with what.
    """
    has_plan = "tensorrt-plan" in kinds
    if cuda_graph and not has_plan:
        raise UsageError("--cuda-graph applies to TensorRT plans only, and none of the artifacts is one")
    if spin_wait and not has_plan:
        raise UsageError("--spin-wait applies to TensorRT plans only, and none of the artifacts is one")
    if trtexec and not has_plan:
        raise UsageError("--trtexec runs TensorRT plans only, and none of the artifacts is one")
    if trtexec and end_to_end:
        raise UsageError("--trtexec measures the model only (H2D + compute + D2H); drop --end-to-end to "
                         "compare like with like")
    check_threads(threads)
    if threads is not None and set(kinds) == {"tensorrt-plan"}:
        raise UsageError("--threads sets ONNX Runtime / PyTorch CPU threads; TensorRT plans do not use it")


def enable_spin_wait() -> str:
    """Make CUDA synchronization spin instead of yielding the CPU (trtexec's ``--useSpinWait``).

    Sets ``cudaDeviceScheduleSpin`` on the device through cuda-python before any
    engine is loaded, so every stream synchronize of the runtime busy-waits.

    Returns:
        A description of what was set.

    Raises:
        XnetEdgeError: cuda-python is missing or refused the flag.
    """
    from ..cuda_import import import_cudart

    cudart = import_cudart()
    if cudart is None:
        raise XnetEdgeError("--spin-wait needs cuda-python (pip install 'xnet-edge[trt]')")
    try:
        (err,) = cudart.cudaSetDeviceFlags(cudart.cudaDeviceScheduleSpin)
    except (AttributeError, TypeError, RuntimeError) as exc:  # an old or partial binding
        raise XnetEdgeError(f"--spin-wait: this cuda-python cannot set device flags ({exc})") from None
    if int(err) != 0:
        raise XnetEdgeError(f"cudaSetDeviceFlags(cudaDeviceScheduleSpin) failed: {err}")
    return "cudaDeviceScheduleSpin"


def _trtexec_args_for(subject, settings: BenchSettings, cuda_graph: bool, spin_wait: bool) -> list[str]:
    """trtexec arguments that run this subject's plan with the same shape and settings."""
    artifact = subject.runtime.artifact
    backend = subject.runtime.backend
    shape = (settings.batch, 3, *subject.runtime.input_size)
    dla = (((artifact.manifest or {}).get("runtime") or {}).get("tensorrt") or {}).get("dla_core")
    dynamic = backend is not None and backend.input.is_dynamic
    return trtexec_timing_args(artifact.file, settings, input_name=backend.input.name if backend else "image",
                               input_shape=shape if dynamic else None, cuda_graph=cuda_graph, spin_wait=spin_wait,
                               dla_core=dla)


def run_benchmark(artifacts: Sequence[str | Path], settings: BenchSettings = BenchSettings(), *,
                  end_to_end: bool = False, threads: Optional[int] = None, cuda_graph: bool = False,
                  spin_wait: bool = False, input_size: Optional[Sequence[int]] = None,
                  frame_size: Sequence[int] = DEFAULT_FRAME_SIZE, photos: Sequence[str] = DEFAULT_PHOTOS,
                  trtexec: bool = False, labels: Optional[Sequence[str]] = None,
                  progress: Optional[Callable[[float], None]] = None,
                  log: Callable[[str], None] = lambda _msg: None) -> dict:
    """Benchmark artifacts side by side, trtexec's way, and return the report.

    Args:
        artifacts: engine folders, ``.onnx``, ``.plan`` or checkpoints; ratios are against the first.
        settings: warm-up, minimum duration and iterations, batch, rounds.
        end_to_end: time preprocessing + network + postprocessing on frames (default: the network).
        threads: ONNX Runtime intra-op / PyTorch threads.
        cuda_graph: TensorRT: replay a captured CUDA graph.
        spin_wait: TensorRT: busy-wait on synchronization.
        input_size: one network (H, W) for every artifact, rounded to each model's size multiple
            (14 for ViT patch models, 32 for ×Net); each result records the size it ran at, the
            size asked for and the multiple, with a note when it was rounded.
        frame_size: (H, W) of the benchmark frames.
        photos: scikit-image photos to rotate over.
        trtexec: also run trtexec on each TensorRT plan.
        labels: report names (default: short unique paths).
        progress: called with the fraction done after each round.
        log: called with one line per step.

    Returns:
        The report dict (layout in :mod:`.report`).

    Raises:
        UsageError: a missing artifact, bad settings or conflicting options.
        XnetEdgeError: an artifact failed to load or run, or trtexec failed.
    """
    settings.validate()
    program = _check_request(artifacts, threads=threads, cuda_graph=cuda_graph, spin_wait=spin_wait,
                             trtexec=trtexec, end_to_end=end_to_end)
    labels = list(labels) if labels else unique_labels([str(p) for p in artifacts])
    if len(labels) != len(artifacts):
        raise UsageError("give one label per artifact")
    sync = enable_spin_wait() if spin_wait else "default"
    frames = benchmark_frames(frame_size, photos)
    peak = PeakRss()
    subjects = []
    try:
        for path, label in zip(artifacts, labels):
            log(f"loading {label}")
            subjects.append(open_subject(path, label, [f for _, f in frames], batch=settings.batch,
                                         end_to_end=end_to_end, peak=peak, threads=threads,
                                         cuda_graph=cuda_graph, input_size=input_size))
        log(f"measuring {len(subjects)} artifact(s): warm-up {settings.warmup_ms:g} ms each, then >= "
            f"{settings.iterations} calls and >= {settings.duration_s:g} s each, in interleaved rounds")
        environment = capture_environment(threads)
        measurements = measure(subjects, settings, progress=progress)
        environment["load_average_after"] = load_average()
        results = _results(subjects, measurements, settings)
        trt_args = {i: _trtexec_args_for(s, settings, cuda_graph, spin_wait)
                    for i, s in enumerate(subjects) if program and s.runtime.artifact.kind == "tensorrt-plan"}
    finally:
        for subject in subjects:
            subject.close()
    for i, args in trt_args.items():  # after our runtimes released the GPU
        log(f"trtexec on {results[i]['label']}")
        results[i]["trtexec"] = run_trtexec(program, args, settings.batch)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "settings": {"mode": MODES[1] if end_to_end else MODES[0], "batch": settings.batch,
                     "warmup_ms": settings.warmup_ms, "duration_s": settings.duration_s,
                     "iterations": settings.iterations, "rounds": settings.rounds,
                     "switch_calls": settings.switch_calls, "threads": threads,
                     "cuda_graph": cuda_graph, "spin_wait": spin_wait, "cuda_sync": sync,
                     "input_size": list(input_size) if input_size else None, "frame_size": list(frame_size),
                     "inputs": [name for name, _ in frames]},
        "environment": environment,
        "results": results,
    }


def _check_request(artifacts, *, threads, cuda_graph, spin_wait, trtexec, end_to_end) -> Optional[str]:
    """Resolve every path and check the flags against them; returns the trtexec program (or None)."""
    from ..runtime import resolve_artifact

    if not artifacts:
        raise UsageError("give at least one artifact to benchmark")
    kinds = [resolve_artifact(p).kind for p in artifacts]
    check_options(kinds, threads=threads, cuda_graph=cuda_graph, spin_wait=spin_wait, trtexec=trtexec,
                  end_to_end=end_to_end)
    if not trtexec:
        return None
    program = find_trtexec()
    if program is None:
        raise UsageError("--trtexec: trtexec not found on the PATH (or set TRTEXEC=/path/to/trtexec)")
    return program


def _results(subjects, measurements, settings: BenchSettings) -> list[dict]:
    results: list[dict] = []
    for subject, m in zip(subjects, measurements):
        results.append(build_result(
            artifact=str(subject.runtime.artifact.file), label=subject.label, describe=subject.describe(),
            mode=subject.mode, settings=settings, measurement=m, stages=stage_split(subject, m),
            memory=subject.memory_summary(), reference=results[0]["latency_ms"] if results else None,
            size=subject.size_record(), size_note=subject.size_note()))
    return results
