"""``xnet-edge calibrate``: FP32 ONNX + images → INT8 Q/DQ models, TensorRT cache, FP16 model, JSON report."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="INT8-calibrate an exported ONNX model (Q/DQ models, TensorRT cache, report)",
        description="Calibrate activation ranges on images and write DIR/model.int8.onnx (TensorRT Q/DQ), "
                    "DIR/model.int8.cpu.onnx (ONNX Runtime CPU Q/DQ), DIR/model.fp16.onnx, "
                    "DIR/calibration.cache (TensorRT legacy cache) and DIR/calibration.json.")
    p.add_argument("model", help="FP32 ONNX model from `xnet-edge export`")
    p.add_argument("--images", required=True,
                   help="image folder (jpg/png/bmp), video file, or 'builtin' (real photos from scikit-image)")
    p.add_argument("--method", default="max", choices=("max", "percentile", "entropy", "mse"),
                   help="activation range method (default max; entropy is TensorRT's KL method, 2048 bins)")
    p.add_argument("--percentile", type=float, default=99.99, help="percentile for --method percentile (99.99)")
    p.add_argument("--num-images", type=int, default=32, help="calibration images to use (default 32)")
    p.add_argument("--min-images", type=int, help="fewest readable images to accept (default min(8, --num-images))")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--keep-fp", type=int, default=0, metavar="N",
                   help="leave the N most sensitive layers in float (runs the sensitivity analysis)")
    p.add_argument("--sensitivity", action="store_true", help="rank layers by the output error they cause")
    p.add_argument("--no-bias-correction", action="store_true",
                   help="do not correct Conv biases for the mean shift of weight rounding")
    p.add_argument("--eval", action="store_true",
                   help="compare FP32 and INT8 on the Middlebury Motorcycle ground truth and held-out images")
    p.add_argument("--eval-align", default="median", choices=("none", "median", "lstsq", "lstsq-shift"),
                   help="depth alignment for --eval metrics (default median)")
    p.add_argument("--trt-version", default="10.3.0",
                   help="TensorRT release that reads calibration.cache (8.5.2 JetPack 5, 10.3.0 JetPack 6)")
    p.add_argument("--no-fp16", action="store_true", help="do not write model.fp16.onnx")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-speed-check", action="store_true",
                   help="quantize every layer in the CPU graph instead of only the layer kinds measured to run "
                        "faster in INT8 on this CPU (and get byte-identical files for the same inputs)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=run)


def _print_eval(report: dict) -> None:
    from ..tables import print_table

    ev = report.get("eval") or {}
    moto = ev.get("motorcycle")
    if moto:
        rows = [{"model": label, "AbsRel": f"{m['abs_rel']:.4f}", "RMSE (m)": f"{m['rmse']:.4f}",
                 "delta1": f"{m['d1']:.4f}"} for label, m in moto["metrics"].items()]
        print(f"\nMiddlebury Motorcycle (align {moto['align']}):")
        print_table(rows, ["model", "AbsRel", "RMSE (m)", "delta1"])
    held = ev.get("heldout")
    if held:
        rows = [{"model": label, "relative error": f"{e['relative_error']:.4%}", "max abs": f"{e['max_abs']:.4g}"}
                for label, e in held["errors"].items()]
        print(f"\nvs FP32 on {held['num_images']} held-out images:")
        print_table(rows, ["model", "relative error", "max abs"])


def _layer_note(report: dict, engine: str) -> str:
    """`` (115/116 layers INT8; float: encoder.conv_stem)`` for an engine graph, else ''."""
    layers = report.get("layers") or []
    if not layers or engine not in layers[0]["quantized"]:  # not an engine graph (fp16, cache, report)
        return ""
    floats = [l["module"] for l in layers if not l["quantized"][engine]]
    shown = ", ".join(floats[:4]) + (f", +{len(floats) - 4} more" if len(floats) > 4 else "")
    return f"  ({len(layers) - len(floats)}/{len(layers)} layers INT8" + (f"; float: {shown})" if floats else ")")


def run(args) -> int:
    from ..calibration.pipeline import CalibrationOptions, calibrate
    from ..tables import print_table

    options = CalibrationOptions(
        method=args.method, percentile=args.percentile, num_images=args.num_images, seed=args.seed,
        min_images=args.min_images, keep_fp=args.keep_fp, sensitivity=args.sensitivity, fp16=not args.no_fp16,
        bias_correction=not args.no_bias_correction,
        evaluate=args.eval, eval_align=None if args.eval_align == "none" else args.eval_align,
        trt_version=args.trt_version, progress=not args.no_progress and sys.stderr.isatty(),
        speed_check=not args.no_speed_check)
    result = calibrate(args.model, args.images, args.output, options)
    report = result.report
    data = report["data"]
    print(f"calibrated {report['model']['file']} on {data['num_images']} images from {data['source']} "
          f"(method {report['method']}, {result.timings['calibration_s']:.1f} s; total {result.timings['total_s']:.1f} s)")
    for role, path in result.files.items():
        print(f"  {role:12s} {path}{_layer_note(report, role)}")
    if report["sensitivity"]:
        rows = [{"rank": r["rank"], "layer": r["module"], "kind": r["kind"],
                 "output error": f"{r['relative_error']:.3%}", "kept float": "yes" if r["node"] in report["keep_fp"] else ""}
                for r in report["sensitivity"][:10]]
        print("\nmost sensitive layers (quantized alone):")
        print_table(rows, ["rank", "layer", "kind", "output error", "kept float"])
    for note in (report.get("cpu_speed") or {}).get("notes", []):
        print(f"note: {note}")
    _print_eval(report)
    return 0
