"""Registered ×Net variants.

Paper-scale and edge variants, plus tiny ``test_*`` variants built from timm's
test backbones for fast CI.
"""

from __future__ import annotations

from .config import XNetConfig
from .registry import register_model

_LITE0 = "tf_efficientnet_lite0"


@register_model
def xnet_lite0() -> XNetConfig:
    """EfficientNet-Lite0 × EfficientNet-Lite0: the edge default (no SE, ReLU6, INT8-friendly)."""
    return XNetConfig("xnet_lite0", encoder=_LITE0, decoder=_LITE0, pyramid_width=64, max_depth=10.0)


@register_model
def xnet_lite0_outdoor() -> XNetConfig:
    """xnet_lite0 with an 80 m depth range (driving / outdoor scenes)."""
    return XNetConfig("xnet_lite0_outdoor", encoder=_LITE0, decoder=_LITE0, pyramid_width=64,
                      max_depth=80.0, input_size=(256, 832))


@register_model
def xnet_lite0_seg() -> XNetConfig:
    """xnet_lite0 with a segmentation head (40 classes, NYUv2-40 style)."""
    return XNetConfig("xnet_lite0_seg", encoder=_LITE0, decoder=_LITE0, task="segmentation",
                      num_classes=40, pyramid_width=64)


@register_model
def xnet_convnext_tiny() -> XNetConfig:
    """ConvNeXt-T × ConvNeXt-T: paper scale."""
    return XNetConfig("xnet_convnext_tiny", encoder="convnext_tiny", decoder="convnext_tiny",
                      pyramid_width=128, max_depth=10.0)


@register_model
def test_xnet_effnet() -> XNetConfig:
    """Tiny EfficientNet-style × EfficientNet-style variant for tests."""
    return XNetConfig("test_xnet_effnet", encoder="test_efficientnet", decoder="test_efficientnet",
                      pyramid_width=16, input_size=(64, 96))


@register_model
def test_xnet_convnext() -> XNetConfig:
    """Tiny ConvNeXt × ConvNeXt variant for tests (LayerNorm bridges, GELU)."""
    return XNetConfig("test_xnet_convnext", encoder="test_convnext", decoder="test_convnext",
                      pyramid_width=16, input_size=(64, 96))


@register_model
def test_xnet_mixed() -> XNetConfig:
    """Tiny EfficientNet encoder × ConvNeXt decoder: families may differ."""
    return XNetConfig("test_xnet_mixed", encoder="test_efficientnet", decoder="test_convnext",
                      pyramid_width=16, input_size=(64, 96))


@register_model
def test_xnet_effnet_seg() -> XNetConfig:
    """Tiny segmentation variant for tests."""
    return XNetConfig("test_xnet_effnet_seg", encoder="test_efficientnet", decoder="test_efficientnet",
                      task="segmentation", num_classes=5, pyramid_width=16, input_size=(64, 96))
