"""``xnet-edge bench``: latency of one or more artifacts, measured the way trtexec does."""

from __future__ import annotations

from pathlib import Path

from ..preprocess import size_arg
from ..tables import print_table

EPILOG = """\
method: warm up for --warmup-ms, then run until every artifact has at least --iterations calls
and --duration-s seconds of measured time, in interleaved rounds (so drift hits all alike);
inputs rotate over real photos. Ratios ("speedup") are against the first artifact.
examples:
  xnet-edge bench engines/cpu-fp32 engines/cpu-int8 --json bench.json --plot bench.png
  xnet-edge bench engines/orin-int8 --cuda-graph --trtexec
  xnet-edge bench xnet_lite0.onnx depth_anything.onnx --input-size 256x320   # 256x320 and 252x322
"""


def register(sub) -> None:
    import argparse

    p = sub.add_parser("bench", help="measure latency/throughput of engines side by side (trtexec's method)",
                       description="Benchmark one or more artifacts (engine folders, .onnx, .plan, checkpoints).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="engine folder, .onnx, .plan or checkpoint")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="images per call (default 1)")
    p.add_argument("--input-size", type=size_arg, default=None, metavar="HxW",
                   help="one network input size for every artifact, rounded to each model's size multiple "
                        "(14 for ViT patch models, 32 for ×Net; the JSON records both); a model with a fixed "
                        "size must have that rounded size")
    p.add_argument("--frame-size", type=size_arg, default=(480, 640), metavar="HxW",
                   help="size of the camera frames for --end-to-end (default 480x640)")
    p.add_argument("--warmup-ms", type=float, default=200.0, metavar="MS", help="warm-up time per artifact (default 200)")
    p.add_argument("--duration-s", type=float, default=3.0, metavar="S", help="minimum measured seconds per artifact (default 3)")
    p.add_argument("--iterations", type=int, default=50, metavar="N", help="minimum measured calls per artifact (default 50)")
    p.add_argument("--rounds", type=int, default=10, metavar="N", help="interleaved rounds the measurement is split into (default 10)")
    p.add_argument("--switch-calls", type=int, default=1, metavar="N",
                   help="untimed calls discarded at the start of each block after switching artifacts (default 1)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="ONNX Runtime / PyTorch CPU threads (0: one per core)")
    p.add_argument("--cuda-graph", action="store_true", help="TensorRT: capture and replay a CUDA graph")
    p.add_argument("--spin-wait", action="store_true", help="TensorRT: busy-wait on GPU synchronization")
    p.add_argument("--end-to-end", action="store_true",
                   help="time preprocessing + network + postprocessing (default: the network only)")
    p.add_argument("--json", metavar="OUT", default=None, help="write the report as JSON")
    p.add_argument("--plot", metavar="OUT.png", default=None, help="write latency distributions as a PNG")
    p.add_argument("--trtexec", action="store_true", help="also run trtexec on TensorRT plans, side by side")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def check_output_paths(json_path, plot_path) -> None:
    """Refuse outputs that cannot be written, before any measurement.

    Raises:
        UsageError: the path is a folder, its parent is a file, or the plot is not a .png.
        OutputError: the folder cannot be written (read-only, no permission).
    """
    from ..errors import UsageError
    from ..io_utils import check_writable

    for flag, value in (("--json", json_path), ("--plot", plot_path)):
        if value is None:
            continue
        path = Path(value)
        if path.is_dir():
            raise UsageError(f"{flag} {value} is a folder; give a file name")
        parent = next((q for q in path.absolute().parents if q.exists()), None)
        if parent is not None and not parent.is_dir():
            raise UsageError(f"{flag} {value}: {parent} is a file, not a folder")
    if plot_path is not None and Path(plot_path).suffix.lower() != ".png":
        raise UsageError(f"--plot {plot_path}: the plot is written as PNG; give a .png file name")
    for flag, value in (("--json", json_path), ("--plot", plot_path)):
        if value is not None:
            check_writable(value, flag)


def run(args) -> int:
    import sys

    from ..bench import BenchSettings, plot_report, run_benchmark
    from ..bench.report import LATENCY_COLUMNS, STAGE_COLUMNS, environment_notes, latency_rows, stage_rows
    from ..io_utils import write_json_atomic

    settings = BenchSettings(warmup_ms=args.warmup_ms, duration_s=args.duration_s, iterations=args.iterations,
                             batch=args.batch, rounds=args.rounds, switch_calls=args.switch_calls).validate()
    check_output_paths(args.json, args.plot)
    bar = None

    def progress(fraction: float) -> None:  # the bar starts with the measurement, after loading
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=100, desc="measuring", unit="%", leave=False, file=sys.stderr,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
        bar.update(max(0, int(fraction * 100) - bar.n))

    try:
        report = run_benchmark(args.artifacts, settings, end_to_end=args.end_to_end, threads=args.threads,
                               cuda_graph=args.cuda_graph, spin_wait=args.spin_wait, input_size=args.input_size,
                               frame_size=args.frame_size, trtexec=args.trtexec, progress=progress,
                               log=(lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr)))
    finally:
        if bar is not None:
            bar.close()
    print_summary(report)
    print_table(latency_rows(report), LATENCY_COLUMNS)
    print(f"\nper-call time by stage (ms, {report['settings']['mode']}):")
    print_table(stage_rows(report), STAGE_COLUMNS)
    for r in report["results"]:
        for note in r["notes"]:
            print(f"note: {r['label']}: {note}")
    for note in environment_notes(report["environment"]):  # a busy machine: a warning, not a footnote
        print(f"xnet-edge: warning: {note}", file=sys.stderr)
    if args.json:
        write_json_atomic(args.json, report)
        print(f"wrote {args.json}")
    if args.plot:
        plot_report(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def print_summary(report: dict) -> None:
    """One header line: machine, mode, batch and measurement settings."""
    env, s = report["environment"], report["settings"]
    cpu = env["cpu"]
    gpu = (env.get("gpu") or {}).get("name")
    machine = f"{cpu.get('model') or 'CPU'} ({cpu.get('usable_cores')} cores)" + (f", {gpu}" if gpu else "")
    print(f"{machine}; {s['mode']}, batch {s['batch']}; >= {s['iterations']} calls and >= {s['duration_s']:g} s "
          f"per artifact after {s['warmup_ms']:g} ms warm-up, {len(s['inputs'])} rotating real images")
