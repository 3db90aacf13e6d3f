"""Checkpoints: bit-exact round trip, no pickle, tampering and mismatches refused."""

import json

import pytest
import torch

from xnet_edge import CheckpointError, UsageError, create_model, load_checkpoint, save_checkpoint
from xnet_edge.models import read_checkpoint


@pytest.fixture
def saved(tmp_path):
    model = create_model("test_xnet_effnet", max_depth=20.0)
    with torch.no_grad():  # move BN stats off their defaults so they are really checked
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
    path = tmp_path / "model.safetensors"
    save_checkpoint(model, path, metadata={"note": "unit test"})
    return model, path


def test_round_trip_is_bit_exact(saved):
    model, path = saved
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = torch.randn(1, 3, 64, 96)
    assert torch.equal(model(x), loaded(x))
    _, _, extra = read_checkpoint(path)
    assert extra == {"note": "unit test"}


def test_create_model_with_checkpoint_checks_name(saved):
    _, path = saved
    assert create_model("test_xnet_effnet", checkpoint=path).config.max_depth == 20.0
    with pytest.raises(CheckpointError, match="holds a 'test_xnet_effnet' model"):
        create_model("test_xnet_convnext", checkpoint=path)


def test_fp16_checkpoint_loads_into_fp32(tmp_path, saved):
    model, _ = saved
    path = tmp_path / "half.safetensors"
    save_checkpoint(model, path, dtype=torch.float16)
    loaded = load_checkpoint(path)
    w = loaded.bridges[0].we
    assert w.dtype == torch.float32
    assert torch.equal(w, model.bridges[0].we.half().float())


def _tensor_region_start(path):
    raw = path.read_bytes()
    return 8 + int.from_bytes(raw[:8], "little")


def test_tampered_tensor_bytes_are_refused(saved):
    _, path = saved
    raw = bytearray(path.read_bytes())
    offset = _tensor_region_start(path) + 100
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="integrity check"):
        load_checkpoint(path)


def test_mismatched_checkpoint_lists_keys(tmp_path, saved):
    from safetensors import safe_open
    from safetensors.torch import save_file

    model, path = saved
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["config"] = json.dumps(dict(json.loads(meta["config"]), name="test_xnet_convnext",
                                     encoder="test_convnext", decoder="test_convnext"))
    forged = tmp_path / "forged.safetensors"
    save_file(tensors, str(forged), metadata=meta)
    with pytest.raises(CheckpointError, match="does not fit the model: missing: .*unexpected: "):
        load_checkpoint(forged)


def test_non_checkpoints_are_refused(tmp_path):
    pickled = tmp_path / "model.safetensors"
    torch.save({"a": torch.zeros(1)}, pickled)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(pickled)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(UsageError, match="no demo checkpoint ships for 'test_xnet_effnet'"):
        create_model("test_xnet_effnet", checkpoint="demo")


def test_demo_loads_by_name_like_create_model():
    demo = load_checkpoint("demo")
    same = create_model("xnet_lite0", checkpoint="demo")
    assert demo.config == same.config and demo.config.name == "xnet_lite0"
    assert load_checkpoint("demo:xnet_lite0").config == demo.config
    with pytest.raises(UsageError, match="no demo checkpoint ships for 'test_xnet_effnet'"):
        load_checkpoint("demo:test_xnet_effnet")
    for (k, a), (_, b) in zip(demo.state_dict().items(), same.state_dict().items()):
        assert torch.equal(a, b), k


def test_load_checkpoint_reads_and_hashes_the_file_once(saved, monkeypatch):
    from xnet_edge.models import checkpoint

    model, path = saved
    calls = []
    real = checkpoint.read_checkpoint
    monkeypatch.setattr(checkpoint, "read_checkpoint", lambda p: calls.append(p) or real(p))
    loaded = load_checkpoint(path, fused=False, input_size=(128, 160))
    assert calls == [path]
    assert loaded.config.input_size == (128, 160) and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_unknown_timm_architecture_is_a_usage_error():
    from xnet_edge.models.registry import build_model, model_config

    with pytest.raises(UsageError, match="timm has no architecture 'no_such_backbone'"):
        build_model(model_config("test_xnet_effnet", encoder="no_such_backbone"))
