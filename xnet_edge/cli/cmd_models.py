"""``xnet-edge models``: the registered variants with parameters, GFLOPs and CPU latency."""

from __future__ import annotations

import json

from ..preprocess import size_arg
from ..tables import print_table
from .common import require_torch


def register(sub) -> None:
    p = sub.add_parser("models", help="list model variants with their size, FLOPs and CPU latency",
                       description="List ×Net variants; cost figures are measured on this machine.")
    p.add_argument("names", nargs="*", help="variants to show (default: all but test_*)")
    p.add_argument("--input-size", type=size_arg, metavar="HxW",
                   help="input size for FLOPs and latency (default: each variant's own, e.g. 256x832 for "
                        "xnet_lite0_outdoor)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per model (median reported)")
    p.add_argument("--include-test", action="store_true", help="include the tiny test_* variants")
    p.add_argument("--names-only", action="store_true", help="only list names (no measurement)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    require_torch("models")
    from tqdm import tqdm

    from ..errors import UsageError
    from ..models import list_models, model_config
    from ..models.profile import profile_model

    names = args.names or list_models(include_test=args.include_test)
    for name in names:
        model_config(name)  # unknown names fail here, before any measurement
    if args.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    if args.names_only:
        print("\n".join(names))
        return 0
    profiles = [profile_model(n, args.input_size, args.repeats)
                for n in tqdm(names, desc="measuring", unit="model", leave=False)]
    if args.json:
        print(json.dumps([dict(vars(p), input_size=list(p.input_size)) for p in profiles], indent=2))
    else:
        rows = [p.row() for p in profiles]
        print_table(rows, ["model", "params (M)", "GFLOPs", "CPU latency (ms)", "input"])
    return 0
