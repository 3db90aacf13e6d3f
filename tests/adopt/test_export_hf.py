"""``xnet-edge export --hf DIR``: a local ``transformers`` depth model folder -> ONNX with the contract.

The folders are ``save_pretrained`` output of small random-initialised configs made here (nothing
downloads): Depth Anything (relative inverse depth, a saved image processor config with its own
mean/std), GLPN (metres) and DPT (no processor config: the processor class's defaults; square inputs). ``infer``
on the export must reproduce the PyTorch model run on the same photo, preprocessed here by the
processor's own formula. Bad input gets one line and an exit code, and nothing is written.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.contract import read_contract

pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                                reason="transformers is not installed (pip install 'xnet-edge[hf]')")

DA_PROCESSOR = {"image_processor_type": "DPTImageProcessor", "do_resize": True, "size": {"height": 70, "width": 98},
                "keep_aspect_ratio": True, "ensure_multiple_of": 14, "do_rescale": True,
                "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.40, 0.50, 0.60],
                "image_std": [0.20, 0.25, 0.30]}
GLPN_PROCESSOR = {"image_processor_type": "GLPNImageProcessor", "do_resize": True, "size_divisor": 32,
                  "do_rescale": True, "rescale_factor": 1 / 255}


def _save(model, folder, processor=None):
    model.save_pretrained(str(folder))
    if processor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    """``{name: (folder, model)}`` for depth_anything, glpn and dpt, saved with save_pretrained."""
    from xnet_edge.hf import import_transformers, random_depth_anything

    tf = import_transformers()
    import torch

    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    glpn = tf.GLPNForDepthEstimation(tf.GLPNConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 32, 64], num_attention_heads=[1, 1, 2, 4], mlp_ratios=[2, 2, 2, 2],
        decoder_hidden_size=16, max_depth=8)).eval()
    dpt = tf.DPTForDepthEstimation(tf.DPTConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=64,
        patch_size=16, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
        head_in_index=-1)).eval()
    bert = tf.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8)
    (root / "bert").mkdir()
    bert.save_pretrained(str(root / "bert"))
    models = {"depth_anything": (random_depth_anything(hidden=64, layers=4), DA_PROCESSOR),
              "glpn": (glpn, GLPN_PROCESSOR), "dpt": (dpt, None)}
    return {name: (_save(model, root / name, processor), model) for name, (model, processor) in models.items()}


def _reference(model, rgb, mean, std):
    """PyTorch on the photo, preprocessed as the image processor does: (rgb / 255 - mean) / std."""
    import torch

    x = (rgb.astype(np.float32) / 255 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None])))
    return out.predicted_depth[0].numpy()


def _photo(size, path):
    """A real photo cropped to exactly the network size (no resize, no padding), written as PNG."""
    from xnet_edge.images import skimage_photo
    from xnet_edge.io_utils import write_bytes_atomic
    from xnet_edge.runtime.outputs import encode_png

    rgb = np.ascontiguousarray(skimage_photo("astronaut")[60:60 + size[0], 150:150 + size[1]])
    write_bytes_atomic(path, encode_png(rgb))
    return rgb


CASES = {  # name: (extra flags, kind, size, mean, std, multiple, max_depth)
    "depth_anything": ([], "inverse-depth", (70, 98), (0.40, 0.50, 0.60), (0.20, 0.25, 0.30), 14, None),
    "glpn": (["--input-size", "64x96"], "metric-depth", (64, 96), (0, 0, 0), (1, 1, 1), 32, 8.0),
    "dpt": (["--input-size", "64x64"], "inverse-depth", (64, 64), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 16, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_export_hf_then_infer_matches_pytorch(name, hf_folders, tmp_path, capsys):
    flags, kind, size, mean, std, multiple, max_depth = CASES[name]
    folder, model = hf_folders[name]
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", "--hf", str(folder), "-o", str(onnx_path), *flags]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {onnx_path}" in printed and kind in printed and "parity vs PyTorch" in printed
    contract = read_contract(onnx_path)
    pre = contract.preprocessing
    assert (contract.output_kind, contract.input_name, contract.output_name) == (kind, "image", "depth")
    assert contract.max_depth == max_depth and pre.input_size == size and pre.multiple == multiple
    np.testing.assert_allclose(pre.mean, mean, atol=1e-9)
    np.testing.assert_allclose(pre.std, std, atol=1e-9)
    assert (pre.scale, pre.channels) == (1.0, "rgb")
    assert contract.config["name"] == name and contract.config["transformers_model_type"] == name
    rgb = _photo(size, tmp_path / "photo.png")
    assert main(["infer", str(onnx_path), "--input", str(tmp_path / "photo.png"), "--output", str(tmp_path / "out"),
                 "--format", "npy"]) == 0
    (npy,) = (tmp_path / "out").glob("*.npy")
    expected = _reference(model, rgb, mean, std)
    got = np.load(npy)
    assert got.shape == expected.shape == size
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * float(np.abs(expected).max()))


def _one_line(capsys, argv, code):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("xnet-edge: error:") and "\n" not in err, err
    return err


def test_bad_folders_one_line_and_nothing_written(hf_folders, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    da = hf_folders["depth_anything"][0]
    assert "no such folder" in _one_line(capsys, ["export", "--hf", str(tmp_path / "nope"), "-o", str(out)], 2)
    (tmp_path / "empty").mkdir()
    assert "no config.json" in _one_line(capsys, ["export", "--hf", str(tmp_path / "empty"), "-o", str(out)], 2)
    bert = da.parent / "bert"
    err = _one_line(capsys, ["export", "--hf", str(bert), "-o", str(out)], 2)
    assert "'bert' model" in err and "not a depth model" in err
    err = _one_line(capsys, ["export", "--hf", str(da), "-o", str(out), "--input-size", "64x96"], 2)
    assert "not divisible by the model stride 14" in err and "70x98" in err
    err = _one_line(capsys, ["export", "--hf", str(hf_folders["dpt"][0]), "-o", str(out), "--input-size", "64x96"], 2)
    assert "square inputs only" in err
    err = _one_line(capsys, ["export", "--hf", str(da), "--checkpoint", "demo", "-o", str(out)], 2)
    assert "drop --checkpoint" in err
    assert not out.exists() and list(tmp_path.glob("*.onnx*")) == []


def test_without_transformers_names_the_extra(hf_folders, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` now fails
    out = tmp_path / "m.onnx"
    err = _one_line(capsys, ["export", "--hf", str(hf_folders["glpn"][0]), "-o", str(out), "--input-size", "64x96"], 1)
    assert "'transformers' is required" in err and "pip install 'xnet-edge[hf]'" in err
    assert not out.exists()
