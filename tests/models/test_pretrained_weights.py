"""Offline EfficientNet-Lite0 ImageNet weights: the mapping is right, and ×Net holds them in both halves."""

import numpy as np
import pytest
import timm
import torch
from skimage import data

from xnet_edge import CheckpointError, UsageError, create_model
from xnet_edge.models.weights import LITE0_PACKAGE, backbone_state_dict, read_state_dict
from xnet_edge.preprocess import resize_bilinear

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def lite0_state():
    return backbone_state_dict("tf_efficientnet_lite0", LITE0_PACKAGE)


@pytest.fixture(scope="module")
def classifier(lite0_state):
    model = timm.create_model("tf_efficientnet_lite0")
    model.load_state_dict(lite0_state)
    return model.eval()


def _classify(model, image):
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = resize_bilinear(image[top:top + side, left:left + side], (224, 224)) / 255.0
    x = torch.from_numpy(((crop - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32))
    with torch.inference_mode():
        return int(model(x).argmax())


def test_classifier_recognises_real_photos(classifier):
    assert _classify(classifier, data.chelsea()) in CAT_CLASSES
    assert _classify(classifier, data.coffee()) == ESPRESSO


def test_xnet_lite0_holds_the_weights_in_both_halves(lite0_state):
    model = create_model("xnet_lite0", pretrained=LITE0_PACKAGE)
    encoder = model.encoder.state_dict()
    for key, value in encoder.items():
        assert torch.equal(value, lite0_state[key]), key
    decoder_tensors = [t for stage in reversed(model.decoder) for t in stage.state_dict().values()]
    block_keys = [k for k in lite0_state if k.startswith("blocks.")]
    assert len(decoder_tensors) == len(block_keys)
    for key, value in zip(block_keys, decoder_tensors):
        assert torch.equal(value, lite0_state[key]), key


def test_separate_encoder_and_decoder_sources(lite0_state):
    model = create_model("xnet_lite0", pretrained={"encoder": LITE0_PACKAGE, "decoder": False})
    assert torch.equal(model.encoder.state_dict()["conv_stem.weight"], lite0_state["conv_stem.weight"])
    first_block = next(iter(model.decoder[-1].state_dict().values()))
    assert not torch.equal(first_block, lite0_state["blocks.0.0.conv_dw.weight"])


def test_local_weights_file_by_name_and_by_order(tmp_path, lite0_state):
    from safetensors.torch import save_file

    by_name = tmp_path / "lite0.safetensors"
    save_file({k: v.contiguous() for k, v in lite0_state.items()}, str(by_name))
    renamed = tmp_path / "renamed.pth"
    torch.save({"state_dict": {f"w{i}": v for i, v in enumerate(lite0_state.values())}}, renamed)
    for path in (by_name, renamed):
        model = create_model("xnet_lite0", pretrained=str(path))
        assert torch.equal(model.encoder.state_dict()["bn1.weight"], lite0_state["bn1.weight"])


def test_bad_weight_sources(tmp_path):
    with pytest.raises(UsageError, match="fit tf_efficientnet_lite0"):
        create_model("test_xnet_effnet", pretrained=LITE0_PACKAGE)
    with pytest.raises(CheckpointError, match="not found"):
        create_model("test_xnet_effnet", pretrained=str(tmp_path / "missing.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_state_dict(garbage)


def test_state_dict_wrappers_and_prefixes(tmp_path):
    state = {"conv.weight": torch.ones(2, 3), "bn.bias": torch.zeros(2)}
    layouts = {"plain": state, "ddp": {f"module.{k}": v for k, v in state.items()},
               "compiled": {"state_dict": {f"_orig_mod.{k}": v for k, v in state.items()}},
               "tutorial": {"epoch": 3, "model_state_dict": {f"module.{k}": v for k, v in state.items()}}}
    for name, obj in layouts.items():
        torch.save(obj, tmp_path / f"{name}.pth")
        loaded = read_state_dict(tmp_path / f"{name}.pth")
        assert list(loaded) == list(state) and all(torch.equal(loaded[k], state[k]) for k in state), name
    torch.save(torch.ones(3), tmp_path / "tensor.pth")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        read_state_dict(tmp_path / "tensor.pth")
