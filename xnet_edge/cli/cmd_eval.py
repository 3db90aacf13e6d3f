"""``xnet-edge eval``: depth accuracy of any artifact on a dataset.

    xnet-edge eval ENGINE_DIR --dataset nyu:/data/nyu_depth_v2_labeled.mat
    xnet-edge eval model.int8.onnx --dataset motorcycle --align median --json report.json
    xnet-edge eval model.onnx --dataset "kitti:/data/eigen_test_files_with_gt.txt?root=/data/raw" --max-images 100
    xnet-edge eval ckpt.safetensors --dataset synthetic:200

Prints one table row of metrics (AbsRel, SqRel, RMSE, RMSE-log, log10, δ1-3, SILog)
and writes the report, per-image metrics included, as JSON with --json.
"""

from __future__ import annotations

from .common import add_runtime_arguments, positive_int, print_table, runtime_options

_ALIGN_CHOICES = ["none", "median", "lstsq", "lstsq-shift"]


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure depth accuracy on a dataset (AbsRel, RMSE, δ1, ...)",
                       description="Evaluate an engine folder, ONNX model, TensorRT plan or checkpoint on a "
                                   "depth dataset with the benchmark's protocol (crop, depth cap).")
    p.add_argument("artifact", help="engine folder, .onnx, .plan/.engine or .safetensors checkpoint")
    p.add_argument("--dataset", "-d", required=True, metavar="KIND:PATH",
                   help="nyu:FILE.mat|DIR, kitti:LIST.txt|DIR, folder:DIR, middlebury:DIR, motorcycle, "
                        "synthetic:COUNT; options as KIND:PATH?key=value&... (e.g. ?max_depth=10&crop=none)")
    p.add_argument("--max-images", type=positive_int, metavar="N", help="evaluate only the first N samples")
    p.add_argument("--align", default="none", choices=_ALIGN_CHOICES,
                   help="per-image scale (median, lstsq) or scale+shift (lstsq-shift) alignment, "
                        "for relative-depth models (default none: metric depth)")
    p.add_argument("--min-depth", type=float, metavar="M", help="override the dataset's minimum depth")
    p.add_argument("--max-depth", type=float, metavar="M", help="override the dataset's depth cap")
    p.add_argument("--json", metavar="PATH", help="write the report (with per-image metrics) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_runtime_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import open_dataset
    from ..eval import TABLE_COLUMNS, evaluate
    from ..io_utils import write_json_atomic
    from ..runtime import Runtime

    dataset = open_dataset(args.dataset)
    align = None if args.align == "none" else args.align
    with Runtime(args.artifact, **runtime_options(args)) as runtime:
        report = evaluate(runtime, dataset, max_images=args.max_images, align=align,
                          min_depth=args.min_depth, max_depth=args.max_depth, progress=not args.no_progress)
    print_table([report.table_row()], TABLE_COLUMNS)
    protocol = report.protocol
    cap = "none" if protocol["max_depth"] is None else f"{protocol['max_depth']:g} m"
    print(f"protocol: depth {protocol['min_depth']:g} m .. {cap}, crop {protocol['crop'] or 'none'}"
          + (f"; {report.skipped} image(s) without valid ground truth skipped" if report.skipped else ""))
    if args.json:
        write_json_atomic(args.json, {"artifact": str(args.artifact), "dataset_spec": args.dataset,
                                      **report.to_dict()})
        print(f"wrote {args.json}")
    return 0
