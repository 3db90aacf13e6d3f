#!/usr/bin/env python
"""End-to-end GPU latency of a ×Net model: eager vs fused bridge kernels vs fused + CUDA graph.

Variants (same weights, same input, batch 1 by default):

* ``eager``            — the unfused model (``create_model(..., fused=False)``)
* ``eager+graph``      — the unfused model replayed from a CUDA graph (isolates what the graph alone buys)
* ``fused``            — bridges and pyramid swapped for the Triton ops (``fuse_model``)
* ``fused+graph``      — the fused model replayed from a CUDA graph
* ``fused+graph+io``   — fused+graph plus pinned host→device input and device→host output copies
  through cuda-python (the TensorRT runtime's buffer path); only when cuda-python is installed

Timing follows trtexec: warm up for a fixed time, then run at least
``--iterations`` calls and at least ``--duration-s`` seconds; each call is
timed on the host (``perf_counter`` around launch + synchronize), so CPU launch
overhead, which dominates at batch 1, is included. Every variant's output is
compared with eager (max abs difference in metres).

Examples::

    python benchmarks/bench_gpu_e2e.py                        # xnet_lite0, 256x320, batch 1, fp32 and fp16
    python benchmarks/bench_gpu_e2e.py --dtypes fp16 --json results/e2e.json
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Optional

VARIANTS = ("eager", "eager+graph", "fused", "fused+graph", "fused+graph+io")
DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
TABLE_COLUMNS = ["dtype", "variant", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "fps", "x_eager", "max_abs_diff_m"]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    from xnet_edge.preprocess import size_arg

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="xnet_lite0")
    p.add_argument("--input", type=size_arg, default=(256, 320), metavar="HxW")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp32", "fp16"])
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--warmup-s", type=float, default=0.5)
    p.add_argument("--iterations", type=int, default=200, help="at least this many timed calls")
    p.add_argument("--duration-s", type=float, default=1.0, help="and at least this long")
    p.add_argument("--json", type=Path, default=None, help="write results here")
    args = p.parse_args(argv)
    if args.batch <= 0 or args.iterations <= 0:
        p.error("--batch and --iterations must be positive")
    return args


def time_calls(fn: Callable[[], None], sync: Callable[[], None], warmup_s: float, iterations: int,
               duration_s: float) -> list[float]:
    """Host latency of ``fn`` + ``sync``, trtexec style; returns seconds per call."""
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        fn()
        sync()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < iterations or time.perf_counter() - start < duration_s:
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return samples


def capture_graph(torch, model, static_x):
    """Capture ``model(static_x)`` into a CUDA graph (after a side-stream warm-up); returns (graph, output)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = model(static_x)
    return graph, out


def cuda_python_io(torch, graph, static_x, static_out):
    """A call that copies a pinned input in, replays the graph and copies the output back, all through
    cuda-python (via xnet_edge.runtime.cuda_mem); returns (call, close) or None without cuda-python."""
    from xnet_edge.cuda_import import import_cudart

    if import_cudart() is None:
        return None
    from xnet_edge.runtime.cuda_mem import open_cuda_memory

    mem = open_cuda_memory("cuda-python", torch.cuda.current_device())
    stream = mem.create_stream()
    host_in = mem.alloc_pinned(static_x.numel() * static_x.element_size())
    host_out = mem.alloc_pinned(static_out.numel() * static_out.element_size())
    host_in[:] = static_x.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy()

    def call():
        mem.htod_async(static_x.data_ptr(), host_in, stream)
        mem.synchronize(stream)
        graph.replay()
        torch.cuda.current_stream().synchronize()
        mem.dtoh_async(host_out, static_out.data_ptr(), stream)
        mem.synchronize(stream)

    return call, mem.close


def bench_dtype(args, dname: str) -> list[dict]:
    """All requested variants for one dtype; rows with latency statistics."""
    import torch

    from xnet_edge import create_model
    from xnet_edge.kernels import fuse_model
    from xnet_edge.runtime.timing import summarize_ms

    dtype = getattr(torch, DTYPES[dname])
    torch.manual_seed(0)
    eager = create_model(args.model, fused=False).to("cuda", dtype).eval()
    fused = fuse_model(create_model(args.model, fused=False).to("cuda", dtype).eval())
    fused.load_state_dict(eager.state_dict())
    x = torch.randn(args.batch, 3, *args.input, device="cuda", dtype=dtype)
    sync = torch.cuda.synchronize
    rows, closers = [], []
    with torch.inference_mode():
        reference = eager(x).float()
        calls: dict[str, tuple[Callable, Callable[[], torch.Tensor]]] = {
            "eager": (lambda: eager(x), lambda: eager(x)),
            "fused": (lambda: fused(x), lambda: fused(x)),
        }
        graphs = {}
        want_fused_graph = "fused+graph" in args.variants or "fused+graph+io" in args.variants
        for name, model, wanted in (("eager+graph", eager, "eager+graph" in args.variants),
                                    ("fused+graph", fused, want_fused_graph)):
            if wanted:
                static_x = x.clone()
                graph, out = capture_graph(torch, model, static_x)
                graphs[name] = (graph, static_x, out)
                calls[name] = (graph.replay, lambda graph=graph, out=out: (graph.replay(), out)[1])
        if "fused+graph+io" in args.variants:
            io = cuda_python_io(torch, *graphs["fused+graph"])
            if io is None:
                print("bench_gpu_e2e: cuda-python not installed: skipping fused+graph+io", file=sys.stderr)
            else:
                out = graphs["fused+graph"][2]
                calls["fused+graph+io"] = (io[0], lambda: (io[0](), out)[1])
                closers.append(io[1])
        for name in [v for v in VARIANTS if v in args.variants and v in calls]:
            run, produce = calls[name]
            diff = float((produce().float() - reference).abs().max())
            stats = summarize_ms(time_calls(run, sync, args.warmup_s, args.iterations, args.duration_s))
            rows.append(dict(dtype=dname, variant=name, mean_ms=round(stats["mean_ms"], 3),
                             p50_ms=round(stats["p50_ms"], 3), p90_ms=round(stats["p90_ms"], 3),
                             p95_ms=round(stats["p95_ms"], 3), p99_ms=round(stats["p99_ms"], 3),
                             min_ms=round(stats["min_ms"], 3), count=stats["count"],
                             fps=round(1e3 * args.batch / stats["mean_ms"], 1), max_abs_diff_m=f"{diff:.2e}"))
    for close in closers:
        close()
    base = next((r["p50_ms"] for r in rows if r["variant"] == "eager"), None)
    for r in rows:
        r["x_eager"] = round(base / r["p50_ms"], 2) if base else ""
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("bench_gpu_e2e: no CUDA GPU; nothing to measure", file=sys.stderr)
        return 1
    from xnet_edge.tables import print_table

    rows = [row for dname in args.dtypes for row in bench_dtype(args, dname)]
    props = torch.cuda.get_device_properties(0)
    env = dict(gpu=props.name, torch=torch.__version__, cuda=torch.version.cuda, python=platform.python_version(),
               model=args.model, input=list(args.input), batch=args.batch, date=time.strftime("%Y-%m-%d %H:%M:%S"))
    print(f"\n{env['gpu']} · {args.model} · {args.input[0]}x{args.input[1]} · batch {args.batch} "
          f"· host latency per call (perf_counter around launch + sync)")
    print_table(rows, TABLE_COLUMNS)
    for dname in args.dtypes:
        speed = next((r["x_eager"] for r in rows if r["dtype"] == dname and r["variant"] == "fused+graph"), None)
        if speed:
            print(f"goal {dname}: fused+graph ≥ 1.5x eager at batch {args.batch}: {speed}x -> "
                  f"{'MET' if speed >= 1.5 else 'NOT MET'}")
    if args.json:
        from xnet_edge.io_utils import write_json_atomic

        write_json_atomic(args.json, dict(environment=env, rows=rows))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
