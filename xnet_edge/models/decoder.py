"""The reversed pre-trained decoder: an ImageNet classification backbone run deepest-first.

Each decoder stage is a group of the backbone's own blocks (same modules, same
tensors) that ran at one feature reduction. In the decoder they run at the
resolution of the matching encoder level: stride-2 convolutions become stride 1
with the same filters and downsample layers are dropped.

Families are adapters that cut a backbone into such stages; add one with
:func:`register_family`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..errors import UsageError


@dataclass
class DecoderStage:
    """One stage of the reversed decoder.

    Attributes:
        reduction: the feature reduction (stride) the stage ran at in the backbone.
        in_channels: channels the stage expects (what the bridge must produce).
        out_channels: channels the stage outputs.
        module: the backbone's own blocks, strides removed.
    """

    reduction: int
    in_channels: int
    out_channels: int
    module: nn.Module


@dataclass(frozen=True)
class Family:
    """A backbone family the decoder supports."""

    name: str
    matches: Callable[[nn.Module], bool]
    split: Callable[[nn.Module], list[DecoderStage]]
    norm: str  # the bridge norm that fits the family


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a decoder family (matched in registration order)."""
    _FAMILIES[family.name] = family
    return family


def supported_families() -> list[str]:
    """Names of the decoder families that are supported."""
    return list(_FAMILIES)


def find_family(backbone: nn.Module) -> Family:
    """Return the family a backbone belongs to.

    Raises:
        UsageError: the backbone's family is not supported.
    """
    for family in _FAMILIES.values():
        if family.matches(backbone):
            return family
    raise UsageError(
        f"{type(backbone).__name__} cannot be used as a reversed decoder; supported families: "
        f"{', '.join(supported_families())} (e.g. tf_efficientnet_lite0, mobilenetv2_100, convnext_tiny)")


def remove_strides(module: nn.Module) -> nn.Module:
    """Replace every strided Conv2d in ``module`` with a stride-1 Conv2d sharing its Parameters.

    Padding becomes static "same" padding, so a timm ``Conv2dSame`` (dynamic TF
    padding) turns into a plain exportable ``nn.Conv2d``.
    """
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Conv2d) and max(child.stride) > 1:
            setattr(module, name, _unstrided_conv(child))
        else:
            remove_strides(child)
    return module


def _unstrided_conv(conv: nn.Conv2d) -> nn.Conv2d:
    padding = tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation))
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=1, padding=padding,
                    dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
    new.weight = conv.weight
    if conv.bias is not None:
        new.bias = conv.bias
    return new


def _first_conv_in_channels(module: nn.Module) -> int:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
        if isinstance(m, nn.Linear):
            return m.in_features
    raise UsageError(f"cannot find the input channels of {type(module).__name__}")


def _split_by_feature_info(backbone: nn.Module, stage_modules: nn.Sequential) -> list[DecoderStage]:
    """Group ``stage_modules`` by the reduction at which the backbone's feature_info reports them."""
    info = {f["module"].split(".")[-1]: f for f in backbone.feature_info if f["module"].count(".") == 1}
    stages, group = [], []
    for idx, block in enumerate(stage_modules):
        group.append(block)
        entry = info.get(str(idx))
        if entry is None:
            continue
        module = nn.Sequential(*group)
        stages.append(DecoderStage(entry["reduction"], _first_conv_in_channels(module),
                                   entry["num_chs"], remove_strides(module)))
        group = []
    return stages


def _split_blocks(backbone: nn.Module) -> list[DecoderStage]:
    return _split_by_feature_info(backbone, backbone.blocks)


def _split_stages(backbone: nn.Module) -> list[DecoderStage]:
    stages = _split_by_feature_info(backbone, nn.Sequential(*[s.blocks for s in backbone.stages]))
    for stage in stages:  # a ConvNeXt stage's blocks keep their width: in == out
        stage.in_channels = stage.out_channels
    return stages


register_family(Family(
    name="efficientnet",  # EfficientNet / MobileNet-style: conv_stem + blocks[i] stacks
    matches=lambda m: hasattr(m, "blocks") and hasattr(m, "conv_stem") and hasattr(m, "feature_info"),
    split=_split_blocks,
    norm="batchnorm",
))
register_family(Family(
    name="convnext",  # ConvNeXt-style: stem + stages[i] = downsample + blocks
    matches=lambda m: hasattr(m, "stages") and all(hasattr(s, "downsample") and hasattr(s, "blocks")
                                                   for s in getattr(m, "stages", [])),
    split=_split_stages,
    norm="layernorm",
))


_ACT_NAMES = {"relu6": "relu6", "relu": "relu", "silu": "silu", "swish": "silu", "gelu": "gelu", "gelutanh": "gelu"}


def family_activation(backbone: nn.Module) -> str:
    """Name of the activation the backbone uses most (for the bridge and pyramid).

    Matched by class name, so timm's own GELU/SiLU classes count as well as torch's.
    """
    counts: dict[str, int] = {}
    for m in backbone.modules():
        name = _ACT_NAMES.get(type(m).__name__.lower())
        if name:
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "identity"
    return max(counts, key=counts.get)


def build_reversed_decoder(backbone: nn.Module) -> tuple[Family, list[DecoderStage]]:
    """Cut a classification backbone into decoder stages, shallowest first.

    Args:
        backbone: a timm classification model (its weights are reused, not copied).

    Returns:
        (family, stages): the family and one DecoderStage per feature reduction.

    Raises:
        UsageError: unsupported family.
    """
    family = find_family(backbone)
    return family, family.split(backbone)
