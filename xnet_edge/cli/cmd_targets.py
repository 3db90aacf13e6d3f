"""``xnet-edge targets``: the device profiles engines can be built for."""

from __future__ import annotations

import json

from ..tables import print_table


def register(subparsers) -> None:
    p = subparsers.add_parser("targets", help="list target devices (precisions, DLA, TensorRT, input size)",
                              description="List the target device profiles `xnet-edge build --target` accepts.")
    p.add_argument("--json", action="store_true", help="print a JSON list of profiles instead of a table")
    p.set_defaults(func=run_targets)


def _row(t) -> dict:
    trt = "/".join(t.tensorrt_releases) or t.tensorrt or "/".join(str(g) for g in t.trt_generations) or "-"
    return {"name": t.name, "kind": t.kind, "precisions": ",".join(t.precisions), "default": t.default_precision,
            "dla": t.dla_cores, "tensorrt": trt, "jetpack": t.jetpack or "-", "sm": t.compute_capability or "-",
            "input": f"{t.input_size[0]}x{t.input_size[1]}",
            "workspace": f"{t.workspace_mb} MiB" if t.workspace_mb else "-",
            "memory": f"{t.memory_mb} MiB", "max batch": t.max_batch, "devices": t.description}


def run_targets(args) -> int:
    from ..targets import list_targets

    targets = list_targets()
    if args.json:
        print(json.dumps([t.to_dict() for t in targets], indent=2))
        return 0
    rows = [_row(t) for t in targets]
    print_table(rows, list(rows[0]))
    return 0
