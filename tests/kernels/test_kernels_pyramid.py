"""fused_pyramid_merge (Triton) against pyramid_merge_reference (PyTorch).

Level layouts mirror the test variants (2×3 … 16×24 plus odd sizes); the
heuristic sends the deep levels through the coarse projection launch and the
thin 2× level through the in-kernel sampling path.
"""

import pytest
import torch

from xnet_edge.errors import UsageError
from xnet_edge.kernels import fused_pyramid_merge, pyramid_merge_reference
from xnet_edge.kernels.heuristics import override_blocks, override_up_mode
from xnet_edge.kernels.shapes import PyramidShape, pyramid_args

ACTS = ("gelu", "relu", "relu6", "silu", "identity")
MODEL_LIKE = ((32, 2, 3), (24, 4, 6), (16, 8, 12), (8, 16, 24))
TOL = {torch.float32: dict(atol=2e-5, rtol=1e-5), torch.float16: dict(atol=3e-2, rtol=1e-2)}


def check_pyramid(shape, dtype, device):
    args = pyramid_args(shape, dtype, device)
    with torch.no_grad():
        out = fused_pyramid_merge(**args, backend="triton")
        ref = pyramid_merge_reference([f.float() for f in args["feats"]], [w.float() for w in args["weights"]],
                                      args["bias"], act=args["act"])
    assert out.shape == ref.shape and out.dtype == dtype
    assert not out.isnan().any(), "an output element was never written"
    torch.testing.assert_close(out.float(), ref, **TOL[dtype])


@pytest.mark.parametrize("act", ACTS)
def test_model_like_levels(act, device):
    check_pyramid(PyramidShape(batch=2, levels=MODEL_LIKE, cout=16, act=act), torch.float32, device)


@pytest.mark.parametrize("up_mode", ["fine", "coarse"])
def test_every_level_through_one_path(up_mode, device):
    with override_up_mode(up_mode):
        check_pyramid(PyramidShape(batch=1, levels=MODEL_LIKE, cout=24, act="relu6"), torch.float32, device)


@pytest.mark.parametrize("levels", [
    ((8, 16, 24), (32, 2, 3), (16, 8, 12)),       # finest first, unsorted
    ((12, 4, 6), (6, 4, 6), (20, 2, 3)),          # two levels at the output size
    ((10, 5, 7),),                                # a single level: dense only
    ((20, 2, 2), (12, 3, 4), (6, 5, 7), (4, 9, 13)),  # odd sizes, ratios that are not 2×
], ids=["unsorted", "two-finest", "single", "odd-sizes"])
def test_level_layouts(levels, device):
    check_pyramid(PyramidShape(batch=2, levels=levels, cout=16, act="gelu"), torch.float32, device)


def test_partial_blocks(device):
    """16-wide blocks over a 9×13 output and Cout 40: partial pixel, channel and K blocks."""
    shape = PyramidShape(batch=1, levels=((20, 2, 2), (36, 5, 7), (6, 9, 13)), cout=40, act="silu")
    with override_blocks(block_p=16, block_co=16, block_k=16):
        check_pyramid(shape, torch.float32, device)


def test_float16(device):
    check_pyramid(PyramidShape(batch=2, levels=MODEL_LIKE, cout=16, act="gelu"), torch.float16, device)


@pytest.mark.parametrize("bad, match", [
    (dict(weights=[]), "one weight per feature"),
    (dict(bias=torch.zeros(16, 2)), "1-D"),
    (dict(act="mish"), "unknown activation"),
])
def test_argument_errors(bad, match):
    args = pyramid_args(PyramidShape(batch=1, levels=MODEL_LIKE, cout=16), torch.float32, "cpu")
    args.update(bad)
    with pytest.raises(UsageError, match=match):
        fused_pyramid_merge(**args, backend="triton")


def test_weight_shape_error():
    args = pyramid_args(PyramidShape(batch=1, levels=MODEL_LIKE, cout=16), torch.float32, "cpu")
    args["weights"][1] = torch.zeros(16, 25)
    with pytest.raises(UsageError, match=r"weights\[1\] must be"):
        fused_pyramid_merge(**args, backend="torch")
