#!/usr/bin/env python
"""Benchmark the fused bridge / pyramid ops against eager PyTorch and torch.compile.

Problems are the real Re-Shape bridges and Post Feature Pyramid of the chosen
×Net variants (recorded from the models, see ``xnet_edge.kernels.shapes``) at
each input size and batch, in each dtype. Providers:

* ``eager``                — the PyTorch reference (``bridge_reference`` / ``pyramid_merge_reference``)
* ``compile``              — ``torch.compile`` of the reference (default mode)
* ``compile-max-autotune`` — ``torch.compile(mode="max-autotune")`` of the reference
* ``fused``                — the Triton custom op

Each provider is first checked against eager (max abs error is reported), then
timed with ``triton.testing.do_bench`` (median of CUDA-event timings; with
``--cudagraph``, ``do_bench_cudagraph``, which hides CPU launch overhead).
Achieved bandwidth counts every input and weight read once and the output
written once, and is compared with a measured device-to-device copy.

Outputs: a summary table (providers side by side, speedups of fused), a long
CSV, a JSON with the machine and settings, and a bar plot.

Examples::

    python benchmarks/bench_kernels.py                                  # the full matrix
    python benchmarks/bench_kernels.py --quick --out-dir results/       # what gpu_check.sh runs
    python benchmarks/bench_kernels.py --dry-run                        # list problems and bytes, no GPU
"""

from __future__ import annotations

import argparse
import csv
import platform
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

PROVIDERS = ("eager", "compile", "compile-max-autotune", "fused")
DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
CSV_COLUMNS = ["model", "input", "batch", "dtype", "op", "shape", "provider", "ms", "gbps", "pct_copy",
               "speedup_vs_eager", "max_abs_err"]
SUMMARY_COLUMNS = ["model", "input", "B", "dtype", "op", "eager_ms", "compile_ms", "autotune_ms", "fused_ms",
                   "x_eager", "x_compile", "fused_GB/s", "%copy"]
EDGE_INPUT, EDGE_BATCH = (256, 320), 1
#: --sweep: (BLOCK_P, num_warps) alternatives to the heuristic's choice
SWEEP = [(p, w) for p in (16, 32, 64, 128) for w in (4, 8)]


@dataclass(frozen=True)
class Problem:
    """One op call to benchmark."""

    model: str
    input_hw: tuple[int, int]
    batch: int
    op: str          # "bridge0".."bridge4" or "pyramid"
    shape: object    # BridgeShape or PyramidShape

    @property
    def input(self) -> str:
        return f"{self.input_hw[0]}x{self.input_hw[1]}"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    from xnet_edge.preprocess import size_arg

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["xnet_lite0", "xnet_convnext_tiny"])
    p.add_argument("--sizes", nargs="+", type=size_arg, default=[(256, 320), (480, 640)], metavar="HxW")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp16", "fp32"])
    p.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    p.add_argument("--ops", nargs="+", choices=["bridge", "pyramid"], default=["bridge", "pyramid"])
    p.add_argument("--quick", action="store_true",
                   help="gpu_check.sh's subset: fp16; edge shapes (256x320, batch 1) with eager/compile/fused; "
                        "large shapes (480x640, batch 8) with eager/fused only")
    p.add_argument("--cudagraph", action="store_true", help="time with do_bench_cudagraph (no launch overhead)")
    p.add_argument("--sweep", action="store_true",
                   help="also time the fused op at other block sizes / warp counts, to check the heuristic")
    p.add_argument("--warmup-ms", type=float, default=25.0)
    p.add_argument("--rep-ms", type=float, default=100.0)
    p.add_argument("--out-dir", type=Path, default=Path("bench_results"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="list problems and byte counts; needs no GPU")
    args = p.parse_args(argv)
    if any(b <= 0 for b in args.batches):
        p.error("batches must be positive")
    return args


def problem_matrix(models, sizes, batches, ops) -> list[Problem]:
    """Every bridge and pyramid call of each model at each input size and batch."""
    from xnet_edge.kernels.shapes import record_shapes

    problems = []
    for model in models:
        for hw in sizes:
            bridges, pyramid = record_shapes(model, tuple(hw), batch=1)
            for batch in batches:
                if "bridge" in ops:
                    problems += [Problem(model, tuple(hw), batch, f"bridge{i}", _with_batch(s, batch))
                                 for i, s in enumerate(bridges)]
                if "pyramid" in ops:
                    problems.append(Problem(model, tuple(hw), batch, "pyramid", _with_batch(pyramid, batch)))
    return problems


def _with_batch(shape, batch: int):
    from dataclasses import replace

    return replace(shape, batch=batch)


def quick_plan(problems: list[Problem], providers: list[str]) -> list[tuple[Problem, list[str]]]:
    """--quick: edge problems get every requested provider but max-autotune; 480x640 batch 8 eager + fused."""
    plan = []
    for pr in problems:
        if pr.input_hw == EDGE_INPUT and pr.batch == EDGE_BATCH:
            plan.append((pr, [p for p in providers if p != "compile-max-autotune"]))
        elif pr.input_hw == (480, 640) and pr.batch == 8:
            plan.append((pr, [p for p in providers if p in ("eager", "fused")]))
    return plan


def problem_bytes(problem: Problem, itemsize: int) -> int:
    from xnet_edge.kernels.shapes import BridgeShape, bridge_bytes, pyramid_bytes

    if isinstance(problem.shape, BridgeShape):
        return bridge_bytes(problem.shape, itemsize)
    return pyramid_bytes(problem.shape, itemsize)


def make_providers(problem: Problem, dtype, providers: list[str]) -> tuple[dict[str, Callable], dict]:
    """Zero-argument callables per provider, over one set of random CUDA inputs."""
    import torch

    from xnet_edge.kernels import bridge_reference, fused_bridge, fused_pyramid_merge, pyramid_merge_reference
    from xnet_edge.kernels.shapes import BridgeShape, bridge_args, pyramid_args

    if isinstance(problem.shape, BridgeShape):
        args, reference, fused = bridge_args(problem.shape, dtype, "cuda"), bridge_reference, fused_bridge
    else:
        args = pyramid_args(problem.shape, dtype, "cuda")
        reference, fused = pyramid_merge_reference, fused_pyramid_merge
    fns: dict[str, Callable] = {}
    for name in providers:
        if name == "eager":
            fns[name] = lambda: reference(**args)
        elif name == "fused":
            fns[name] = lambda: fused(**args, backend="triton")
        else:
            mode = "max-autotune" if name == "compile-max-autotune" else None
            compiled = torch.compile(reference, mode=mode, dynamic=False)
            fns[name] = lambda compiled=compiled: compiled(**args)
    return fns, args


def copy_bandwidth_gbps(rep_ms: float) -> float:
    """Device-to-device copy bandwidth (read + write bytes / time) of a 512 MiB buffer."""
    import torch
    from triton.testing import do_bench

    src = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = do_bench(lambda: dst.copy_(src), warmup=25, rep=rep_ms, return_mode="median")
    return 2 * src.numel() / (ms * 1e-3) / 1e9


def time_ms(fn: Callable, args: argparse.Namespace) -> float:
    from triton.testing import do_bench, do_bench_cudagraph

    if args.cudagraph:
        return do_bench_cudagraph(fn, rep=args.rep_ms, return_mode="median")
    return do_bench(fn, warmup=args.warmup_ms, rep=args.rep_ms, return_mode="median")


def run_plan(plan, args, copy_gbps: float, rows: list[dict]) -> None:
    """Check and time every (problem, dtype, provider), appending long-form rows to ``rows`` as they come
    (so an interrupted run keeps what it measured)."""
    import torch
    from tqdm import tqdm

    total = sum(len(provs) for _, provs in plan) * len(args.dtypes)
    with tqdm(total=total, desc="bench", unit="run", file=sys.stderr) as bar:
        for problem, providers in plan:
            for dname in args.dtypes:
                dtype = getattr(torch, DTYPES[dname])
                torch._dynamo.reset()  # one compiled graph per problem; no recompile limit across problems
                fns, _ = make_providers(problem, dtype, providers)
                with torch.inference_mode():
                    expected = fns["eager"]().float() if "eager" in fns else None
                    for name, fn in fns.items():
                        err = float((fn().float() - expected).abs().max()) if expected is not None else float("nan")
                        ms = time_ms(fn, args)
                        rows.append(_row(problem, dname, dtype, name, ms, err, copy_gbps))
                        if name == "fused" and args.sweep:
                            rows += sweep_rows(problem, dname, dtype, fn, expected, args, copy_gbps)
                        bar.update(1)


def annotate_speedups(rows: list[dict]) -> None:
    """Fill ``speedup_vs_eager`` of every row whose problem has an eager time."""
    eager_ms = {_key(r): r["ms"] for r in rows if r["provider"] == "eager"}
    for r in rows:
        r["speedup_vs_eager"] = round(eager_ms[_key(r)] / r["ms"], 2) if _key(r) in eager_ms else ""


def sweep_rows(problem: Problem, dname: str, dtype, fn: Callable, expected, args, copy_gbps: float) -> list[dict]:
    """The fused op under each (BLOCK_P, num_warps) of :data:`SWEEP`; configs that fail to compile are skipped."""
    from xnet_edge.kernels.heuristics import override_blocks

    rows = []
    for block_p, warps in SWEEP:
        with override_blocks(block_p=block_p, num_warps=warps):
            try:
                err = float((fn().float() - expected).abs().max()) if expected is not None else float("nan")
                ms = time_ms(fn, args)
            except Exception as exc:  # noqa: BLE001 - e.g. triton OutOfResources for one config
                print(f"sweep: P{block_p} w{warps} skipped for {problem.shape.describe()}: {exc}", file=sys.stderr)
                continue
        rows.append(_row(problem, dname, dtype, f"fused[P{block_p} w{warps}]", ms, err, copy_gbps))
    return rows


def sweep_summary(rows: list[dict]) -> list[dict]:
    """Per problem: the heuristic's fused time against the fastest swept configuration."""
    by_key: dict[tuple, dict] = {}
    for r in rows:
        if r["provider"].startswith("fused"):
            by_key.setdefault(_key(r), {})[r["provider"]] = r["ms"]
    out = []
    for (model, inp, batch, dtype, op), times in by_key.items():
        swept = {k: v for k, v in times.items() if k != "fused"}
        if "fused" not in times or not swept:
            continue
        best = min(swept, key=swept.get)
        out.append(dict(model=model, input=inp, B=batch, dtype=dtype, op=op, heuristic_ms=times["fused"],
                        best=best.removeprefix("fused"), best_ms=swept[best],
                        heuristic_vs_best=round(times["fused"] / swept[best], 2)))
    return out


def _key(row: dict) -> tuple:
    return row["model"], row["input"], row["batch"], row["dtype"], row["op"]


def _row(problem: Problem, dname: str, dtype, provider: str, ms: float, err: float, copy_gbps: float) -> dict:
    import torch

    nbytes = problem_bytes(problem, torch.empty((), dtype=dtype).element_size())
    gbps = nbytes / (ms * 1e-3) / 1e9
    return dict(model=problem.model, input=problem.input, batch=problem.batch, dtype=dname, op=problem.op,
                shape=problem.shape.describe(), provider=provider, ms=round(ms, 5), gbps=round(gbps, 1),
                pct_copy=round(100 * gbps / copy_gbps, 1), max_abs_err=f"{err:.2e}")


def summarize(rows: list[dict]) -> list[dict]:
    """One wide row per problem: providers side by side and the fused speedups."""
    by_key: dict[tuple, dict] = {}
    for r in rows:
        if r["provider"] in PROVIDERS:
            by_key.setdefault(_key(r), {})[r["provider"]] = r
    out = []
    for (model, inp, batch, dtype, op), provs in by_key.items():
        ms = {p: provs[p]["ms"] for p in provs}
        fused = provs.get("fused")
        row = dict(model=model, input=inp, B=batch, dtype=dtype, op=op,
                   eager_ms=ms.get("eager", ""), compile_ms=ms.get("compile", ""),
                   autotune_ms=ms.get("compile-max-autotune", ""), fused_ms=ms.get("fused", ""))
        if fused:
            row["x_eager"] = round(ms["eager"] / ms["fused"], 2) if "eager" in ms else ""
            row["x_compile"] = round(ms["compile"] / ms["fused"], 2) if "compile" in ms else ""
            row["fused_GB/s"], row["%copy"] = fused["gbps"], fused["pct_copy"]
        out.append(row)
    return out


def goal_lines(summary: list[dict]) -> list[str]:
    """The issue's per-op goals, checked on the figures just measured."""
    lines = []
    edge = [r for r in summary if r["input"] == "256x320" and r["B"] == 1 and r["op"].startswith("bridge")
            and r.get("x_eager") not in (None, "")]
    if edge:
        worst_e = min(edge, key=lambda r: r["x_eager"])
        lines.append(f"edge bridges (256x320, B1): fused vs eager ≥ 4x: min {worst_e['x_eager']}x "
                     f"({worst_e['model']} {worst_e['op']} {worst_e['dtype']}) -> "
                     f"{'MET' if worst_e['x_eager'] >= 4 else 'NOT MET'}")
        with_compile = [r for r in edge if r.get("x_compile") not in (None, "")]
        if with_compile:
            worst_c = min(with_compile, key=lambda r: r["x_compile"])
            lines.append(f"edge bridges (256x320, B1): fused vs torch.compile ≥ 2x: min {worst_c['x_compile']}x "
                         f"({worst_c['model']} {worst_c['op']} {worst_c['dtype']}) -> "
                         f"{'MET' if worst_c['x_compile'] >= 2 else 'NOT MET'}")
    large = [r for r in summary if r["input"] == "480x640" and r["B"] == 8 and r.get("%copy") not in (None, "")]
    if large:
        worst = min(large, key=lambda r: r["%copy"])
        verdict = "MET" if worst["%copy"] >= 70 else "NOT MET"
        lines.append(f"large shapes (480x640, B8): fused ≥ 70% of copy bandwidth: min {worst['%copy']}% "
                     f"({worst['model']} {worst['op']} {worst['dtype']}) -> {verdict}")
    return lines


def environment(copy_gbps: float, args: argparse.Namespace) -> dict:
    import torch
    import triton

    props = torch.cuda.get_device_properties(0)
    return dict(gpu=props.name, sm_count=props.multi_processor_count, capability=f"{props.major}.{props.minor}",
                torch=torch.__version__, triton=triton.__version__, cuda=torch.version.cuda,
                python=platform.python_version(), copy_gbps=round(copy_gbps, 1),
                timing="do_bench_cudagraph" if args.cudagraph else "do_bench", rep_ms=args.rep_ms,
                cudnn_tf32=torch.backends.cudnn.allow_tf32, date=time.strftime("%Y-%m-%d %H:%M:%S"))


def write_outputs(rows, summary, env, out_dir: Path, plot: bool) -> None:
    from xnet_edge.io_utils import atomic_path, write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "bench_kernels.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    write_json_atomic(out_dir / "bench_kernels.json", dict(environment=env, summary=summary, rows=rows))
    if plot:
        plot_speedups(summary, out_dir / "bench_kernels.png")


def plot_speedups(summary: list[dict], path: Path) -> None:
    """Horizontal bars: fused speedup over eager and over torch.compile, one bar pair per problem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xnet_edge.io_utils import atomic_path

    rows = [r for r in summary if r.get("x_eager") not in (None, "")]
    if not rows:
        return
    labels = [f"{r['model'].replace('xnet_', '')} {r['input']} B{r['B']} {r['dtype']} {r['op']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.5))
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [r["x_eager"] for r in rows], height=0.4, label="fused vs eager")
    ax.barh([y - 0.2 for y in ys], [r["x_compile"] or 0 for r in rows], height=0.4, label="fused vs torch.compile")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(list(ys), labels, fontsize=6)
    ax.set_xlabel("speedup (×)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130)
    plt.close(fig)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from xnet_edge.tables import print_table

    if args.quick:
        args.dtypes = ["fp16"]
        problems = problem_matrix(args.models, [EDGE_INPUT, (480, 640)], [EDGE_BATCH, 8], args.ops)
        plan = quick_plan(problems, args.providers)
    else:
        problems = problem_matrix(args.models, args.sizes, args.batches, args.ops)
        plan = [(pr, list(args.providers)) for pr in problems]
    if args.dry_run:
        rows = [dict(model=p.model, input=p.input, B=p.batch, op=p.op, shape=p.shape.describe(),
                     providers=",".join(provs), **{f"MB_{d}": round(problem_bytes(p, 4 if d == "fp32" else 2) / 1e6, 3)
                                                  for d in args.dtypes})
                for p, provs in plan]
        print_table(rows, list(rows[0]) if rows else ["model"])
        return 0
    import torch

    if not torch.cuda.is_available():
        print("bench_kernels: no CUDA GPU (use --dry-run to list the problems)", file=sys.stderr)
        return 1
    copy_gbps = copy_bandwidth_gbps(args.rep_ms)
    rows: list[dict] = []
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` (gpu_check.sh): keep and report what was measured
    try:
        run_plan(plan, args, copy_gbps, rows)
    except KeyboardInterrupt:
        print(f"bench_kernels: interrupted; reporting the {len(rows)} measurements made", file=sys.stderr)
    annotate_speedups(rows)
    summary = summarize(rows)
    env = environment(copy_gbps, args)
    write_outputs(rows, summary, env, args.out_dir, not args.no_plot)
    print(f"\n{env['gpu']} · torch {env['torch']} · triton {env['triton']} · copy {env['copy_gbps']} GB/s "
          f"· {env['timing']} (median)")
    print_table(summary, SUMMARY_COLUMNS)
    if args.sweep:
        print("\nblock-size sweep (fused; heuristic_vs_best > 1 means a swept config was faster)")
        print_table(sweep_summary(rows), ["model", "input", "B", "dtype", "op", "heuristic_ms", "best", "best_ms",
                                          "heuristic_vs_best"])
    for line in goal_lines(summary):
        print(line)
    print(f"wrote {args.out_dir}/bench_kernels.csv, .json{'' if args.no_plot else ', .png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
