"""CUDA-only checks of the compiled kernels: bfloat16, the real model shapes, CUDA graphs, inductor.

Skipped without a GPU; ``benchmarks/gpu_check.sh`` runs them (with the rest of
tests/kernels) compiled, not interpreted.
"""

import pytest
import torch

import xnet_edge
from xnet_edge.kernels import bridge_reference, fuse_model, fused_bridge, fused_pyramid_merge
from xnet_edge.kernels import pyramid_merge_reference
from xnet_edge.kernels.heuristics import interpreting
from xnet_edge.kernels.shapes import BridgeShape, PyramidShape, bridge_args, pyramid_args, record_shapes

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or interpreting(),
                                reason="needs a CUDA GPU with compiled Triton")

TOL = {torch.float32: dict(atol=2e-5, rtol=1e-5), torch.float16: dict(atol=3e-2, rtol=1e-2),
       torch.bfloat16: dict(atol=1e-1, rtol=2e-2)}


def as_fp32(args: dict) -> dict:
    return {k: ([t.float() for t in v] if isinstance(v, list) else v.float() if torch.is_tensor(v) else v)
            for k, v in args.items()}


def compare_bridge(shape, dtype):
    args = bridge_args(shape, dtype, "cuda")
    with torch.no_grad():
        out = fused_bridge(**args, backend="triton")
        ref = bridge_reference(**as_fp32(args))
    assert out.dtype == dtype and not out.isnan().any()
    torch.testing.assert_close(out.float(), ref, **TOL[dtype])


def compare_pyramid(shape, dtype):
    args = pyramid_args(shape, dtype, "cuda")
    with torch.no_grad():
        out = fused_pyramid_merge(**args, backend="triton")
        ref = pyramid_merge_reference(**as_fp32(args))
    assert out.dtype == dtype and not out.isnan().any()
    torch.testing.assert_close(out.float(), ref, **TOL[dtype])


@pytest.mark.parametrize("norm", ["none", "layernorm"])
def test_bfloat16(norm):
    compare_bridge(BridgeShape(batch=2, ce=20, hw=(7, 9), cout=40, cx=24, x_hw=(4, 5), norm=norm, act="gelu"),
                   torch.bfloat16)
    compare_pyramid(PyramidShape(batch=2, levels=((32, 2, 3), (24, 4, 6), (8, 16, 24)), cout=16, act="relu6"),
                    torch.bfloat16)


@pytest.mark.parametrize("model_name", ["xnet_lite0", "xnet_convnext_tiny"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_real_model_shapes(model_name, dtype):
    """Every bridge and the pyramid of the real variants at 256×320, batch 2 (fp32 is covered at
    small shapes; each dtype here compiles a dozen kernels, which gpu_check.sh pays for)."""
    bridges, pyramid = record_shapes(model_name, (256, 320), batch=2)
    for shape in bridges:
        compare_bridge(shape, dtype)
    compare_pyramid(pyramid, dtype)


def test_tf32_follows_cudnn_flag():
    shape = BridgeShape(batch=1, ce=64, hw=(32, 40), cout=64, cx=128, x_hw=(16, 20), act="identity")
    args = bridge_args(shape, torch.float32, "cuda")
    torch.backends.cudnn.allow_tf32 = True
    with torch.no_grad():
        tf32 = fused_bridge(**args, backend="triton")
    torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        ieee = fused_bridge(**args, backend="triton")
        ref = bridge_reference(**args)
    torch.testing.assert_close(ieee, ref, **TOL[torch.float32])
    torch.testing.assert_close(tf32, ref, atol=1e-2, rtol=1e-2)
    assert not torch.equal(tf32, ieee), "cudnn.allow_tf32 did not change the fp32 dot precision"


def test_cuda_graph_replays_the_fused_model():
    model = fuse_model(xnet_edge.create_model("test_xnet_effnet", fused=False).cuda().eval())
    static_x = torch.randn(1, 3, 64, 96, device="cuda")
    with torch.inference_mode():
        eager = model(static_x).clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm-up: compiles kernels and folds BatchNorm outside the capture
                model(static_x)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = model(static_x)
        graph.replay()
        torch.cuda.synchronize()
        torch.testing.assert_close(static_out, eager, **TOL[torch.float32])
        new_x = torch.randn_like(static_x)
        static_x.copy_(new_x)
        graph.replay()
        torch.testing.assert_close(static_out, model(new_x), **TOL[torch.float32])


def test_inductor_compiles_around_the_op():
    args = bridge_args(BridgeShape(batch=1, ce=48, hw=(32, 40), cout=64, cx=96, x_hw=(16, 20),
                                   norm="layernorm", act="gelu"), torch.float16, "cuda")
    compiled = torch.compile(lambda a: fused_bridge(**a) * 2.0, fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(args), fused_bridge(**args, backend="torch") * 2.0,
                                   **TOL[torch.float16])
