"""fused_bridge (Triton) against bridge_reference (PyTorch), on every optional input, norm and activation.

Runs in Triton's interpreter on the CPU (see conftest.py) and compiled on CUDA.
Shapes are small and odd (7×9 output, 4×5 input for 2×: PyTorch's own odd
rounding), channel counts all differ (Cx 24, Ce 20, Cout 40).
"""

import pytest
import torch

from xnet_edge.errors import UsageError
from xnet_edge.kernels import bridge_reference, fused_bridge
from xnet_edge.kernels.heuristics import override_blocks, override_up_mode
from xnet_edge.kernels.shapes import BridgeShape, bridge_args

ACTS = ("gelu", "relu", "relu6", "silu", "identity")
X_MODES = {"none": None, "same": (7, 9), "2x": (4, 5), "odd-ratio": (3, 4)}
SMALL_BLOCKS = dict(block_p=16, block_co=16, block_k=16)
TOL = {torch.float32: dict(atol=2e-5, rtol=1e-5), torch.float16: dict(atol=3e-2, rtol=1e-2),
       torch.bfloat16: dict(atol=1.5e-1, rtol=5e-2)}


def make_shape(x_mode="2x", img=True, norm="none", act="gelu", batch=2, hw=(7, 9), cx=24, ce=20, cout=40):
    x_hw = X_MODES[x_mode] if x_mode in X_MODES else x_mode
    return BridgeShape(batch=batch, ce=ce, hw=hw, cout=cout, cx=cx if x_hw else None, x_hw=x_hw,
                       use_image=img, norm=norm, act=act)


def check_bridge(shape, dtype, device, memory_format=torch.contiguous_format):
    """Run the fused op and compare with the fp32 reference on the same (rounded) inputs."""
    args = bridge_args(shape, dtype, device)
    for key in ("x", "e", "img"):
        if args[key] is not None:
            args[key] = args[key].contiguous(memory_format=memory_format)
    with torch.no_grad():
        out = fused_bridge(**args, backend="triton")
        ref = bridge_reference(**{k: v.float() if torch.is_tensor(v) else v for k, v in args.items()})
    assert out.shape == ref.shape and out.dtype == dtype
    assert not out.isnan().any(), "an output element was never written"
    torch.testing.assert_close(out.float(), ref, **TOL[dtype])
    return out


# how x reaches the output: absent, same size (dense), smaller and sampled ("fine") or projected first ("coarse")
X_PATHS = [("none", None), ("same", None), ("2x", "fine"), ("2x", "coarse"), ("odd-ratio", "fine"),
           ("odd-ratio", "coarse")]


@pytest.mark.parametrize("norm", ["none", "layernorm"])
@pytest.mark.parametrize("img", [True, False], ids=["img", "no-img"])
@pytest.mark.parametrize("x_mode, up_mode", X_PATHS, ids=[f"{m}-{u}" if u else m for m, u in X_PATHS])
def test_optional_inputs_and_norms(x_mode, up_mode, img, norm, device):
    with override_up_mode(up_mode):
        check_bridge(make_shape(x_mode, img, norm, act="gelu" if norm == "layernorm" else "relu6"),
                     torch.float32, device)


@pytest.mark.parametrize("norm", ["none", "layernorm"])
@pytest.mark.parametrize("act", ACTS)
def test_activations(act, norm, device):
    check_bridge(make_shape("2x", True, norm, act), torch.float32, device)


@pytest.mark.parametrize("norm", ["none", "layernorm"])
@pytest.mark.parametrize("up_mode", ["fine", "coarse"])
def test_partial_blocks_k_loop_and_two_pass_norm(up_mode, norm, device):
    """16-wide blocks: 63 pixels → 4 pixel blocks, Cout 40 → 3 chunks (two-pass LayerNorm), Ce 20 → 2 K steps."""
    with override_blocks(**SMALL_BLOCKS), override_up_mode(up_mode):
        check_bridge(make_shape("2x", True, norm, act="silu", batch=1), torch.float32, device)


@pytest.mark.parametrize("case", [("none", "none"), ("2x", "none"), ("2x", "layernorm"), ("same", "layernorm")])
def test_float16(case, device):
    x_mode, norm = case
    check_bridge(make_shape(x_mode, True, norm, act="gelu"), torch.float16, device)


def test_float16_two_pass_norm_uses_fp32_scratch(device):
    with override_blocks(**SMALL_BLOCKS):
        check_bridge(make_shape("2x", False, "layernorm", act="relu", batch=1), torch.float16, device)


@pytest.mark.parametrize("norm", ["none", "layernorm"])
def test_channels_last_in_and_out(norm, device):
    out = check_bridge(make_shape("2x", True, norm), torch.float32, device, torch.channels_last)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_mixed_layouts_and_noncontiguous_input(device):
    args = bridge_args(make_shape("2x", True, "none"), torch.float32, device)
    args["x"] = args["x"].contiguous(memory_format=torch.channels_last)
    args["e"] = torch.cat([args["e"], args["e"]], dim=3)[..., ::2]  # strided: pixels do not flatten
    with torch.no_grad():
        out = fused_bridge(**args, backend="triton")
    torch.testing.assert_close(out, bridge_reference(**args), **TOL[torch.float32])


def test_weight_without_input_is_ignored(device):
    args = bridge_args(make_shape("none", False, "none"), torch.float32, device)
    args.update(wx=torch.ones(40, 7, device=device), wi=torch.ones(40, 3, device=device))
    with torch.no_grad():
        out = fused_bridge(**args, backend="triton")
    torch.testing.assert_close(out, bridge_reference(**args), **TOL[torch.float32])


def test_hand_computed_single_pixel(device):
    """1×1 output, 2 channels: y = relu6(We·e + Wi·img + Wx·x + b), worked by hand."""
    e = torch.tensor([1.0, 2.0], device=device).view(1, 2, 1, 1)
    img = torch.tensor([0.5, 0.0, -1.0], device=device).view(1, 3, 1, 1)
    x = torch.tensor([3.0], device=device).view(1, 1, 1, 1)
    we = torch.tensor([[1.0, 1.0], [2.0, -1.0]], device=device)
    wi = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]], device=device)
    wx = torch.tensor([[1.0], [-1.0]], device=device)
    bias = torch.tensor([0.25, 10.0], device=device)
    # channel 0: 1+2 + (1 - 1) + 3 + 0.25 = 6.25 → relu6 → 6; channel 1: 2-2 + 0 - 3 + 10 = 7 → 6
    with torch.no_grad():
        out = fused_bridge(x, e, img, wx, we, wi, bias, act="relu6", backend="triton")
    assert out.flatten().tolist() == [6.0, 6.0]
    with torch.no_grad():
        out = fused_bridge(x, e, img, wx, we, wi, bias, act="identity", backend="triton")
    assert out.flatten().tolist() == [6.25, 7.0]


def test_bfloat16_on_interpreter_is_refused():
    if torch.cuda.is_available():
        pytest.skip("bfloat16 runs on CUDA (covered by the GPU tests)")
    args = bridge_args(make_shape("none", False, "none"), torch.bfloat16, "cpu")
    with torch.no_grad(), pytest.raises(UsageError, match="bfloat16"):
        fused_bridge(**args, backend="triton")


@pytest.mark.parametrize("bad, match", [
    (dict(we=torch.zeros(40, 21)), "we must be"),
    (dict(wx=None), "wx is required"),
    (dict(img=torch.zeros(2, 3, 5, 5)), "spatial size"),
    (dict(norm_weight=torch.ones(40)), "together"),
    (dict(act="tanh"), "unknown activation"),
    (dict(bias=torch.zeros(40, 1)), "1-D"),
    (dict(x=torch.zeros(3, 24, 4, 5)), "batch"),
    (dict(e=torch.zeros(2, 20, 7, 9, dtype=torch.float64)), "float16, bfloat16 or float32"),
])
def test_argument_errors(bad, match):
    args = bridge_args(make_shape("2x", True, "none"), torch.float32, "cpu")
    args.update(bad)
    for backend in ("torch", "triton"):
        with pytest.raises(UsageError, match=match):
            fused_bridge(**args, backend=backend)
