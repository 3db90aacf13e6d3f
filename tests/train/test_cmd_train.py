"""``xnet-edge train``: usage errors exit 2 with one line; a tiny run writes model, metrics and state."""

import json

import pytest

from xnet_edge.cli import main
from xnet_edge.models import read_checkpoint


@pytest.mark.parametrize("argv, message", [
    (["--data", "synthetic:0"], "positive scene count"),
    (["--scene-size", "64x96", "--crop", "128x128"], "larger than scene_size"),
    (["--resume", "--lr", "0.1"], "drop --lr"),
    (["--resume"], "no training state"),
    (["--decoder-init", "random", "--batch-size", "0"], "batch_size must be positive"),
    (["--model", "test_xnet_effnet", "--pretrained", "none", "--crop", "48x64"], "not divisible by the model stride 32"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    assert main(["train", "-o", str(tmp_path / "run"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_tiny_run_with_validation_writes_everything(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--model", "test_xnet_effnet", "--pretrained", "none", "--data", "synthetic:8",
            "--val-data", "synthetic:4", "--scene-size", "64x96", "--crop", "32x64", "--batch-size", "4",
            "--epochs", "2", "--warmup-steps", "1", "--threads", "1", "--no-progress", "-o", str(run)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "abs_rel" in out and "model:" in out
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [h["step"] for h in history] == [2, 4]
    for key in ("abs_rel", "rmse", "d1", "loss"):
        assert history[-1]["val"][key] >= 0
    config, _, extra = read_checkpoint(run / "model.safetensors")
    assert config.name == "test_xnet_effnet"
    assert extra["command"].startswith("xnet-edge train --model test_xnet_effnet --pretrained none")
    assert extra["command"].endswith(f"--threads 1 --no-progress -o {run}")
    assert extra["metrics"] == history[-1]["val"]
    # finished runs can be "resumed": nothing is left to do and the model is unchanged
    assert main(["train", "--resume", "--threads", "1", "--no-progress", "-o", str(run)]) == 0
