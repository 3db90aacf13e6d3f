"""``xnet-edge train``: usage errors exit 2 with one line; a tiny run writes model, metrics and state."""

import contextlib
import json
import types

import pytest

from xnet_edge.cli import main
from xnet_edge.models import read_checkpoint


@contextlib.contextmanager
def _exit_code():
    """Collect an exit code from main() or from argparse's SystemExit (parse-time usage errors)."""
    code = types.SimpleNamespace(value=None)
    try:
        yield code
    except SystemExit as exc:
        code.value = exc.code


@pytest.mark.parametrize("argv, message", [
    (["--data", "synthetic:0"], "positive scene count"),
    (["--scene-size", "64x96", "--crop", "128x128"], "larger than scene_size"),
    (["--resume", "--lr", "0.1"], "drop --lr"),
    (["--resume"], "no training state"),
    (["--decoder-init", "random", "--batch-size", "0"], "--batch-size"),
    (["--model", "test_xnet_effnet", "--pretrained", "none", "--crop", "48x64"], "not divisible by the model stride 32"),
    (["--model", "test_xnet_effnet", "--pretrained", "none", "--data", "synthetic:3", "--scene-size", "64x96",
      "--crop", "32x64", "--batch-size", "4"], "cannot fill one batch"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--weight-decay", "inf"], "--weight-decay"),
    (["--time-limit", "-1"], "--time-limit"),
    (["--threads", "0"], "--threads"),
    (["--threads", "100000"], "too many"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    with _exit_code() as code:
        code.value = main(["train", "-o", str(run), *argv])
    assert code.value == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err
    if not err.startswith("usage:"):  # argparse's own errors print the usage first
        assert err.count("\n") == 1
    # nothing left behind: no settings.json, no scene cache, no empty run folder
    assert not run.exists(), sorted(p.name for p in run.iterdir())


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
    assert extra["steps"] == 4 and extra["data_seed"] == 0 and extra["wall_seconds"] > 0
    # best.safetensors: the model of the epoch with the lowest validation AbsRel
    best = min(history, key=lambda h: h["val"]["abs_rel"])
    best_extra = read_checkpoint(run / "best.safetensors")[2]
    assert best_extra["steps"] == best["step"] and best_extra["metrics"] == best["val"]
    # finished runs can be "resumed": nothing is left to do and the model is unchanged
    assert main(["train", "--resume", "--threads", "1", "--no-progress", "-o", str(run)]) == 0


def _tiny(run, *extra):
    return ["train", "--model", "test_xnet_effnet", "--pretrained", "none", "--data", "synthetic:8",
            "--val-data", "none", "--scene-size", "64x96", "--crop", "32x64", "--batch-size", "4", "--steps", "4",
            "--warmup-steps", "1", "--lr", "1e-3", "--no-progress", "-o", str(run), *extra]


@pytest.fixture
def stopped_run(tmp_path):
    """A run interrupted after its first step (time limit), trained with --threads 1."""
    run = tmp_path / "run"
    assert main(_tiny(run, "--threads", "1", "--time-limit", "1e-9")) == 130
    return run


def test_resume_keeps_saved_runtime_settings_unless_given(stopped_run, capsys, monkeypatch):
    import xnet_edge.train

    seen = []
    monkeypatch.setattr(xnet_edge.train, "train",
                        lambda settings, out, resume: seen.append(settings) or types.SimpleNamespace(model_path=None))
    capsys.readouterr()
    assert main(["train", "--resume", "-o", str(stopped_run)]) == 0
    assert seen[-1].threads == 1 and seen[-1].progress is False and seen[-1].time_limit_min == 1e-9
    assert capsys.readouterr().err == ""
    assert main(["train", "--resume", "--threads", "2", "--time-limit", "5", "-o", str(stopped_run)]) == 0
    assert seen[-1].threads == 2 and seen[-1].time_limit_min == 5
    err = capsys.readouterr().err
    assert "threads = 2 instead of the run's 1" in err and "time_limit_min = 5.0" in err


def test_resume_without_threads_is_exact(tmp_path, stopped_run):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # a fresh process's default differs from the run's --threads 1
    try:
        assert main(_tiny(tmp_path / "straight", "--threads", "1")) == 0
        assert main(["train", "--resume", "--time-limit", "60", "-o", str(stopped_run)]) == 0
    finally:
        torch.set_num_threads(threads)
    a = read_checkpoint(tmp_path / "straight" / "model.safetensors")[1]
    b = read_checkpoint(stopped_run / "model.safetensors")[1]
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_resume_refuses_a_corrupted_state(stopped_run, capsys):
    tensors = stopped_run / "state" / "state.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-10] ^= 0x01  # one bit of the last tensor's data
    tensors.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["train", "--resume", "-o", str(stopped_run)]) == 1
    err = capsys.readouterr().err
    assert "content hash" in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("edit", [{"step": -3}, {"step": "x"}, {"epoch": 7}])
def test_resume_refuses_an_edited_state_json(stopped_run, capsys, edit):
    meta_path = stopped_run / "state" / "state.json"
    meta = json.loads(meta_path.read_text())
    meta.update(edit)
    meta_path.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["train", "--resume", "-o", str(stopped_run)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_resume_refuses_an_impossible_step_even_with_a_matching_hash(stopped_run, capsys):
    from xnet_edge.train.state import state_hash
    from safetensors.torch import load_file

    state = stopped_run / "state"
    meta = json.loads((state / "state.json").read_text())
    meta["step"] = -3
    meta["content_sha256"] = state_hash(load_file(str(state / "state.safetensors")), meta)
    (state / "state.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["train", "--resume", "-o", str(stopped_run)]) == 1
    err = capsys.readouterr().err
    assert "step -3" in err and err.count("\n") == 1


def _tiny_argv(run, *extra):
    return ["train", "--model", "test_xnet_effnet", "--pretrained", "none", "--data", "synthetic:4",
            "--val-data", "none", "--scene-size", "64x96", "--crop", "32x64", "--batch-size", "4", "--steps", "1",
            "--warmup-steps", "0", "--threads", "1", "--no-progress", *extra, "-o", str(run)]


def test_init_starts_from_a_whole_model_checkpoint(tmp_path):
    import torch

    from xnet_edge.models import create_model, load_checkpoint, save_checkpoint

    torch.manual_seed(123)  # weights no seed-0 run of the trainer would draw
    start = create_model("test_xnet_effnet", pretrained=False)
    with torch.no_grad():
        for p in start.parameters():
            p.add_(torch.randn_like(p))
    init = save_checkpoint(start, tmp_path / "start.safetensors")
    # lr 1e-9: one step moves no weight by more than ~1e-8, so the result must still be the start
    assert main(_tiny_argv(tmp_path / "a", "--init", str(init), "--lr", "1e-9")) == 0
    assert main(_tiny_argv(tmp_path / "b", "--lr", "1e-9")) == 0
    expected = dict(start.named_parameters())
    for run, same in (("a", True), ("b", False)):
        got = dict(load_checkpoint(tmp_path / run / "model.safetensors").named_parameters())
        close = all(torch.allclose(got[k], expected[k], atol=1e-6) for k in expected)
        assert close is same, run
    settings = json.loads((tmp_path / "a" / "settings.json").read_text())
    assert settings["init"] == str(init)


@pytest.mark.parametrize("init, message", [("missing.safetensors", "--init"), ("demo:xnet_lite0", "--init")])
def test_init_that_cannot_load_exits_2_and_leaves_nothing(tmp_path, capsys, init, message):
    run = tmp_path / "run"
    with _exit_code() as code:
        code.value = main(_tiny_argv(run, "--init", str(tmp_path / init) if init.endswith("safetensors") else init))
    err = capsys.readouterr().err
    assert code.value == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not run.exists()
