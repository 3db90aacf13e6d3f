"""Backend selection, the exportable switch, the custom-op registration and the block heuristics."""

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

from xnet_edge.errors import MissingDependencyError, UsageError
from xnet_edge.kernels import bridge_reference, dispatch, exportable, fused_bridge, is_exportable, launchers
from xnet_edge.kernels import set_exportable
from xnet_edge.kernels.heuristics import BlockConfig, choose_up_mode, gpu_blocks, override_blocks
from xnet_edge.kernels.shapes import BridgeShape, bridge_args

SHAPE = BridgeShape(batch=1, ce=20, hw=(7, 9), cout=24, cx=16, x_hw=(4, 5), norm="layernorm", act="gelu")


def fake_tensor(is_cuda, requires_grad=False):
    """Stand-in with the two attributes backend selection reads (no GPU needed)."""
    return SimpleNamespace(is_cuda=is_cuda, requires_grad=requires_grad)


# --------------------------------------------------------------------------- backend selection

@pytest.mark.parametrize("is_cuda, grad, export, expected", [
    (True, False, False, "triton"),
    (False, False, False, "torch"),   # CPU tensors: the reference
    (True, True, False, "torch"),     # a gradient is needed: no backward in the kernels
    (True, False, True, "torch"),     # exportable: reference ops only
])
def test_auto_backend_table(is_cuda, grad, export, expected):
    ref = fake_tensor(is_cuda, grad)
    with exportable(export), torch.set_grad_enabled(True):
        assert dispatch.select_backend("auto", ref, [ref]) == expected


def test_exportable_overrides_explicit_triton():
    ref = fake_tensor(True)
    with exportable():
        assert is_exportable()
        assert dispatch.select_backend("triton", ref, [ref]) == "torch"
    assert not is_exportable()
    set_exportable(True)
    try:
        assert dispatch.select_backend("auto", ref, [ref]) == "torch"
    finally:
        set_exportable(False)


def test_running_onnx_export_forces_the_reference(monkeypatch):
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    ref = fake_tensor(True)
    assert dispatch.select_backend("auto", ref, [ref]) == "torch"
    assert dispatch.select_backend("triton", ref, [ref]) == "torch"


def test_explicit_backend_errors(monkeypatch):
    cuda, cpu = fake_tensor(True), fake_tensor(False)
    with pytest.raises(UsageError, match="unknown backend"):
        dispatch.select_backend("cuda", cuda, [cuda])
    with torch.enable_grad(), pytest.raises(UsageError, match="no backward"):
        dispatch.select_backend("triton", cuda, [fake_tensor(True, requires_grad=True)])
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(UsageError, match="TRITON_INTERPRET"):
        dispatch.select_backend("triton", cpu, [cpu])
    monkeypatch.setattr(dispatch, "_TRITON_INSTALLED", False)
    assert dispatch.select_backend("auto", cuda, [cuda]) == "torch"
    with pytest.raises(MissingDependencyError, match=r"xnet-edge\[triton\]"):
        dispatch.select_backend("triton", cuda, [cuda])


def test_auto_on_cpu_runs_the_reference_without_launching(monkeypatch):
    def no_launch(*args, **kwargs):
        raise AssertionError("the Triton launcher ran for a CPU tensor with backend='auto'")

    monkeypatch.setattr(launchers, "bridge", no_launch)
    args = bridge_args(SHAPE)
    with torch.no_grad():
        assert torch.equal(fused_bridge(**args, backend="auto"), bridge_reference(**args))


def test_cpu_paths_work_without_triton():
    """In a fresh interpreter with triton blocked (torch itself would otherwise import it), a fused
    model builds and runs on the CPU without loading the kernels module; create_model's default
    does not fuse; explicit backend='triton' names the extra to install."""
    code = textwrap.dedent("""
        import sys
        sys.modules["triton"] = None  # any import of triton now fails
        import torch, xnet_edge
        from xnet_edge.kernels import fused_bridge, is_fused
        model = xnet_edge.create_model("test_xnet_effnet", fused=True)
        assert is_fused(model)
        with torch.no_grad():
            model(torch.randn(1, 3, 64, 96))
        assert "xnet_edge.kernels._triton_kernels" not in sys.modules
        assert not is_fused(xnet_edge.create_model("test_xnet_effnet"))
        try:
            fused_bridge(None, torch.randn(1, 4, 3, 3), None, None, torch.ones(2, 4), None, torch.zeros(2),
                         backend="triton")
        except xnet_edge.MissingDependencyError as exc:
            assert "xnet-edge[triton]" in str(exc)
        else:
            raise AssertionError("no MissingDependencyError")
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# --------------------------------------------------------------------------- custom ops

def test_fake_impls_give_shape_dtype_and_layout():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        e = torch.empty(2, 20, 7, 9, dtype=torch.float16).contiguous(memory_format=torch.channels_last)
        out = torch.ops.xnet_edge.fused_bridge(torch.empty(2, 16, 4, 5, dtype=torch.float16), e, None,
                                               torch.empty(24, 16), torch.empty(24, 20), None, torch.empty(24),
                                               None, None, 1e-6, "gelu")
        feats = [torch.empty(1, 8, 2, 3), torch.empty(1, 4, 8, 12)]
        merged = torch.ops.xnet_edge.fused_pyramid_merge(feats, [torch.empty(16, 8), torch.empty(16, 4)],
                                                         torch.empty(16), "identity")
    assert out.shape == (2, 24, 7, 9) and out.dtype == torch.float16
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert merged.shape == (1, 16, 8, 12) and merged.dtype == torch.float32


def test_torch_compile_sees_one_op(device):
    graphs = []

    def record(gm, example_inputs):
        graphs.append([n.target for n in gm.graph.nodes if n.op == "call_function"])
        return gm.forward

    args = bridge_args(SHAPE, device=device)
    fn = torch.compile(lambda a: fused_bridge(**a, backend="triton"), backend=record, fullgraph=True)
    with torch.no_grad():
        out = fn(args)
    op = torch.ops.xnet_edge.fused_bridge
    assert graphs in ([[op]], [[op.default]])
    torch.testing.assert_close(out, bridge_reference(**args), atol=2e-5, rtol=1e-5)


def test_torch_export_keeps_the_op(device):
    class Wrapper(torch.nn.Module):
        def forward(self, x, e, img, wx, we, wi, bias, norm_weight, norm_bias):
            return fused_bridge(x, e, img, wx, we, wi, bias, norm_weight=norm_weight, norm_bias=norm_bias,
                                backend="triton")

    args = bridge_args(SHAPE, device=device)
    inputs = tuple(args[k] for k in ("x", "e", "img", "wx", "we", "wi", "bias", "norm_weight", "norm_bias"))
    with torch.no_grad():
        program = torch.export.export(Wrapper(), inputs)
        targets = [n.target for n in program.graph.nodes if n.op == "call_function"]
        assert targets == [torch.ops.xnet_edge.fused_bridge.default]
        torch.testing.assert_close(program.module()(*inputs), bridge_reference(**args), atol=2e-5, rtol=1e-5)


# --------------------------------------------------------------------------- heuristics

def test_gpu_blocks_hand_checked():
    # xnet_lite0's last bridge at 256×320 (128×160, Cout 32, widest in-kernel input 24) on 132 SMs:
    # 128-pixel blocks give 160 programs < 264, so 64 (320 programs); tile 64×32 = 2048 ≥ 1024 → 8 warps;
    # K = 32 (next power of two of 24), or 16 when x is sampled in the kernel (tile budget halves to 2048).
    assert gpu_blocks(128 * 160, 1, 32, 24, False, 132) == BlockConfig(64, 32, 32, 8, 2)
    assert gpu_blocks(128 * 160, 1, 32, 24, False, 132, fine=True, gathers=True) == BlockConfig(64, 32, 16, 8, 2)
    # its third bridge (64×80, Cout 16): 32-pixel floor, tile 512 < 1024 → 4 warps
    assert gpu_blocks(64 * 80, 1, 16, 24, False, 132) == BlockConfig(32, 16, 32, 4, 2)
    # xnet_convnext_tiny's deepest bridge (8×10, 768 → 768, LayerNorm), fp16: 256-channel chunks (two
    # passes), K 64; 32-pixel floor for occupancy, then 16 so that 16×256 ≤ 4096.
    assert gpu_blocks(80, 1, 768, 768, True, 132) == BlockConfig(16, 256, 64, 8, 2)
    # the same in fp32: half the tile budget (2048), so 128-channel chunks, K 32 (128 bytes).
    assert gpu_blocks(80, 1, 768, 768, True, 132, itemsize=4) == BlockConfig(16, 128, 32, 8, 2)
    # ... and with a sampled term the budget halves again: 64-channel chunks
    assert gpu_blocks(80, 1, 768, 768, True, 132, gathers=True, itemsize=4).block_co == 64
    # large batch: the first guess already fills the GPU and 128×32 fits the tile
    assert gpu_blocks(240 * 320, 8, 32, 24, False, 132).block_p == 128


def test_up_mode_rule():
    assert choose_up_mode(24, 32, 2, (64, 80), (128, 160)) == "fine"     # thin 2× input
    assert choose_up_mode(40, 16, 2, (32, 40), (64, 80)) == "coarse"     # 80 B > 64 B per tap
    assert choose_up_mode(40, 64, 2, (32, 40), (128, 160)) == "coarse"   # 4× per side
    assert choose_up_mode(768, 384, 4, (8, 10), (16, 20)) == "coarse"    # fp32, wide
    assert choose_up_mode(768, 384, 2, (8, 10), (16, 20)) == "fine"      # fp16 1536 B == 1536 B


def test_override_blocks_validates():
    with pytest.raises(ValueError, match="power of two"):
        with override_blocks(block_p=24):
            pass
    with pytest.raises(ValueError, match="unknown block field"):
        with override_blocks(block_m=16):
            pass
