"""Evaluate a trained segmentation run and (optionally) write the bundled fp16 segmentation demo checkpoint.

Reports mIoU, pixel accuracy and per-class IoU on held-out generated scenes (a seed never
used in training) and on the run's validation scenes, beside the majority-class baseline
(predict the most frequent training class everywhere), as tables and JSON.

    python benchmarks/seg_demo_report.py runs/seg \
        --write-demo xnet_edge/checkpoints/xnet_lite0_seg_demo.safetensors --json runs/seg/report.json \
        --figure docs/images/seg_demo.jpg
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def evaluate(model, datasets: dict) -> dict:
    """``{name: SegEvalReport.to_dict(per_image=False)}`` of ``model`` on each dataset."""
    from xnet_edge.eval import evaluate_segmentation

    return {name: evaluate_segmentation(model, ds, num_classes=model.config.num_classes, progress=False)
            .to_dict(per_image=False) for name, ds in datasets.items()}


def majority_class(run_dir: Path, settings: dict) -> int:
    """The most frequent label of the run's training scenes (read from its scene cache as it is)."""
    from xnet_edge.train.scene_set import cache_key

    cache = Path(settings.get("cache_dir") or run_dir / "cache")
    folder = cache / cache_key(settings["data"], tuple(settings["scene_size"]), settings["seed"], None)
    labels = np.load(folder / "labels.npy", mmap_mode="r")
    return int(np.bincount(np.asarray(labels).reshape(-1)).argmax())


def rows_of(results: dict, label: str) -> list[dict]:
    return [{"model": label, "data": name, "images": r["images"], "mIoU": f"{r['metrics']['miou']:.4f}",
             "pixel_acc": f"{r['metrics']['pixel_accuracy']:.4f}"} for name, r in results.items()]


def class_rows(results: dict, label: str) -> list[dict]:
    rows = []
    for name, r in results.items():
        row = {"model": label, "data": name}
        row.update({c: "-" if v is None else f"{v:.3f}" for c, v in zip(r["class_names"], r["per_class_iou"])})
        rows.append(row)
    return rows


def main(argv=None) -> int:
    from demo_model_report import report_parser, write_demo

    parser = report_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--figure", type=Path, help="write a JPEG: held-out scenes, their labels, the predictions")
    args = parser.parse_args(argv)
    import torch

    from xnet_edge.tables import print_table
    from xnet_edge.data.seg_readers import SyntheticSegmentation
    from xnet_edge.io_utils import write_json_atomic
    from xnet_edge.models import load_checkpoint, read_checkpoint

    torch.set_num_threads(1)  # 2 threads stall badly on a loaded 2-core machine
    started = time.time()
    settings = read_checkpoint(args.run_dir / "model.safetensors")[2]["settings"]
    model = load_checkpoint(args.run_dir / "model.safetensors").eval()
    size = tuple(settings["scene_size"])
    datasets = {f"held-out generated ({args.heldout_count}, seed {args.heldout_seed})":
                SyntheticSegmentation(args.heldout_count, size, args.heldout_seed)}
    if settings.get("val_data", "").startswith("synthetic:"):
        count = int(settings["val_data"].split(":")[1])
        datasets[f"validation generated ({count}, seed {settings['val_seed']})"] = \
            SyntheticSegmentation(count, size, settings["val_seed"])
    results = evaluate(model, datasets)
    majority = majority_class(args.run_dir, settings)
    baseline = evaluate(_Constant(majority, model.config), datasets)
    report = {"run_dir": str(args.run_dir), "fp32": results, "majority_class": majority, "baseline": baseline,
              "heldout": {"count": args.heldout_count, "seed": args.heldout_seed}}
    rows = rows_of(results, "fp32") + rows_of(baseline, f"majority class ({model.config.extra['class_names'][majority]})")
    per_class = class_rows(results, "fp32")
    if args.write_demo:
        write_demo(args.run_dir, model, args.write_demo, results, report["heldout"])
        demo = load_checkpoint(args.write_demo).eval()  # the fp16 file, loaded back into fp32 weights
        report["fp16_demo"] = evaluate(demo, datasets)
        report["fp16_demo_bytes"] = args.write_demo.stat().st_size
        rows += rows_of(report["fp16_demo"], "fp16 file")
        per_class += class_rows(report["fp16_demo"], "fp16 file")
    print_table(rows, ["model", "data", "images", "mIoU", "pixel_acc"])
    print()
    print_table(per_class, list(per_class[0]))
    if args.figure is not None:
        write_figure(model, next(iter(datasets.values())), args.figure)
    report["seconds"] = round(time.time() - started, 1)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


def write_figure(model, dataset, dest: Path, count: int = 3) -> None:
    """A JPEG of ``count`` scenes: image | ground-truth labels | predicted labels (fixed palette)."""
    import cv2

    from xnet_edge.runtime.outputs import colorize_labels

    rows = []
    for index in range(count):
        rgb, gt = dataset[index]
        rows.append(np.concatenate([rgb, colorize_labels(gt), colorize_labels(model.predict(rgb))], axis=1))
    picture = np.concatenate(rows, axis=0)
    dest.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(dest), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


class _Constant:
    """Predicts one class everywhere (the baseline a model must beat)."""

    def __init__(self, label: int, config):
        self.label, self.config = label, config

    def predict(self, rgb):
        return np.full(rgb.shape[:2], self.label, np.int32)


if __name__ == "__main__":
    sys.exit(main())
