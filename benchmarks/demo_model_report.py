"""Evaluate a trained depth run and (optionally) write the bundled fp16 demo checkpoint.

Reports metrics on held-out generated scenes (a seed never used in training)
and on the real Middlebury Motorcycle scene, each without and with median
scale alignment, as a table and JSON.

    python benchmarks/demo_model_report.py runs/demo_lite0 \
        --write-demo xnet_edge/checkpoints/xnet_lite0_demo.safetensors --json runs/demo_lite0/report.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

KEYS = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3", "silog"]


def evaluate(model, count: int, seed: int) -> dict:
    from xnet_edge.train.report import heldout_scene_metrics, motorcycle_metrics

    return {"generated_heldout": heldout_scene_metrics(model, count=count, seed=seed),
            "motorcycle": motorcycle_metrics(model)}


def rows_of(results: dict, label: str = "") -> list[dict]:
    rows = []
    for dataset, by_align in results.items():
        for align, metrics in by_align.items():
            row = {"model": label, "data": dataset, "align": align}
            row.update({k: f"{metrics[k]:.4f}" for k in KEYS if k in metrics})
            rows.append(row)
    return rows


def write_demo(run_dir: Path, model, dest: Path, results: dict, heldout: dict) -> None:
    import torch

    from xnet_edge.models import read_checkpoint, save_checkpoint

    _, _, extra = read_checkpoint(run_dir / "model.safetensors")
    meta = {"command": extra.get("command"), "settings": extra.get("settings"), "steps": extra.get("steps"),
            "metrics": results, "heldout": heldout,
            "note": "trained on generated scenes only (xnet_edge.data.synthetic); see docs/training.md"}
    save_checkpoint(model, dest, dtype=torch.float16, metadata=meta)


def report_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every demo report script takes: run folder, held-out scenes, outputs."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("run_dir", type=Path, help="a finished `xnet-edge train` run folder")
    p.add_argument("--heldout-count", type=int, default=64)
    p.add_argument("--heldout-seed", type=int, default=20_000)
    p.add_argument("--write-demo", type=Path, help="write the fp16 demo checkpoint here")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    return p


def main(argv=None) -> int:
    args = report_parser(__doc__.split("\n\n")[0]).parse_args(argv)

    import torch

    from xnet_edge.cli.common import print_table
    from xnet_edge.io_utils import write_json_atomic
    from xnet_edge.models import load_checkpoint

    torch.set_num_threads(1)  # 2 threads stall badly on a loaded 2-core machine
    started = time.time()
    model = load_checkpoint(args.run_dir / "model.safetensors")
    results = evaluate(model, args.heldout_count, args.heldout_seed)
    report = {"run_dir": str(args.run_dir), "fp32": results,
              "heldout": {"count": args.heldout_count, "seed": args.heldout_seed}}
    rows = rows_of(results, "fp32")
    if args.write_demo:
        write_demo(args.run_dir, model, args.write_demo, results, report["heldout"])
        demo = load_checkpoint(args.write_demo)  # the fp16 file, loaded back into fp32 weights
        report["fp16_demo"] = evaluate(demo, args.heldout_count, args.heldout_seed)
        report["fp16_demo_bytes"] = args.write_demo.stat().st_size
        rows += rows_of(report["fp16_demo"], "fp16 file")
    print_table(rows, ["model", "data", "align", *KEYS])
    report["seconds"] = round(time.time() - started, 1)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
