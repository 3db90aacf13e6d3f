"""Compile the fused kernels ahead of time for a GPU architecture, on a machine without a GPU.

Triton ships ``ptxas`` and ``cuobjdump``, so its whole pipeline (TTIR → TTGIR →
LLVM → PTX → cubin) runs on a CPU-only machine. This module records the
launches the launchers would make for real problems (block sizes from the GPU
heuristic), compiles each for a target such as ``sm_90`` (H100), and reads the
registers, stack (spills) and shared memory from the cubin. It catches
compiled-mode errors the interpreter cannot see and checks the block-size
heuristic against the register file.

Run without ``TRITON_INTERPRET`` (the kernels must be ``JITFunction``s)::

    python -m xnet_edge.kernels.aot --models xnet_lite0 xnet_convnext_tiny --dtypes fp16 fp32
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch

from ..errors import UsageError
from . import heuristics, launchers

#: SMs of the H100 SXM the heuristic assumes when no GPU is present.
H100_SMS = 132


@dataclass
class Launch:
    """One kernel launch the launchers asked for: the JIT function, its grid and arguments."""

    kernel: object
    grid: tuple
    args: tuple
    kwargs: dict

    @property
    def name(self) -> str:
        return self.kernel.fn.__name__

    def config(self) -> str:
        k = self.kwargs
        return f"P{k['BLOCK_P']} CO{k['BLOCK_CO']} K{k['BLOCK_K']} w{k['num_warps']}"


class _Recorder:
    """Stands in for a ``JITFunction``: ``kernel[grid](...)`` records the launch instead of running it."""

    def __init__(self, kernel, sink: list):
        self.kernel, self.sink = kernel, sink

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.sink.append(Launch(self.kernel, tuple(grid), args, kwargs))


@contextlib.contextmanager
def recording(sm_count: int = H100_SMS) -> Iterator[list]:
    """Inside the block, launcher calls record their launches into the yielded list, with the block sizes and
    fp32 dot precision they would get on a GPU with ``sm_count`` SMs (TF32 follows ``cudnn.allow_tf32``).

    Raises:
        UsageError: under ``TRITON_INTERPRET=1`` (interpreted kernels cannot be compiled).
    """
    if heuristics.interpreting():
        raise UsageError("ahead-of-time compilation needs TRITON_INTERPRET unset")
    from . import _triton_kernels as kernels

    sink: list = []
    saved = kernels.fused_sum_kernel, kernels.project_levels_kernel, launchers.dot_precision
    kernels.fused_sum_kernel = _Recorder(saved[0], sink)
    kernels.project_levels_kernel = _Recorder(saved[1], sink)
    launchers.dot_precision = lambda dtype, device: saved[2](dtype, torch.device("cuda"))  # as on the GPU
    try:
        with heuristics.assume_gpu(sm_count):
            yield sink
    finally:
        kernels.fused_sum_kernel, kernels.project_levels_kernel, launchers.dot_precision = saved


def compile_launch(launch: Launch, arch: int = 90):
    """Compile one recorded launch for ``sm_<arch>``; returns Triton's CompiledKernel."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    fn = launch.kernel
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*launch.args, **launch.kwargs)
    options, signature, constexprs, attrs = fn._pack_args(backend, launch.kwargs, bound, specialization, options)
    return triton.compile(ASTSource(fn, signature, constexprs, attrs), target=target, options=options.__dict__)


def resource_usage(cubin: bytes) -> dict:
    """Registers, stack bytes (spills) and static shared memory per kernel, from ``cuobjdump``."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        text = subprocess.run([str(tool), "--dump-resource-usage", f.name], capture_output=True, text=True,
                              check=True).stdout
    fields = dict(part.split(":", 1) for line in text.splitlines() if "REG:" in line for part in line.split())
    return dict(registers=int(fields["REG"]), stack=int(fields["STACK"]), local=int(fields["LOCAL"]))


def audit(calls: list[tuple[str, Callable[[], object]]], arch: int = 90, sm_count: int = H100_SMS,
          progress: bool = True) -> list[dict]:
    """Record, compile and measure every launch of each ``(label, call)``; one row per launch."""
    from tqdm import tqdm

    rows = []
    for label, call in tqdm(calls, desc=f"sm_{arch}", unit="op", disable=not progress, file=sys.stderr):
        with recording(sm_count) as launches:
            call()
        for launch in launches:
            compiled = compile_launch(launch, arch)
            usage = resource_usage(compiled.asm["cubin"])
            rows.append(dict(op=label, kernel=launch.name, config=launch.config(), grid=launch.grid,
                             shared=compiled.metadata.shared, **usage))
    return rows


def model_calls(models, sizes, batches, dtypes) -> list[tuple[str, Callable[[], object]]]:
    """Launcher calls for every bridge and pyramid of the models (random CPU tensors, never run)."""
    from .shapes import BridgeShape, bridge_args, pyramid_args, record_shapes

    calls = []
    for model in models:
        for hw in sizes:
            bridges, pyramid = record_shapes(model, tuple(hw), batch=1)
            for batch in batches:
                for dname in dtypes:
                    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dname]
                    for shape in [*bridges, pyramid]:
                        shape = replace(shape, batch=batch)
                        label = f"{model} {hw[0]}x{hw[1]} {dname} {shape.describe()}"
                        if isinstance(shape, BridgeShape):
                            a = bridge_args(shape, dtype)
                            calls.append((label, lambda a=a: launchers.bridge(
                                a["x"], a["e"], a["img"], a["wx"], a["we"], a["wi"], a["bias"],
                                a.get("norm_weight"), a.get("norm_bias"), 1e-6, a["act"])))
                        else:
                            a = pyramid_args(shape, dtype)
                            calls.append((label, lambda a=a: launchers.pyramid_merge(
                                a["feats"], a["weights"], a["bias"], a["act"])))
    return calls


def main(argv: Optional[list[str]] = None) -> int:
    from ..errors import UsageError
    from ..preprocess import parse_size
    from ..tables import print_table

    p = argparse.ArgumentParser(description="Compile the fused kernels for a GPU arch and report registers/spills.")
    p.add_argument("--arch", type=int, default=90, help="compute capability ×10 (90 = H100)")
    p.add_argument("--sm-count", type=int, default=H100_SMS)
    p.add_argument("--models", nargs="+", default=["xnet_lite0", "xnet_convnext_tiny"])
    p.add_argument("--sizes", nargs="+", default=["256x320"], metavar="HxW")
    p.add_argument("--batches", nargs="+", type=int, default=[1])
    p.add_argument("--dtypes", nargs="+", choices=["fp16", "bf16", "fp32"], default=["fp16"])
    p.add_argument("--ieee", action="store_true", help="fp32 dots in IEEE fp32 (cudnn.allow_tf32=False), not TF32")
    p.add_argument("--up-mode", choices=["auto", *heuristics.UP_MODES], default="auto",
                   help="force every smaller input through one path (default: the heuristic's choice)")
    args = p.parse_args(argv)
    try:
        sizes = [parse_size(s) for s in args.sizes]
    except UsageError as exc:
        p.error(str(exc))
    torch.backends.cudnn.allow_tf32 = not args.ieee
    calls = model_calls(args.models, sizes, args.batches, args.dtypes)
    with heuristics.override_up_mode(None if args.up_mode == "auto" else args.up_mode):
        rows = audit(calls, args.arch, args.sm_count)
    print_table(rows, ["op", "kernel", "config", "registers", "stack", "shared"])
    spilled = [r for r in rows if r["stack"] > 0]
    print(f"{len(rows)} launches compiled for sm_{args.arch}; {len(spilled)} with stack use (spills)")
    return 1 if spilled else 0


if __name__ == "__main__":
    sys.exit(main())
