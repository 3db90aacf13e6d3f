#!/usr/bin/env bash
# GPU check for the fused bridge kernels, in under 5 minutes on one H100:
#   1. tests/kernels compiled for real (TRITON_INTERPRET unset; the GPU-only tests included;
#      the slow ones are CPU-side: ONNX export and the sm_90 AOT audit)                         ≤ 120 s
#   2. benchmarks/bench_kernels.py --quick   (edge shapes vs eager/torch.compile,
#                                             large shapes vs copy bandwidth; on timeout it
#                                             reports what it measured)                          ≤ 100 s
#   3. benchmarks/bench_gpu_e2e.py           (xnet_lite0 eager vs fused vs fused+CUDA graph,
#                                             batch 1, 256x320; cuda-python copies if installed) ≤  60 s
#   4. benchmarks/check_cuda_memory.py       (the runtime's CUDA memory layer: pinned/device
#                                             buffers, copies, events, graph replay)             ≤  30 s
#   5. a compact table of everything, printed last
#
# Usage: benchmarks/gpu_check.sh [RESULTS_DIR]                (default: $OUT if set, else ./gpu_check_results)
#        benchmarks/gpu_check.sh --report-only RESULTS_DIR    (reprint the summary of an earlier run)
# Python: $PYTHON, else .venv/bin/python, else python3. A failed or timed-out step is reported and the
# next one still runs. Exit status: 0 only if every step passed.

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

check_gpu() {
    "$PY" - <<'EOF' | tee "$RESULTS_DIR/environment.txt"
import time
import torch, triton
p = torch.cuda.get_device_properties(0) if torch.cuda.is_available() else None
print(f"gpu: {p.name if p else 'NONE'}  sm: {p.multi_processor_count if p else '-'}  torch {torch.__version__}  "
      f"cuda {torch.version.cuda}  triton {triton.__version__}  date: {time.strftime('%Y-%m-%d %H:%M')}")
if p is None:
    raise SystemExit("gpu_check: torch sees no CUDA GPU")
EOF
    return "${PIPESTATUS[0]}"
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
    check_gpu || return 1
    run_step kernel_tests 120 bash -c kernel_tests
    run_step bench_kernels 100 "$PY" benchmarks/bench_kernels.py --quick --rep-ms 50 --no-plot \
        --out-dir "$RESULTS_DIR"
    run_step bench_gpu_e2e 60 "$PY" benchmarks/bench_gpu_e2e.py --warmup-s 0.3 --iterations 100 \
        --duration-s 0.5 --json "$RESULTS_DIR/bench_gpu_e2e.json"
    run_step cuda_memory 30 "$PY" benchmarks/check_cuda_memory.py --mib 64
}

report() {
    "$PY" - <<'EOF'
import json, os, re
from pathlib import Path
from xnet_edge.cli.common import print_table

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
    status = "ok" if rc == "0" else ("TIMEOUT" if rc in ("124", "137") else f"FAILED rc={rc}")
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
[[ -s "$STATUS_FILE" ]] && ! cut -f2 "$STATUS_FILE" | grep -qv '^0$'
