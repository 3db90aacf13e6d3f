"""GPU check of the runtime's CUDA memory layer (no TensorRT needed): buffers, copies, events, graphs.

Run on a machine with an NVIDIA GPU and cuda-python (or pycuda) installed; meant to be
called from ``benchmarks/gpu_check.sh``. For each binding that imports it:

1. allocates device and pinned host buffers the way the TensorRT backend does;
2. round-trips random data host -> device -> host on one stream and checks it bit for bit;
3. times the copies with CUDA events and prints the bandwidth;
4. (cuda-python) captures the H2D + D2H copies into a CUDA graph, changes the host
   input, replays the graph and checks the new data arrives;
5. closes the layer and checks it can be reopened.

    python benchmarks/check_cuda_memory.py [--mib 64] [--binding auto|cuda-python|pycuda]

Prints one line per check and exits 1 if any fails. On a machine without a GPU it says so
and exits 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def check_binding(api: str, mib: int) -> list[tuple[str, bool, str]]:
    from xnet_edge.runtime.cuda_mem import open_cuda_memory

    results = []
    nbytes = mib * 2**20
    mem = open_cuda_memory(api)
    try:
        name = mem.name
        device = mem.alloc_device(nbytes)
        host_in, host_out = mem.alloc_pinned(nbytes), mem.alloc_pinned(nbytes)
        stream = mem.create_stream()
        start, mid, end = mem.create_event(), mem.create_event(), mem.create_event()
        host_in[:] = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
        host_out[:] = 0
        mem.record(start, stream)
        mem.htod_async(device, host_in, stream)
        mem.record(mid, stream)
        mem.dtoh_async(host_out, device, stream)
        mem.record(end, stream)
        mem.synchronize(stream)
        same = bool(np.array_equal(host_in, host_out))
        results.append((f"{name}: {mib} MiB round trip", same, "bit-exact" if same else "data differs"))
        h2d_ms, d2h_ms = mem.elapsed_ms(start, mid), mem.elapsed_ms(mid, end)
        results.append((f"{name}: event timing", h2d_ms > 0 and d2h_ms > 0,
                        f"H2D {h2d_ms:.3f} ms ({mib / 1024 / (h2d_ms / 1e3):.1f} GiB/s), "
                        f"D2H {d2h_ms:.3f} ms ({mib / 1024 / (d2h_ms / 1e3):.1f} GiB/s)"))
        if mem.supports_graphs:
            mem.begin_capture(stream)
            mem.htod_async(device, host_in, stream)
            mem.dtoh_async(host_out, device, stream)
            graph = mem.end_capture(stream)
            host_in[:] = 7
            host_out[:] = 0
            t0 = time.perf_counter()
            mem.launch_graph(graph, stream)
            mem.synchronize(stream)
            ok = bool((host_out == 7).all())
            results.append((f"{name}: CUDA graph replay", ok,
                            f"{(time.perf_counter() - t0) * 1e3:.3f} ms wall" if ok else "stale data after replay"))
            mem.destroy_graph(graph)
    finally:
        mem.close()
    reopened = open_cuda_memory(api)
    reopened.close()
    results.append((f"{name}: close and reopen", True, "ok"))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="buffer size in MiB")
    parser.add_argument("--binding", default="all", choices=["all", "cuda-python", "pycuda"])
    args = parser.parse_args()
    from xnet_edge.platform import machine_info
    from xnet_edge.errors import MissingDependencyError

    info = machine_info()
    if not info.get("gpu_name"):
        print("no NVIDIA GPU found: nothing to check")
        return 2
    print(f"GPU: {info['gpu_name']} (compute capability {info['compute_capability']}, CUDA {info['cuda']})")
    apis = ["cuda-python", "pycuda"] if args.binding == "all" else [args.binding]
    results = []
    for api in apis:
        try:
            results += check_binding(api, args.mib)
        except MissingDependencyError as exc:
            print(f"skip {api}: {exc}")
    if not results:
        print("neither cuda-python nor pycuda is installed")
        return 1
    for label, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'}  {label}: {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
