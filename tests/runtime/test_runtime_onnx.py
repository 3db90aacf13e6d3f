"""Runtime on ONNX Runtime against the PyTorch model it was exported from."""

from __future__ import annotations

import numpy as np
import pytest

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.preprocess import postprocess, preprocess
from xnet_edge.runtime import Runtime, StageTimes


def test_predict_matches_pytorch(tiny_model, tiny_onnx, rgb_image):
    with Runtime(tiny_onnx) as rt:
        depth = rt.predict(rgb_image)
        assert rt.backend_name == "onnxruntime"
        assert rt.input_size == (64, 96)
    expected = tiny_model.predict(rgb_image)
    assert depth.shape == rgb_image.shape[:2] and depth.dtype == np.float32
    np.testing.assert_allclose(depth, expected, rtol=1e-4, atol=1e-4)


def test_padding_is_cropped_before_resizing(tiny_onnx, rgb_image):
    # 48x80 fits 64x96 as 58x96 plus 6 padded rows; the result must come from the 58 real rows only.
    with Runtime(tiny_onnx) as rt:
        tensor, box = rt.preprocess(rgb_image)
        assert box.resized == (58, 96)
        raw = rt.infer(tensor)[0, 0]
        expected = postprocess(raw, box)
        np.testing.assert_allclose(rt.predict(rgb_image), expected, rtol=1e-6, atol=1e-6)
        poisoned = raw.copy()
        poisoned[58:] = 1e6  # garbage in the padding must not leak into the result
        np.testing.assert_array_equal(rt.postprocess(poisoned[None], box), expected)


def test_invalid_depths_become_zero(tiny_onnx, rgb_image):
    with Runtime(tiny_onnx) as rt:
        _, box = rt.preprocess(rgb_image)
        out = np.full((1, 64, 96), 2.0, np.float32)
        out[0, :10, :10] = np.nan
        out[0, 20:30, 20:30] = -1.0
        depth = rt.postprocess(out, box)
    assert np.isfinite(depth).all() and (depth >= 0).all()
    assert depth[0, 0] == 0.0 and depth[-1, -1] == pytest.approx(2.0)


def test_predict_batch_equals_single_predictions(tiny_onnx, rgb_image):
    images = [rgb_image, rgb_image[:30, :70], np.ascontiguousarray(rgb_image[::-1])]
    with Runtime(tiny_onnx) as rt:
        batch = rt.predict_batch(images)
        singles = [rt.predict(img) for img in images]
        assert rt.predict_batch([]) == []
    for b, s, img in zip(batch, singles, images):
        assert b.shape == img.shape[:2]
        np.testing.assert_allclose(b, s, rtol=1e-5, atol=1e-5)


def test_fixed_batch_model_runs_batches_one_by_one(tiny_onnx, tmp_path, rgb_image):
    import onnx

    proto = onnx.load(str(tiny_onnx))
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    fixed = tmp_path / "fixed.onnx"
    onnx.save(proto, str(fixed))
    with Runtime(fixed) as rt, Runtime(tiny_onnx) as dyn:
        assert rt.backend.batch_range() == (1, 1)
        assert dyn.backend.batch_range() == (1, None)
        out = rt.predict_batch([rgb_image] * 3)
        np.testing.assert_allclose(out[2], dyn.predict(rgb_image), rtol=1e-5, atol=1e-5)


def test_image_kinds_are_converted(tiny_onnx, rgb_image):
    gray = rgb_image[:, :, 0]
    with Runtime(tiny_onnx) as rt:
        as_rgb = rt.predict(np.repeat(gray[:, :, None], 3, axis=2))
        np.testing.assert_allclose(rt.predict(gray), as_rgb, rtol=1e-6)
        rgba = np.concatenate([rgb_image, np.full_like(rgb_image[:, :, :1], 7)], axis=2)
        np.testing.assert_allclose(rt.predict(rgba), rt.predict(rgb_image), rtol=1e-6)
        sixteen = rgb_image.astype(np.uint16) << 8
        np.testing.assert_allclose(rt.predict(sixteen), rt.predict(rgb_image), rtol=1e-6)
        for bad in (np.zeros((0, 10, 3), np.uint8), np.zeros((8, 8, 5), np.uint8)):
            with pytest.raises(UsageError):
                rt.predict(bad)


def test_timing_hooks_report_each_stage(tiny_onnx, rgb_image):
    times = StageTimes()
    seen = []
    with Runtime(tiny_onnx, timing=times) as rt:
        rt.predict(rgb_image)
        rt.add_timing_hook(lambda stage, s: seen.append(stage))
        rt.predict_batch([rgb_image, rgb_image])
    summary = times.summary()
    assert list(summary) == ["preprocess", "compute", "postprocess"]
    assert summary["preprocess"]["count"] == 3 and summary["compute"]["count"] == 2
    assert summary["compute"]["mean_ms"] > 0
    assert seen.count("postprocess") == 2  # the second hook joined after the first predict


def test_missing_preprocessing_metadata(tiny_onnx_no_metadata, tiny_model, rgb_image):
    with pytest.raises(UsageError, match="preprocessing"):
        Runtime(tiny_onnx_no_metadata)
    cfg = tiny_model.config
    pre = {"input_size": [64, 96], "mean": list(cfg.mean), "std": list(cfg.std)}
    with Runtime(tiny_onnx_no_metadata, preprocessing=pre) as rt:
        np.testing.assert_allclose(rt.predict(rgb_image), tiny_model.predict(rgb_image), rtol=1e-4, atol=1e-4)


def test_lifecycle_and_options(tiny_onnx, rgb_image):
    rt = Runtime(tiny_onnx, threads=1, providers="cpu", graph_optimization_level="extended")
    assert rt.describe()["providers"] == ["CPUExecutionProvider"]
    rt.close()
    rt.close()
    assert rt.closed
    with pytest.raises(XnetEdgeError, match="closed"):
        rt.predict(rgb_image)
    with pytest.raises(UsageError, match="fixed at 64x96"):
        Runtime(tiny_onnx, input_size=(128, 128))
    with pytest.raises(UsageError, match="not available"):
        Runtime(tiny_onnx, providers="cuda")
    with pytest.raises(UsageError, match="unknown execution provider"):
        Runtime(tiny_onnx, providers="fpga")
    with pytest.raises(UsageError):
        Runtime(tiny_onnx, threads=-1)
    with pytest.raises(UsageError, match="unknown Runtime option"):
        Runtime(tiny_onnx, colour="red")
    with Runtime(tiny_onnx, providers="auto") as rt:
        assert rt.backend.providers[-1] == "CPUExecutionProvider"


def test_corrupt_or_missing_files(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(UsageError, match="is not an ONNX model"):  # exit 2, as build and calibrate say
        Runtime(bad)
    with pytest.raises(UsageError, match="not found"):
        Runtime(tmp_path / "nope.onnx")
    with pytest.raises(UsageError, match="cannot tell"):
        (tmp_path / "weights.bin").write_bytes(b"x")
        Runtime(tmp_path / "weights.bin")


def test_preprocess_matches_shared_module(tiny_onnx, rgb_image):
    with Runtime(tiny_onnx) as rt:
        tensor, box = rt.preprocess(rgb_image)
        pre = rt.preprocessing
    ref, ref_box = preprocess(rgb_image, pre.input_size, pre.mean, pre.std)
    np.testing.assert_array_equal(tensor, ref)
    assert box == ref_box


@pytest.mark.slow
def test_runtime_on_the_project_exporter_output(tiny_model, tmp_path, rgb_image):
    """The same comparison on a model written by xnet_edge.export (torch.export; slow)."""
    from xnet_edge.export import export_onnx

    path = tmp_path / "exported.onnx"
    export_onnx(tiny_model, path, batch=None)
    with Runtime(path) as rt:
        assert rt.backend.batch_range() == (1, None)
        np.testing.assert_allclose(rt.predict(rgb_image), tiny_model.predict(rgb_image), rtol=1e-4, atol=1e-4)
        batch = rt.predict_batch([rgb_image, rgb_image[:20]])
    np.testing.assert_allclose(batch[1], tiny_model.predict(rgb_image[:20]), rtol=1e-4, atol=1e-4)
