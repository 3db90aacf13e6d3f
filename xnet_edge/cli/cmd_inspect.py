"""``xnet-edge inspect``: print an engine folder's manifest and verify its hashes."""

from __future__ import annotations

import json
import sys

from ..tables import print_table


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="print an engine's manifest and verify its files",
                              description="Print OUT_DIR/manifest.json, check the sha256 of the engine and its "
                                          "inputs (exit 2 on a mismatch), and say whether it can run here.")
    p.add_argument("engine_dir", metavar="OUT_DIR", help="engine folder written by `xnet-edge build`")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run_inspect)


def _tensor(t: dict) -> str:
    return f"{t['name']} {t['shape']} {t['dtype']}"


def _summary_rows(m: dict) -> list[dict]:
    bm, pre = m["build_machine"], m["preprocessing"]
    rows = [("artifact", f"{m['artifact']['kind']} {m['artifact']['file']}"),
            ("target", m["target"]["name"]), ("precision", m["precision"]), ("created", m["created"]),
            ("inputs", "; ".join(_tensor(t) for t in m["inputs"])),
            ("outputs", "; ".join(_tensor(t) for t in m["outputs"])),
            ("preprocessing", f"{pre['input_size'][0]}x{pre['input_size'][1]} {pre.get('resize')} "
                              f"mean={pre['mean']} std={pre['std']}"),
            ("model", m["model"].get("name", "-")),
            ("built with", ", ".join(f"{k} {bm[k]}" for k in ("tensorrt", "cuda", "onnxruntime") if bm.get(k))),
            ("build GPU", f"{bm.get('gpu_name') or '-'} (sm {bm.get('compute_capability') or '-'})"),
            ("jetpack", bm.get("jetpack") or "-"), ("platform", bm.get("platform")),
            ("runtime", json.dumps(m["runtime"], sort_keys=True))]
    return [{"field": k, "value": v} for k, v in rows]


def _verdict(manifest: dict, checks: list) -> str:
    """Whether this machine can run the engine; never "can run it" when a file fails its hash."""
    from ..engine import manifest as mf

    bad = [c for c in checks if c.status != "ok"]
    if bad:
        return ("cannot run it: " + ", ".join(f"{c.file} " + ("is missing" if c.status == "missing" else
                                                            "does not match its sha256") for c in bad)
                + " (the folder is not what was built; rebuild it or copy it again)")
    issues = mf.check_compatibility(manifest)
    return "can run it" if not issues else "; ".join(f"{i.severity}: {i.message}" for i in issues)


def run_inspect(args) -> int:
    from ..engine import manifest as mf
    from ..engine.build import inspect_engine

    manifest, checks = inspect_engine(args.engine_dir)
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
    else:
        print_table(_summary_rows(manifest), ["field", "value"])
        print()
        print_table([{"file": c.file, "role": c.role, "sha256": c.expected[:16], "status": c.status}
                     for c in checks], ["file", "role", "sha256", "status"])
        print("\nthis machine: " + _verdict(manifest, checks))
    mf.verify_hashes(args.engine_dir, manifest)  # raises HashMismatchError (exit 2) on a bad file
    if args.json:
        print("hashes ok", file=sys.stderr)
    return 0
