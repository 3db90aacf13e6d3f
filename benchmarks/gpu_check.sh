#!/usr/bin/env bash
# The first thing to run on a GPU machine, in under 5 minutes on one H100. It prints the TensorRT,
# CUDA driver and cuda-python versions it finds, then runs what this machine can run; a step it
# cannot run (no GPU, no triton, no TensorRT, no CUDA binding) is skipped with one line, not failed.
#   0. versions: TensorRT (and its CUDA), the CUDA driver, cuda-python (and the CUDA it is built for),
#      pycuda, torch, triton
#   1. tests/kernels compiled for real (TRITON_INTERPRET unset; the GPU-only tests included;
#      the slow ones are CPU-side: ONNX export and the sm_90 AOT audit)                         ≤ 120 s
#   2. benchmarks/bench_kernels.py --quick   (edge shapes vs eager/torch.compile,
#                                             large shapes vs copy bandwidth; on timeout it
#                                             reports what it measured)                          ≤ 100 s
#   3. benchmarks/bench_gpu_e2e.py           (xnet_lite0 eager vs fused vs fused+CUDA graph,
#                                             batch 1, 256x320; cuda-python copies if installed) ≤  60 s
#   4. benchmarks/check_cuda_memory.py       (the runtime's CUDA memory layer: pinned/device
#                                             buffers, copies, events, graph replay)             ≤  30 s
#   5. benchmarks/check_tensorrt_build.py    (TensorRT installed: build a small engine for this
#                                             GPU with xnet-edge's builder and compare its depth
#                                             with ONNX Runtime's)                               ≤ 120 s
#   6. a compact table of everything, printed last
#
# Usage: benchmarks/gpu_check.sh [RESULTS_DIR]                (default: $OUT if set, else ./gpu_check_results)
#        benchmarks/gpu_check.sh --report-only RESULTS_DIR    (reprint the summary of an earlier run)
# Python: $PYTHON, else .venv/bin/python, else python3. A failed or timed-out step is reported and the
# next one still runs. Exit status: 0 only if every step that ran passed (skipped steps do not count;
# a machine with no GPU at all prints one line and exits 0).

set -u
cd "$(dirname "$0")/.."

REPORT_ONLY=0
if [[ "${1:-}" == "--report-only" ]]; then REPORT_ONLY=1; shift; fi
RESULTS_DIR="${1:-${OUT:-gpu_check_results}}"
STATUS_FILE="$RESULTS_DIR/steps.tsv"
mkdir -p "$RESULTS_DIR"
if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3; fi
unset TRITON_INTERPRET
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 RESULTS_DIR

# run_step NAME LIMIT_S CMD...: run under a time limit, tee the log, record exit status and seconds.
run_step() {
    local name="$1" limit="$2" start rc
    shift 2
    echo "=== $name (limit ${limit}s) ==="
    start=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$RESULTS_DIR/$name.log"
    rc=${PIPESTATUS[0]}
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >> "$STATUS_FILE"
}

# versions: one line each, also kept in environment.txt (what fails to import is "not installed").
versions() {
    "$PY" - <<'EOF' | tee "$RESULTS_DIR/environment.txt"
import importlib, time
from xnet_edge.cuda_import import cuda_versions, import_cudart
from xnet_edge.platform import package_version, tensorrt_cuda

def version(module):
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception as exc:  # a broken install is reported, not fatal
        return f"not installed ({type(exc).__name__})"

trt = package_version("tensorrt", import_module="tensorrt")
print(f"tensorrt: {trt or 'not installed'}" + (f" (built for CUDA {tensorrt_cuda() or '?'})" if trt else ""))
cudart = import_cudart()
cuda = cuda_versions(cudart)
print(f"cuda driver: {cuda['driver'] or ('none found' if cudart else 'unknown (no cuda-python)')}")
print(f"cuda-python: {package_version('cuda-python') or 'not installed'}"
      + (f" (built for CUDA {cuda['bindings_cuda']})" if cuda["bindings_cuda"] else ""))
print(f"pycuda: {package_version('pycuda') or 'not installed'}")
gpu = "NONE"
try:
    import torch
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        gpu = f"{p.name}  sm: {p.multi_processor_count}  cc {p.major}.{p.minor}"
except Exception:  # no torch, or a torch that cannot see the driver
    pass
print(f"gpu: {gpu}  torch {version('torch')}  triton {version('triton')}  date: {time.strftime('%Y-%m-%d %H:%M')}")
EOF
}

has_gpu() { ! grep -q "^gpu: NONE" "$RESULTS_DIR/environment.txt"; }
has_module() { "$PY" -c "import $1" >/dev/null 2>&1; }

# skip_step NAME REASON: one line, recorded so that the summary shows it
skip_step() {
    echo "=== $1 skipped: $2 ==="
    printf '%s\t%s\t%s\n' "$1" "skipped: $2" 0 >> "$STATUS_FILE"
}

# kernel_tests: three pytest processes side by side (each test compiles its own kernel variants, and Triton
# compiles one kernel at a time per process); prints each group's summary line, fails if any group fails.
kernel_tests() {
    local groups=("tests/kernels/test_kernels_bridge.py"
                  "tests/kernels/test_kernels_gpu.py tests/kernels/test_kernels_pyramid.py"
                  "tests/kernels/test_kernels_model.py tests/kernels/test_kernels_dispatch.py
                   tests/kernels/test_kernels_bench.py tests/kernels/test_kernels_aot.py")
    local pids=() rc=0 i
    for i in "${!groups[@]}"; do
        # shellcheck disable=SC2086  # word-splitting the file list is intended
        "$PY" -m pytest -q -p no:cacheprovider -m "not slow" ${groups[$i]} > "$RESULTS_DIR/tests_$i.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || rc=1
        tail -n 30 "$RESULTS_DIR/tests_$i.log"
    done
    return $rc
}
export -f kernel_tests
export PY

run_checks() {
    : > "$STATUS_FILE"
    versions
    if ! has_gpu; then
        echo "gpu_check: no CUDA GPU visible to torch: every step skipped on this machine"
        exit 0
    fi
    if has_module triton; then
        run_step kernel_tests 120 bash -c kernel_tests
        run_step bench_kernels 100 "$PY" benchmarks/bench_kernels.py --quick --rep-ms 50 --no-plot \
            --out-dir "$RESULTS_DIR"
    else
        skip_step kernel_tests "triton is not installed"
        skip_step bench_kernels "triton is not installed"
    fi
    run_step bench_gpu_e2e 60 "$PY" benchmarks/bench_gpu_e2e.py --warmup-s 0.3 --iterations 100 \
        --duration-s 0.5 --json "$RESULTS_DIR/bench_gpu_e2e.json"
    if has_module cuda.bindings.runtime || has_module cuda.cudart || has_module pycuda.driver; then
        run_step cuda_memory 30 "$PY" benchmarks/check_cuda_memory.py --mib 64
    else
        skip_step cuda_memory "no CUDA binding (pip install 'xnet-edge[trt]')"
    fi
    if has_module tensorrt; then
        run_step tensorrt_build 120 "$PY" benchmarks/check_tensorrt_build.py --out "$RESULTS_DIR/tensorrt_build"
    else
        skip_step tensorrt_build "TensorRT is not installed"
    fi
}

report() {
    "$PY" - <<'EOF'
import json, os, re
from pathlib import Path
from xnet_edge.tables import print_table

out = Path(os.environ["RESULTS_DIR"])
def text(name):
    path = out / name
    return path.read_text(errors="replace") if path.exists() else ""

print("\n================ gpu_check summary ================")
print(text("environment.txt").strip())
steps = []
for line in text("steps.tsv").splitlines():
    name, rc, secs = line.split("\t")
    # pytest's summary lines ("12 passed, 1 skipped in 3.2s", bare with -q or between "=" rules)
    tally = re.findall(r"^=* ?(\d+ (?:passed|failed|errors?)\b.*? in [\d.]+s).*$", text(f"{name}.log"), re.M)
    status = ("ok" if rc == "0" else rc if rc.startswith("skipped") else
              "TIMEOUT" if rc in ("124", "137") else f"FAILED rc={rc}")
    steps.append(dict(step=name, status=status, seconds=secs, detail="; ".join(tally)))
print_table(steps, ["step", "status", "seconds", "detail"])
if text("bench_kernels.json"):
    data = json.loads(text("bench_kernels.json"))
    print(f"\nper op (fp16; do_bench median ms; D2D copy {data['environment']['copy_gbps']} GB/s)")
    print_table(data["summary"], ["model", "input", "B", "op", "eager_ms", "compile_ms", "fused_ms",
                                  "x_eager", "x_compile", "fused_GB/s", "%copy"])
    print("\n".join(l for l in text("bench_kernels.log").splitlines() if l.endswith("MET")))
if text("bench_gpu_e2e.json"):
    rows = json.loads(text("bench_gpu_e2e.json"))["rows"]
    print("\nend to end (xnet_lite0, 256x320, batch 1; host latency per call)")
    print_table(rows, ["dtype", "variant", "p50_ms", "p90_ms", "p99_ms", "fps", "x_eager", "max_abs_diff_m"])
    print("\n".join(l for l in text("bench_gpu_e2e.log").splitlines() if l.startswith("goal ")))
EOF
}

if [[ $REPORT_ONLY -eq 0 ]]; then
    run_checks || exit 1
fi
report
! cut -f2 "$STATUS_FILE" | grep -qv '^0$\|^skipped'
