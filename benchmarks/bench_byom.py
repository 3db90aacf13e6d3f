"""Bring your own model: where INT8 pays on ONNX Runtime CPU for a Depth Anything-shaped ViT,
and ×Net Lite0 beside it in one benchmark report.

1. A ``transformers`` ``DepthAnythingForDepthEstimation`` with random weights (DINOv2 blocks + DPT
   head; default the Small shape: 384 wide, 12 blocks, 6 heads) is exported to ONNX the way its
   project does (``pixel_values`` -> ``predicted_depth``), at ``--input-size`` rounded to the
   patch size 14, and adopted (``inverse-depth``, multiple 14).
2. INT8 CPU graphs on the same 8 calibration photos: ours with every layer quantized, ours
   without each layer kind (MatMul = the ViT's linear layers; Conv = patch embedding and DPT
   head), what ``calibrate`` picks by measured speed, and ONNX Runtime's ``quantize_static``
   (QDQ, UINT8 activations, per-channel INT8 weights, MinMax).
3. Reported per graph: relative error vs FP32 on 4 held-out photos, ONNX Runtime CPU time per
   run (1 thread, interleaved rounds, median process CPU time) and speed vs FP32, and the kernel
   time per op type (ORT profiler), where attention's activation x activation MatMuls show.
4. ``xnet-edge bench --input-size`` (one size) of the ×Net Lite0 demo checkpoint and the ViT, FP32
   ``cpu`` engines, in one JSON report and plot: bench rounds the size to each model's multiple
   (32 for ×Net, 14 for the ViT; each is exported at that size) and records it per result.

    python benchmarks/bench_byom.py --out out/byom
    python benchmarks/bench_byom.py --out out/byom --hidden 192 --layers 6 --input-size 128x160   # quick

Needs the ``[hf]`` extra. Run it from any folder (``transformers`` is imported in a subprocess
started outside the repository root, see ``xnet_edge/hf.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

EXPORT = """
from pathlib import Path
from xnet_edge.hf import export_depth_model, random_depth_anything
export_depth_model(random_depth_anything(hidden={hidden}, layers={layers}), Path({path!r}), ({h}, {w}))
"""


def rounded(size, multiple: int) -> tuple[int, int]:
    from xnet_edge.preprocess import nearest_valid_size

    return nearest_valid_size(size[0], size[1], multiple)


def export_vit(args, out: Path, size) -> Path:
    path = out / "depth_anything.onnx"
    if not path.is_file():
        script = textwrap.dedent(EXPORT).format(hidden=args.hidden, layers=args.layers, h=size[0], w=size[1],
                                                path=str(path.resolve()))
        subprocess.run([sys.executable, "-c", script], cwd=out, check=True)
    return path


def int8_graphs(fp32: Path, out: Path) -> dict[str, dict]:
    """Our CPU graphs (all layers, without each kind, the speed-checked pick) and ORT quantize_static."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from xnet_edge.calibration import calibrate
    from xnet_edge.calibration.calibration_images import calibration_inputs
    from xnet_edge.calibration.graph import GraphIndex, find_layers
    from xnet_edge.calibration.observers import compute_amax
    from xnet_edge.calibration.pipeline import load_fp32_model
    from xnet_edge.calibration.collect import collect_statistics
    from xnet_edge.calibration.placement import make_plan
    from xnet_edge.calibration.qdq import write_qdq_model
    from xnet_edge.calibration.speed import candidate_sets

    rows = {}
    start = time.perf_counter()
    picked = calibrate(fp32, "builtin", out / "int8", num_images=8, fp16=False)
    rows["ours, picked by speed (calibrate default)"] = {"path": out / "int8" / "model.int8.cpu.onnx",
                                                        "calib_s": time.perf_counter() - start,
                                                        "cpu_speed": picked.report["cpu_speed"]}
    model, contract = load_fp32_model(fp32)
    data = calibration_inputs("builtin", contract.preprocessing, num_images=8)
    stats = collect_statistics(model, data.tensors, histograms=False)
    amax = {n: compute_amax(s, "max") for n, s in stats.items()}
    index = GraphIndex(model)
    for name, subset in candidate_sets(find_layers(model, index)).items():
        plan = make_plan("onnxruntime", model, subset, amax, stats, index)
        path = out / f"ours_{name.replace(' ', '_')}.onnx"
        onnx.save(write_qdq_model(model, plan.activations, plan.layers, quantize_bias=True), str(path))
        rows[f"ours, {name}"] = {"path": path}

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(data.tensors)

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {contract.input_name: x}

    start = time.perf_counter()
    quantize_static(str(fp32), str(out / "ort_minmax.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    rows["ORT quantize_static MinMax"] = {"path": out / "ort_minmax.onnx", "calib_s": time.perf_counter() - start}
    return rows


def measure(fp32: Path, rows: dict, rounds: int) -> None:
    import onnx

    from xnet_edge.calibration.accuracy import heldout_inputs
    from ort_profiling import measure_latency, profile_ops  # benchmarks/ort_profiling.py, next to this script
    from xnet_edge.calibration.sensitivity import relative_error, run_model
    from xnet_edge.contract import read_contract

    contract = read_contract(fp32)
    held = heldout_inputs(contract.preprocessing, 4)
    refs = run_model(onnx.load(str(fp32)), held)
    paths = {"FP32": fp32, **{name: row["path"] for name, row in rows.items()}}
    timing = measure_latency([str(p) for p in paths.values()], held[0], threads=1, rounds=rounds, runs_per_round=2,
                             warmup=1, input_name=contract.input_name)
    fp32_ms = timing[str(fp32)]["cpu_median_ms"]
    rows["FP32"] = {"path": fp32}
    for name, path in paths.items():
        row = rows[name]
        row["rel_error"] = 0.0 if name == "FP32" else relative_error(run_model(onnx.load(str(path)), held), refs)
        row["cpu_ms"] = timing[str(path)]["cpu_median_ms"]
        row["x_fp32"] = fp32_ms / row["cpu_ms"]
        prof = profile_ops(str(path), held[0], runs=2, threads=1, input_name=contract.input_name)
        row["op_ms"] = {op: round(ms, 2) for op, ms in list(prof.by_op.items())[:8]}


def bench_side_by_side(args, out: Path, vit: Path) -> Path:
    """FP32 cpu engines of ×Net Lite0 (demo checkpoint) and the ViT, in one bench report and plot."""
    import xnet_edge
    from xnet_edge.cli import main
    from xnet_edge.engine.build import build_engine
    from xnet_edge.export import export_onnx

    lite0 = out / "xnet_lite0.onnx"
    if not lite0.is_file():
        export_onnx(xnet_edge.load_checkpoint("demo"), lite0, input_size=rounded(args.input_size, 32))
    for name, path in (("lite0", lite0), ("vit", vit)):
        build_engine(path, "cpu", out / f"engine_{name}")
    report = out / "bench_lite0_vs_vit.json"
    h, w = args.input_size
    main(["bench", str(out / "engine_lite0"), str(out / "engine_vit"), "--input-size", f"{h}x{w}",
          "--threads", str(args.threads),
          "--duration-s", str(args.duration_s), "--iterations", "10", "--json", str(report),
          "--plot", str(out / "bench_lite0_vs_vit.png"), "--quiet"])
    return report


def main() -> int:
    from xnet_edge.adopt import adopt_onnx
    from xnet_edge.preprocess import size_arg

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/byom")
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--input-size", type=size_arg, default=(256, 320))
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2, help="threads for the side-by-side bench")
    p.add_argument("--duration-s", type=float, default=10.0)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = rounded(args.input_size, 14)
    vit = out / "depth_anything.adopted.onnx"
    if not vit.is_file():
        adopt_onnx(export_vit(args, out, size), vit, output_kind="inverse-depth", multiple=14)
    rows = int8_graphs(vit, out)
    measure(vit, rows, args.rounds)
    print(f"Depth Anything-shaped ViT ({args.hidden} wide, {args.layers} blocks), {size[0]}x{size[1]}:")
    for name, row in rows.items():
        print(f"  {name:45s} rel. error {row['rel_error']:7.2%}  CPU {row['cpu_ms']:8.1f} ms  x{row['x_fp32']:.2f}")
    bench = bench_side_by_side(args, out, vit)
    summary = {"model": {"hidden": args.hidden, "layers": args.layers, "input_size": list(size)},
               "int8": {name: {k: (str(v) if isinstance(v, Path) else v) for k, v in row.items()}
                        for name, row in rows.items()},
               "bench": str(bench)}
    (out / "byom.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    print(f"wrote {out / 'byom.json'} and {bench}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
