"""The ×Net model: pre-trained encoder → Re-Shape bridges + reversed pre-trained decoder → pyramid → head."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from ..preprocess import check_input_size, postprocess, preprocess
from .bridge import Bridge, PyramidMerge
from .config import XNetConfig
from .decoder import DecoderStage, build_reversed_decoder, family_activation
from .heads import DepthHead, SegmentationHead


class XNet(nn.Module):
    """×Net for dense prediction (this project's reading: docs/design.md).

    Args:
        config: the variant's configuration (see :class:`XNetConfig`).
        encoder: a timm ``features_only`` backbone; its ``feature_info`` is the contract.
        decoder_backbone: a timm classification backbone, reused as the decoder
            (its blocks become the decoder stages; their tensors are kept, not copied).

    Attributes:
        output_stride: the deepest reduction; inputs must be multiples of it.
        decoder_levels: reductions of the decoder stages, deepest first.
        out_channels: decoder stage output channels, deepest first.
    """

    def __init__(self, config: XNetConfig, encoder: nn.Module, decoder_backbone: nn.Module):
        super().__init__()
        self.config = config
        self.encoder = encoder
        enc_channels = dict(zip(encoder.feature_info.reduction(), encoder.feature_info.channels()))
        family, stages = build_reversed_decoder(decoder_backbone)
        stages = self._check_levels(stages, enc_channels)
        act = family_activation(decoder_backbone) if config.bridge_act == "auto" else config.bridge_act
        norm = family.norm if config.bridge_norm == "auto" else config.bridge_norm
        self.act = act
        self.decoder_levels = [s.reduction for s in stages]
        self.out_channels = [s.out_channels for s in stages]
        self.output_stride = max(self.decoder_levels + list(enc_channels))
        self.encoder_levels = list(encoder.feature_info.reduction())
        self.bridges = nn.ModuleList()
        prev = None
        for stage in stages:
            self.bridges.append(Bridge(prev, enc_channels[stage.reduction], stage.in_channels,
                                       use_image=config.use_image, norm=norm, act=act))
            prev = stage.out_channels
        self.decoder = nn.ModuleList(s.module for s in stages)
        self.pyramid = PyramidMerge(self.out_channels, config.pyramid_width, act=act)
        if config.task == "depth":
            self.head = DepthHead(config.pyramid_width, config.max_depth)
        else:
            self.head = SegmentationHead(config.pyramid_width, config.num_classes)

    @staticmethod
    def _check_levels(stages: list[DecoderStage], enc_channels: dict[int, int]) -> list[DecoderStage]:
        missing = [s.reduction for s in stages if s.reduction not in enc_channels]
        if missing:
            raise UsageError(
                f"the decoder has stages at reductions {missing} that the encoder does not output "
                f"(encoder levels: {sorted(enc_channels)}); pick an encoder with those levels")
        return sorted(stages, key=lambda s: -s.reduction)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Decoder stage outputs, deepest first.

        Args:
            x: normalized images (N, 3, H, W), H and W multiples of ``output_stride``.
        """
        feats = dict(zip(self.encoder_levels, self.encoder(x)))
        d: Optional[torch.Tensor] = None
        outs = []
        for bridge, stage, level in zip(self.bridges, self.decoder, self.decoder_levels):
            img = F.avg_pool2d(x, level) if self.config.use_image else None
            d = stage(bridge(d, feats[level], img))
            outs.append(d)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Depth in metres (N, 1, H, W), or class logits (N, K, H, W) for segmentation.

        Raises:
            InputSizeError: H or W is not a multiple of ``output_stride``.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise UsageError(f"expected an (N, 3, H, W) tensor, got {tuple(x.shape)}")
        size = (int(x.shape[-2]), int(x.shape[-1]))
        check_input_size(size[0], size[1], self.output_stride)
        p = self.pyramid(self.forward_features(x))
        return self.head(p, size)

    @property
    def mean(self) -> tuple[float, float, float]:
        return tuple(self.config.mean)

    @property
    def std(self) -> tuple[float, float, float]:
        return tuple(self.config.std)

    @torch.inference_mode()
    def predict(self, image: np.ndarray, input_size: Optional[tuple[int, int]] = None) -> np.ndarray:
        """Run on one HxWx3 uint8 image of any size.

        The image is resized keeping its aspect ratio to fit ``input_size`` (default:
        the config's), padded to it, run, and the result cropped and resized back.

        Args:
            image: HxW, HxWx3 or HxWx4 array.
            input_size: network (H, W), multiples of ``output_stride``.

        Returns:
            float32 (H, W) depth in metres; int32 (H, W) class labels for segmentation.
        """
        net_hw = tuple(input_size or self.config.input_size)
        check_input_size(net_hw[0], net_hw[1], self.output_stride)
        tensor, box = preprocess(image, net_hw, self.mean, self.std)
        param = next(self.parameters())
        was_training = self.training
        self.eval()
        try:
            out = self(torch.from_numpy(tensor).to(device=param.device, dtype=param.dtype))
        finally:
            self.train(was_training)
        out = out[0].float().cpu().numpy()
        if self.config.task == "depth":
            return postprocess(out[0], box)
        scores = np.stack([postprocess(c, box) for c in out])
        return scores.argmax(0).astype(np.int32)
