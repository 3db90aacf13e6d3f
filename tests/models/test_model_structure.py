"""×Net structure: levels, channels, reversed decoder, forward/backward, output range."""

import pytest
import timm
import torch
from torch import nn

import xnet_edge
from xnet_edge import InputSizeError, UsageError, create_model, list_models
from xnet_edge.models.decoder import build_reversed_decoder, supported_families
from xnet_edge.models.registry import build_model, model_config

TINY = ["test_xnet_effnet", "test_xnet_convnext", "test_xnet_mixed"]


def test_registry_lists_required_variants():
    names = list_models()
    for required in ("xnet_lite0", "xnet_convnext_tiny", "xnet_lite0_seg", "test_xnet_effnet"):
        assert required in names
    assert all(not n.startswith("test_") for n in list_models(include_test=False))
    assert list_models("xnet_lite0*") == ["xnet_lite0", "xnet_lite0_outdoor", "xnet_lite0_seg"]


def test_unknown_model_suggests_close_names():
    with pytest.raises(UsageError, match="did you mean xnet_lite0"):
        create_model("xnet_lite")


def test_unknown_override_is_refused():
    with pytest.raises(UsageError, match="unknown model option"):
        create_model("test_xnet_effnet", max_dpeth=3)


@pytest.mark.parametrize("name,levels,decoder_out,bridge_norm", [
    ("test_xnet_effnet", [32, 16, 8, 4, 2], [64, 48, 32, 24, 16], "BatchNorm2d"),
    ("test_xnet_convnext", [32, 16, 8, 4], [64, 48, 32, 24], "ChannelLayerNorm"),
])
def test_levels_and_channels(name, levels, decoder_out, bridge_norm):
    model = create_model(name)
    assert model.decoder_levels == levels
    assert model.out_channels == decoder_out
    assert model.output_stride == 32
    assert {type(b.norm).__name__ for b in model.bridges} == {bridge_norm}
    x = torch.randn(2, 3, 64, 96)
    outs = model.forward_features(x)
    for out, level, channels in zip(outs, levels, decoder_out):
        assert out.shape == (2, channels, 64 // level, 96 // level)
    # each bridge produces what its decoder stage expects and reads the encoder width at its level
    enc = dict(zip(model.encoder.feature_info.reduction(), model.encoder.feature_info.channels()))
    for i, (bridge, level) in enumerate(zip(model.bridges, levels)):
        assert bridge.we.shape[1] == enc[level]
        assert (bridge.wx is None) == (i == 0)
        if i:
            assert bridge.wx.shape[1] == decoder_out[i - 1]


@pytest.mark.parametrize("name", TINY)
def test_forward_backward_finite_and_in_range(name):
    model = create_model(name).train()
    x = torch.randn(2, 3, 64, 96)
    depth = model(x)
    assert depth.shape == (2, 1, 64, 96)
    assert torch.isfinite(depth).all()
    assert (depth > 0).all() and (depth <= model.config.max_depth).all()
    depth.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_segmentation_variant_returns_logits():
    model = create_model("test_xnet_effnet_seg")
    assert model(torch.randn(1, 3, 64, 96)).shape == (1, 5, 64, 96)


def test_max_depth_override():
    model = create_model("test_xnet_effnet", max_depth=80.0)
    assert model.head.max_depth == 80.0


def test_decoder_has_no_strides_and_shares_backbone_tensors():
    backbone = timm.create_model("test_efficientnet")
    family, stages = build_reversed_decoder(backbone)
    assert family.name == "efficientnet"
    for stage in stages:
        for m in stage.module.modules():
            if isinstance(m, nn.Conv2d):
                assert m.stride == (1, 1)
    stage_params = [p for s in stages for p in s.module.parameters()]
    backbone_params = list(backbone.blocks.parameters())
    assert len(stage_params) == len(backbone_params)
    assert all(a is b for a, b in zip(stage_params, backbone_params))


def test_unsupported_decoder_family_lists_supported():
    config = model_config("test_xnet_effnet").replace(decoder="test_vit")
    with pytest.raises(UsageError) as info:
        build_model(config)
    for family in supported_families():
        assert family in str(info.value)


def test_input_size_error_names_valid_size():
    model = create_model("test_xnet_effnet")
    with pytest.raises(InputSizeError, match="use 64x96"):
        model(torch.randn(1, 3, 60, 100))


def test_predict_any_size_image():
    import numpy as np

    model = create_model("test_xnet_effnet")
    image = (np.random.default_rng(0).random((37, 53, 3)) * 255).astype(np.uint8)
    depth = model.predict(image)
    assert depth.shape == (37, 53) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth > 0).all()
    labels = create_model("test_xnet_effnet_seg").predict(image[:, :, 0])
    assert labels.shape == (37, 53) and labels.max() < 5


def test_top_level_exports():
    assert issubclass(xnet_edge.MissingDependencyError, xnet_edge.XnetEdgeError)
    assert xnet_edge.create_model is create_model
