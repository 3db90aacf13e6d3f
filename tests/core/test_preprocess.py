"""Shared pre/post-processing against PyTorch's interpolate and known values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xnet_edge import InputSizeError, UsageError
from xnet_edge.preprocess import (Letterbox, check_input_size, fit_size, nearest_valid_size, postprocess,
                                  preprocess, resize_bilinear, to_rgb_uint8)


@pytest.mark.parametrize("src,dst", [((7, 9), (14, 18)), ((50, 40), (23, 31)), ((5, 5), (5, 11))])
def test_resize_matches_torch_bilinear(src, dst):
    arr = np.random.default_rng(0).random((*src, 3)).astype(np.float32)
    ours = resize_bilinear(arr, dst)
    ref = F.interpolate(torch.from_numpy(arr.transpose(2, 0, 1))[None], size=dst, mode="bilinear",
                        align_corners=False)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_size_checks():
    check_input_size(256, 320, 32)
    assert nearest_valid_size(250, 330, 32) == (256, 320)
    with pytest.raises(InputSizeError, match="use 256x320 .* pad to 256x352"):
        check_input_size(250, 330, 32)
    with pytest.raises(InputSizeError):
        check_input_size(0, 320, 32)


def test_image_conversions():
    gray = np.full((4, 5), 7, np.uint8)
    assert to_rgb_uint8(gray).shape == (4, 5, 3)
    rgba = np.zeros((4, 5, 4), np.uint8)
    assert to_rgb_uint8(rgba).shape == (4, 5, 3)
    deep = np.full((2, 2, 3), 65535, np.uint16)
    assert to_rgb_uint8(deep).max() == 255
    unit = np.full((2, 2, 3), 1.0, np.float32)
    assert to_rgb_uint8(unit).max() == 255
    for bad in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 5, 2), np.uint8), np.zeros(5, np.uint8)):
        with pytest.raises(UsageError):
            to_rgb_uint8(bad)


def test_letterbox_round_trip():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 100:] = 255
    tensor, box = preprocess(image, (64, 96), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert tensor.shape == (1, 3, 64, 96) and tensor.dtype == np.float32
    assert box == Letterbox((100, 200), (48, 96), (64, 96))
    assert tensor[0, :, 48:].max() == 0  # padding is the normalized mean
    assert tensor[0, 0, 10, 80] == pytest.approx(1.0) and tensor[0, 0, 10, 10] == pytest.approx(-1.0)
    assert box.valid_mask().sum() == 48 * 96
    depth = np.full((64, 96), 5.0, np.float32)
    depth[48:] = 99.0  # padding must be cropped away
    restored = postprocess(depth, box)
    assert restored.shape == (100, 200) and np.allclose(restored, 5.0)
    assert fit_size((100, 200), (64, 96)) == (48, 96)
