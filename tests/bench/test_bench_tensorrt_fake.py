"""``run_benchmark`` on a TensorRT engine folder, with the runtime tests' fake tensorrt / cuda-python
modules (tests/runtime/trt_fakes.py) and a fake ``trtexec`` that prints a captured summary.

No GPU here: this checks our side of the GPU path (stage split from CUDA events, CUDA graph
flag, spin-wait flag, the trtexec command and its parsed fields), not TensorRT itself.
"""

from __future__ import annotations

import stat
import sys
import textwrap

import pytest

from xnet_edge.bench import BenchSettings, run_benchmark, validate_report

QUICK = BenchSettings(warmup_ms=2, duration_s=0.02, iterations=4, rounds=2)


@pytest.fixture
def engine(monkeypatch, tmp_path, runtime_fakes, make_onnx):
    fakes, folders = runtime_fakes
    device, modules = fakes.FakeGPU(), {}
    fakes.install(modules, device, binding="cuda-python")
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    plan = tmp_path / "model.plan"
    plan.write_bytes(fakes.fake_plan())
    onnx = make_onnx(tmp_path / "source.onnx", size=(64, 96))
    folder = folders.make_folder(tmp_path / "engine", plan, "tensorrt-plan", onnx, target="jetson-orin-nano",
                                 runtime={"tensorrt": {"dla_core": None}})
    return folder, device, fakes


@pytest.fixture
def fake_trtexec(tmp_path, monkeypatch, samples):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_file = tmp_path / "trtexec_args.txt"
    (tmp_path / "log.txt").write_text(samples.TRT10_LOG)
    script = bin_dir / "trtexec"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf '%s\\n' "$@" > {args_file}
        cat {tmp_path / 'log.txt'}
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("TRTEXEC", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return args_file


def test_stage_split_from_cuda_events(engine):
    folder, device, fakes = engine
    report = run_benchmark([folder], QUICK, frame_size=(48, 64), photos=("chelsea", "coffee"))
    validate_report(report)
    (r,) = report["results"]
    assert r["backend"] == "tensorrt" and r["precision"] == "fp32"
    stages = r["stages_ms"]
    assert {"h2d", "enqueue", "compute", "d2h", "other"} <= set(stages)
    # the fake GPU clock: copies take 1 ms per MB, the network KERNEL_MS
    assert stages["h2d"]["per_call"] == pytest.approx(3 * 64 * 96 * 4 / 1e6)
    assert stages["compute"]["per_call"] == pytest.approx(fakes.KERNEL_MS)
    assert stages["d2h"]["per_call"] == pytest.approx(64 * 96 * 4 / 1e6)
    assert stages["enqueue"]["count"] == r["iterations"]


def test_cuda_graph_and_trtexec_side_by_side(engine, fake_trtexec):
    folder, device, _ = engine
    report = run_benchmark([folder], QUICK, cuda_graph=True, trtexec=True, frame_size=(48, 64),
                           photos=("chelsea",))
    (r,) = report["results"]
    assert r["settings"]["cuda_graph"] is True and device.graph_launches >= r["iterations"]
    args = fake_trtexec.read_text().split()
    assert args[0] == f"--loadEngine={folder / 'model.plan'}"
    assert "--useCudaGraph" in args and "--shapes=image:1x3x64x96" in args and "--iterations=4" in args
    t = r["trtexec"]
    assert t["latency_ms"]["median"] == 4.29718 and t["stages_ms"]["compute"]["mean"] == 4.24194
    assert t["throughput"]["images_per_s"] == 232.514
    assert "--useCudaGraph" in t["command"]
    validate_report(report)


def test_spin_wait_sets_the_device_flag(engine, monkeypatch):
    folder, _, _ = engine
    cudart = sys.modules["cuda.bindings.runtime"]
    calls = []
    monkeypatch.setattr(cudart, "cudaDeviceScheduleSpin", 1, raising=False)
    monkeypatch.setattr(cudart, "cudaSetDeviceFlags", lambda flags: calls.append(flags) or (0,), raising=False)
    report = run_benchmark([folder], QUICK, spin_wait=True, frame_size=(48, 64), photos=("chelsea",))
    assert calls == [1]
    assert report["settings"]["cuda_sync"] == "cudaDeviceScheduleSpin"
