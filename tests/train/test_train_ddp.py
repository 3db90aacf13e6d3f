"""Two-process DDP training on the CPU (gloo) through torchrun: runs, shards, saves once, resumes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xnet_edge.models import read_checkpoint


def _torchrun(run_dir: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "xnet_edge", "train", "--model", "test_xnet_effnet", "--pretrained", "none",
           "--data", "synthetic:16", "--val-data", "synthetic:4", "--scene-size", "64x96", "--crop", "32x64",
           "--batch-size", "2", "--epochs", "2", "--warmup-steps", "1", "--threads", "1", "--no-progress",
           "--cache-dir", str(cache), "-o", str(run_dir), *extra]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_two_process_ddp_run(tmp_path):
    run = tmp_path / "run"
    proc = _torchrun(run, tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = json.loads((run / "metrics.json").read_text())["history"]
    # 16 scenes / (2 per process x 2 processes) = 4 steps per epoch
    assert [h["step"] for h in history] == [4, 8]
    assert "val" in history[-1]
    config, tensors, extra = read_checkpoint(run / "model.safetensors")
    assert extra["steps"] == 8 and config.name == "test_xnet_effnet"
    state = json.loads((run / "state" / "state.json").read_text())
    assert state["step"] == 8


@pytest.mark.slow
def test_ddp_time_limit_stops_every_rank_and_resumes(tmp_path):
    run = tmp_path / "run"
    stopped = _torchrun(run, tmp_path / "cache", "--time-limit", "1e-7")
    assert stopped.returncode != 0 and "stopped at step 1/8" in stopped.stderr
    assert json.loads((run / "state" / "state.json").read_text())["step"] == 1
    # a resume keeps the run's runtime settings, its time limit included, unless given again
    resumed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "xnet_edge",
         "train", "--resume", "--threads", "1", "--time-limit", "60", "--no-progress", "-o", str(run)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_checkpoint(run / "model.safetensors")[2]["steps"] == 8
