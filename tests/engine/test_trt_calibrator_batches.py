"""The TensorRT calibrator's batches are what the ONNX Runtime backend feeds the network.

An adopted model may take 0..255 input and BGR channels; legacy INT8 calibration must
preprocess through the model's contract exactly as inference does. The batches are
checked against (a) the tensors ``xnet-edge infer`` hands to ONNX Runtime for the same
files and (b) the contract's formula written out here, for a 0..255 BGR model and a 0..1
RGB one; then through ``build_engine`` with the fake TensorRT (what reaches the device).
"""

from __future__ import annotations

import numpy as np
import pytest

from xnet_edge.adopt import adopt_onnx
from xnet_edge.cli import main
from xnet_edge.contract import read_contract
from xnet_edge.engine.trt_calibrator import calibration_batches
from xnet_edge.errors import UsageError

H, W = 64, 96
CASES = {
    "0-255-bgr": dict(scale=255.0, channels="bgr", mean=(0.40, 0.50, 0.60), std=(0.20, 0.25, 0.30)),
    "0-1-rgb": dict(scale=1.0, channels="rgb", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
}


def _foreign_onnx(path):
    """A model from elsewhere: input 'rgb' (1, 3, H, W), one 1x1 convolution, output 'pred' (1, 1, H, W)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.array([[[[0.2]], [[0.3]], [[0.5]]]], np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["rgb", "w"], ["pred"])], "foreign",
                              [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [1, 3, H, W])],
                              [helper.make_tensor_value_info("pred", TensorProto.FLOAT, [1, 1, H, W])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _photos(folder):
    """Three RGB images on disk: one at the network size, two that are letterboxed."""
    from xnet_edge.io_utils import write_bytes_atomic
    from xnet_edge.runtime.outputs import encode_png

    folder.mkdir()
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((H, W, 3), (50, 120, 3), (90, 70, 3))]
    for i, rgb in enumerate(images):
        write_bytes_atomic(folder / f"{i}.png", encode_png(rgb))
    return images


def _formula(rgb, case):
    """The contract's input for an image already at the network size: scale * (rgb/255 - mean) / std."""
    x = (rgb.astype(np.float64) / 255.0 - np.array(case["mean"])) / np.array(case["std"]) * case["scale"]
    if case["channels"] == "bgr":
        x = x[:, :, ::-1]
    return x.transpose(2, 0, 1).astype(np.float32)


@pytest.fixture(params=list(CASES))
def adopted(request, tmp_path):
    case = CASES[request.param]
    path = tmp_path / "adopted.onnx"
    adopt_onnx(_foreign_onnx(tmp_path / "foreign.onnx"), path, output_kind="relative-depth", mean=case["mean"],
               std=case["std"], scale=case["scale"], channels=case["channels"])
    return path, case


def test_calibrator_batches_are_what_onnxruntime_is_fed(adopted, tmp_path, monkeypatch):
    from xnet_edge.runtime.backend_ort import OnnxRuntimeBackend

    path, case = adopted
    images = _photos(tmp_path / "photos")
    fed = []
    run = OnnxRuntimeBackend.run
    monkeypatch.setattr(OnnxRuntimeBackend, "run", lambda self, batch, hooks: (fed.append(np.array(batch)),
                                                                              run(self, batch, hooks))[1])
    assert main(["infer", str(path), "--input", str(tmp_path / "photos"), "--output", str(tmp_path / "out"),
                 "--format", "npy"]) == 0
    fed_to_ort = np.concatenate(fed)
    assert fed_to_ort.shape == (3, 3, H, W)
    pre = read_contract(path).require_preprocessing()
    batches = list(calibration_batches(tmp_path / "photos", pre, batch_size=1))
    np.testing.assert_array_equal(np.concatenate(batches), fed_to_ort)
    np.testing.assert_allclose(batches[0][0], _formula(images[0], case), rtol=1e-4, atol=1e-4)
    # a batch of 2 from 3 images: one full batch, the partial one dropped (TensorRT's fixed batch)
    (pair,) = calibration_batches(tmp_path / "photos", pre, batch_size=2)
    np.testing.assert_array_equal(pair, fed_to_ort[:2])
    assert pair.flags["C_CONTIGUOUS"] and pair.dtype == np.float32


def test_calibration_batches_refuse_bad_input(adopted, tmp_path):
    pre = read_contract(adopted[0]).require_preprocessing()
    with pytest.raises(UsageError, match="calibration images"):
        calibration_batches(tmp_path / "missing", pre, batch_size=1)
    _photos(tmp_path / "photos")
    with pytest.raises(UsageError, match="batch size must be >= 1"):
        calibration_batches(tmp_path / "photos", pre, batch_size=0)


def test_build_feeds_tensorrt_the_contract_batches(adopted, fake_trt, fake_cuda, tmp_path, monkeypatch):
    """``build --calibration-images`` on the adopted model: the device buffer holds the contract's batches."""
    from xnet_edge.engine import trt_calibrator as calibrator_module
    from xnet_edge.engine.build import build_engine

    path, case = adopted
    images = _photos(tmp_path / "photos")
    trt = fake_trt()
    _, gpu, _ = fake_cuda("cuda-python")
    on_device = []
    make = calibrator_module.make_entropy_calibrator

    def recording(*args, **kwargs):
        calib = make(*args, **kwargs)
        get_batch = calib.get_batch

        def get(names):
            ptrs = get_batch(names)
            if ptrs is not None:
                on_device.append(gpu.view(ptrs[0], (1, 3, H, W), np.float32).copy())
            return ptrs
        calib.get_batch = get
        return calib

    monkeypatch.setattr(calibrator_module, "make_entropy_calibrator", recording)
    build_engine(path, "jetson-agx-orin", tmp_path / "engine", precision="int8",
                 calibration_images=tmp_path / "photos", timing_cache=tmp_path / "timing.cache")
    assert [c for c in trt.calls if c[0] == "get_batch"] == [("get_batch", 1)] * 3
    pre = read_contract(path).require_preprocessing()
    np.testing.assert_array_equal(np.concatenate(on_device),
                                  np.concatenate(list(calibration_batches(tmp_path / "photos", pre, 1))))
    np.testing.assert_allclose(on_device[0][0], _formula(images[0], case), rtol=1e-4, atol=1e-4)
