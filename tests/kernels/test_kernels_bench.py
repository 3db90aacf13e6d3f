"""The CPU-runnable logic of the benchmark scripts and gpu_check.sh (the timing itself needs a GPU)."""

import json
import subprocess
from pathlib import Path

import pytest
from suite_helpers import load_benchmark

from xnet_edge.kernels.shapes import BridgeShape, PyramidShape, bridge_bytes, pyramid_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_kernels")


def test_byte_counts_by_hand():
    # xnet_lite0's last bridge at 256x320, batch 1, fp16: e 16·20480 + y 32·20480 + x 24·5120
    # + img 3·20480 + We/Wx/Wi 32·(16+24+3) + b 32 = 1 168 768 elements = 2 337 536 bytes
    shape = BridgeShape(batch=1, ce=16, hw=(128, 160), cout=32, cx=24, x_hw=(64, 80))
    assert bridge_bytes(shape, 2) == 2_337_536
    # LayerNorm adds gamma and beta; no x/img: e 4·6 + y 8·6 + We 8·4 + b 8 + LN 16 = 128 elements
    assert bridge_bytes(BridgeShape(batch=1, ce=4, hw=(2, 3), cout=8, use_image=False, norm="layernorm"), 4) == 512
    # pyramid: y 2·4·(4·6) + b 4 + levels 2·3·(2·3) + 4·3 + 2·5·(4·6) + 4·5 = 192+4+36+12+240+20 = 504
    assert pyramid_bytes(PyramidShape(batch=2, levels=((3, 2, 3), (5, 4, 6)), cout=4), 1) == 504


def test_parse_args(bench):
    args = bench.parse_args([])
    assert args.models == ["xnet_lite0", "xnet_convnext_tiny"]
    assert args.sizes == [(256, 320), (480, 640)] and args.batches == [1, 8]
    assert args.providers == list(bench.PROVIDERS)
    with pytest.raises(SystemExit):
        bench.parse_args(["--sizes", "256"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--batches", "0"])


def test_problem_matrix_and_quick_plan(bench):
    # test_xnet_effnet has xnet_lite0's structure (5 bridges + pyramid, reductions 32..2) and builds fast
    problems = bench.problem_matrix(["test_xnet_effnet"], [(256, 320), (480, 640)], [1, 8], ["bridge", "pyramid"])
    assert len(problems) == 2 * 2 * 6  # sizes × batches × (5 bridges + pyramid)
    assert problems[0].shape.hw == (8, 10) and problems[5].op == "pyramid"
    plan = bench.quick_plan(problems, list(bench.PROVIDERS))
    edge = [provs for pr, provs in plan if pr.input_hw == (256, 320)]
    large = [provs for pr, provs in plan if pr.input_hw == (480, 640)]
    assert len(edge) == 6 and all(p == ["eager", "compile", "fused"] for p in edge)
    assert len(large) == 6 and all(p == ["eager", "fused"] for p in large)
    assert all(pr.batch == 8 for pr, _ in plan if pr.input_hw == (480, 640))


def synthetic_rows(bench):
    rows = []
    for model, inp, batch, ms in (("xnet_lite0", "256x320", 1, (0.040, 0.020, 0.010)),
                                  ("xnet_lite0", "480x640", 8, (0.300, None, 0.100))):
        for provider, t in zip(("eager", "compile", "fused"), ms):
            if t is not None:
                rows.append(dict(model=model, input=inp, batch=batch, dtype="fp16", op="bridge4", shape="s",
                                 provider=provider, ms=t, gbps=2000.0 if provider == "fused" else 500.0,
                                 pct_copy=75.0 if provider == "fused" else 20.0, max_abs_err="0"))
    return rows


def test_summary_and_goals(bench):
    summary = bench.summarize(synthetic_rows(bench))
    edge = next(r for r in summary if r["input"] == "256x320")
    assert (edge["x_eager"], edge["x_compile"], edge["%copy"]) == (4.0, 2.0, 75.0)
    lines = bench.goal_lines(summary)
    assert len(lines) == 3 and all(line.endswith("-> MET") for line in lines)
    slower = [dict(r, ms=r["ms"] * 2) if r["provider"] == "fused" else r for r in synthetic_rows(bench)]
    assert any(line.endswith("NOT MET") for line in bench.goal_lines(bench.summarize(slower)))


def test_sweep_summary(bench):
    times = (("eager", 0.05), ("fused", 0.012), ("fused[P32 w4]", 0.010), ("fused[P64 w8]", 0.015))
    rows = [dict(model="m", input="256x320", batch=1, dtype="fp16", op="bridge0", provider=p, ms=ms,
                 gbps=1.0, pct_copy=1.0) for p, ms in times]
    (row,) = bench.sweep_summary(rows)
    assert (row["best"], row["best_ms"], row["heuristic_vs_best"]) == ("[P32 w4]", 0.010, 1.2)
    (plain,) = bench.summarize(rows)  # swept rows stay out of the provider summary
    assert plain["fused_ms"] == 0.012 and plain["x_eager"] == round(0.05 / 0.012, 2)


def test_dry_run_needs_no_gpu(bench, capsys):
    assert bench.main(["--dry-run", "--models", "test_xnet_effnet", "--sizes", "64x96", "--batches", "1",
                       "--dtypes", "fp16"]) == 0
    out = capsys.readouterr().out
    # last bridge, fp16: e 16·1536 + y 24·1536 + x 24·384 + img 3·1536 + W 24·43 + b 24 = 76 320 elements
    assert "bridge B1 x24@16x24+e16@32x48+img->24 silu" in out and "0.153" in out


def test_e2e_timing_loop_and_args():
    e2e = load_benchmark("bench_gpu_e2e")
    calls = []
    samples = e2e.time_calls(lambda: calls.append(1), lambda: None, warmup_s=0.0, iterations=7, duration_s=0.0)
    assert len(samples) == 7 and len(calls) == 7 and all(s >= 0 for s in samples)
    args = e2e.parse_args(["--dtypes", "fp16"])
    assert args.model == "xnet_lite0" and args.input == (256, 320) and args.batch == 1
    assert args.variants == list(e2e.VARIANTS)
    with pytest.raises(SystemExit):
        e2e.parse_args(["--batch", "0"])


def test_gpu_check_report_only(bench, tmp_path):
    (tmp_path / "environment.txt").write_text("gpu: TEST-GPU  sm: 1\n")
    (tmp_path / "steps.tsv").write_text("kernel_tests\t0\t61\nbench_kernels\t124\t110\n")
    (tmp_path / "kernel_tests.log").write_text("....\n57 passed in 40.2s\n.x.\n"
                                               "============ 1 failed, 47 passed, 9 skipped in 60.1s ============\n")
    (tmp_path / "bench_kernels.log").write_text("edge bridges ...: min 4.0x (x) -> MET\n")
    summary = bench.summarize(synthetic_rows(bench))
    (tmp_path / "bench_kernels.json").write_text(json.dumps(dict(environment=dict(copy_gbps=3000.0),
                                                                 summary=summary)))
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--report-only", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, "a timed-out step must fail the check"
    out = result.stdout
    assert "TEST-GPU" in out and "57 passed in 40.2s; 1 failed, 47 passed, 9 skipped in 60.1s" in out
    assert "TIMEOUT" in out
    assert "D2D copy 3000.0 GB/s" in out and "-> MET" in out
