"""fuse_model / create_model(fused=...) on whole ×Net test variants: same parameters, same outputs."""

import pytest
import torch

import xnet_edge
from xnet_edge.kernels import FusedBridge, FusedPyramidMerge, fuse_model, is_fused, launchers
from xnet_edge.models.bridge import Bridge, PyramidMerge

TOL = dict(atol=2e-5, rtol=1e-5)


@pytest.fixture
def randomized(randomize_norms):
    """``randomized(name, device)``: an unfused model with norms far from their defaults."""
    def make(name: str, device: str) -> torch.nn.Module:
        torch.manual_seed(0)
        return randomize_norms(xnet_edge.create_model(name, fused=False)).to(device).eval()
    return make


def fused_copy(model: torch.nn.Module, backend: str) -> torch.nn.Module:
    twin = xnet_edge.create_model(model.config.name, fused=False).to(next(model.parameters()).device)
    twin.load_state_dict(model.state_dict())
    return fuse_model(twin.eval(), backend=backend)


def test_fuse_model_shares_parameters_and_keys():
    model = xnet_edge.create_model("test_xnet_convnext", fused=False)
    keys = list(model.state_dict())
    we, norm, pyramid_weights = model.bridges[1].we, model.bridges[1].norm, model.pyramid.weights
    fuse_model(model)
    assert is_fused(model) and list(model.state_dict()) == keys
    assert isinstance(model.bridges[1], FusedBridge) and isinstance(model.bridges[1], Bridge)
    assert model.bridges[1].we is we and model.bridges[1].norm is norm
    assert isinstance(model.pyramid, FusedPyramidMerge) and model.pyramid.weights is pyramid_weights
    fuse_model(model, backend="torch")  # idempotent: only the backend changes
    assert model.bridges[1].we is we and model.bridges[1].backend == "torch"


def test_create_model_fused_flag():
    assert is_fused(xnet_edge.create_model("test_xnet_effnet", fused=True))
    plain = xnet_edge.create_model("test_xnet_effnet", fused=False)
    assert type(plain.bridges[0]) is Bridge and type(plain.pyramid) is PyramidMerge


@pytest.mark.parametrize("name, batch", [("test_xnet_effnet", 1), ("test_xnet_convnext", 2)])
def test_whole_model_fused_matches_reference(name, batch, device, randomized):
    """BatchNorm+SiLU (effnet, 5 levels) and LayerNorm+GELU (convnext, batch 2) bridges; every
    fused kernel runs once: decoder features, then the pyramid, then the shared head."""
    model = randomized(name, device)
    fused = fused_copy(model, backend="triton")
    x = torch.randn(batch, 3, 64, 96, device=device)
    with torch.no_grad():
        want_feats, got_feats = model.forward_features(x), fused.forward_features(x)
        for want, got in zip(want_feats, got_feats):
            torch.testing.assert_close(got, want, **TOL)
        want_p, got_p = model.pyramid(want_feats), fused.pyramid(got_feats)
        torch.testing.assert_close(got_p, want_p, **TOL)
        torch.testing.assert_close(fused.head(got_p, (64, 96)), model(x), **TOL)


def test_auto_on_cpu_is_bit_identical_to_unfused(randomized):
    model = randomized("test_xnet_effnet", "cpu")
    fused = fused_copy(model, backend="auto")
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(fused(x), model(x))


def test_batchnorm_is_refolded_when_weights_change(device, randomized):
    model = randomized("test_xnet_effnet", device)
    fused = fused_copy(model, backend="triton")
    bridge, plain = fused.bridges[-1], model.bridges[-1]
    x = torch.randn(1, 24, 16, 24, device=device)
    e = torch.randn(1, 16, 32, 48, device=device)
    img = torch.randn(1, 3, 32, 48, device=device)
    with torch.no_grad():
        before = bridge(x, e, img)
        state = {k: v * 1.5 if k.endswith("running_var") else v for k, v in plain.state_dict().items()}
        plain.load_state_dict(state)
        bridge.load_state_dict(state)  # copy_ into the shared tensors bumps their versions
        after = bridge(x, e, img)
        assert not torch.allclose(before, after)
        torch.testing.assert_close(after, plain(x, e, img), **TOL)


def test_model_built_in_inference_mode(device):
    """Inference tensors have no version counter; the BatchNorm fold cache must still work."""
    with torch.inference_mode():
        model = xnet_edge.create_model("test_xnet_effnet", fused=False).to(device)
        fused = fuse_model(xnet_edge.create_model("test_xnet_effnet", fused=False).to(device), backend="triton")
        fused.load_state_dict(model.state_dict())
        bridge, plain = fused.bridges[0], model.bridges[0]
        e, img = torch.randn(1, 64, 2, 3, device=device), torch.randn(1, 3, 2, 3, device=device)
        torch.testing.assert_close(bridge(None, e, img), plain(None, e, img), **TOL)


def test_training_mode_uses_the_reference(monkeypatch):
    def no_launch(*args, **kwargs):
        raise AssertionError("a fused kernel ran in training mode")

    monkeypatch.setattr(launchers, "fused_sum", no_launch)
    model = fuse_model(xnet_edge.create_model("test_xnet_effnet", fused=False), backend="triton").train()
    model(torch.randn(1, 3, 64, 96)).mean().backward()
    assert model.bridges[0].we.grad is not None


@pytest.mark.slow
def test_onnx_export_traces_reference_ops(randomized):
    """Modules forced to the Triton backend still export: ONNX export always runs the reference."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import io

    bridge = fused_copy(randomized("test_xnet_convnext", "cpu"), backend="triton").bridges[1]
    inputs = (torch.randn(1, 64, 2, 3), torch.randn(1, 48, 4, 6), torch.randn(1, 3, 4, 6))
    buffer = io.BytesIO()
    with torch.no_grad():
        program = torch.onnx.export(bridge, inputs, dynamo=True, verbose=False)
        program.save(buffer)
        want = Bridge.forward(bridge, *inputs)  # the unfused computation
    proto = onnx.load_from_string(buffer.getvalue())
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}, "a non-standard op was exported"
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
    got = torch.from_numpy(session.run(None, feeds)[0])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
