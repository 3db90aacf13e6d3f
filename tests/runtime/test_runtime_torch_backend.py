"""Runtime on a model checkpoint (PyTorch backend)."""

from __future__ import annotations

import numpy as np
import pytest

from xnet_edge.errors import CheckpointError, InputSizeError, UsageError
from xnet_edge.runtime import Runtime, StageTimes
from xnet_edge.bundled import demo_model_name, is_demo


def test_checkpoint_matches_model_predict(tiny_model, tiny_checkpoint, rgb_image):
    times = StageTimes()
    with Runtime(tiny_checkpoint, device="cpu", timing=times) as rt:
        assert rt.backend_name == "torch" and rt.task == "depth"
        assert rt.max_depth == tiny_model.config.max_depth
        depth = rt.predict(rgb_image)
        wide = Runtime(tiny_checkpoint, device="cpu", input_size=(96, 128)).predict(rgb_image)
    np.testing.assert_allclose(depth, tiny_model.predict(rgb_image), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wide, tiny_model.predict(rgb_image, input_size=(96, 128)), rtol=1e-5, atol=1e-6)
    assert times.summary()["compute"]["count"] == 1


def test_bad_options(tiny_checkpoint, tmp_path):
    with pytest.raises(InputSizeError, match="stride"):
        Runtime(tiny_checkpoint, input_size=(65, 96))
    with pytest.raises(UsageError, match="no CUDA"):
        Runtime(tiny_checkpoint, device="cuda")
    with pytest.raises(UsageError, match="unknown device"):
        Runtime(tiny_checkpoint, device="tpu")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        Runtime(broken)


def test_segmentation_checkpoint_returns_labels(tmp_path, rgb_image):
    import xnet_edge

    model = xnet_edge.create_model("test_xnet_effnet_seg")
    path = xnet_edge.save_checkpoint(model, tmp_path / "seg.safetensors")
    with Runtime(path) as rt:
        labels = rt.predict(rgb_image)
        assert rt.task == "segmentation"
    assert labels.dtype == np.int32 and labels.shape == rgb_image.shape[:2]
    np.testing.assert_array_equal(labels, model.predict(rgb_image))


def test_demo_names():
    assert is_demo("demo") and is_demo("demo:xnet_lite0") and not is_demo("demo.onnx")
    assert demo_model_name("demo", ["test_xnet_effnet", "xnet_lite0"]) == "xnet_lite0"
    assert demo_model_name("demo", ["test_xnet_effnet"]) == "test_xnet_effnet"
    assert demo_model_name("demo:test_xnet_effnet", ["test_xnet_effnet", "xnet_lite0"]) == "test_xnet_effnet"
    with pytest.raises(UsageError, match="no demo checkpoint"):
        demo_model_name("demo:xnet_convnext_tiny", ["xnet_lite0"])
    with pytest.raises(UsageError, match="ambiguous or unavailable"):
        demo_model_name("demo", [])


def test_fused_option_reaches_the_model(tiny_checkpoint, rgb_image, tiny_model):
    from xnet_edge.kernels import is_fused

    with Runtime(tiny_checkpoint, device="cpu") as plain, Runtime(tiny_checkpoint, device="cpu", fused=True) as rt:
        assert not is_fused(plain.backend.model) and is_fused(rt.backend.model)
        assert rt.describe()["fused"] is True
        np.testing.assert_allclose(rt.predict(rgb_image), tiny_model.predict(rgb_image), rtol=1e-5, atol=1e-5)
