"""ONNX export: the contract (I/O names, metadata, opset), parity with PyTorch, determinism, errors."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import xnet_edge
from xnet_edge.cli import main
from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.contract import CONFIG_KEY, OUTPUT_KEY, PREPROCESSING_KEY, read_contract
from xnet_edge.export import check_parity, export_onnx, parity_inputs, prepare_for_export


def _model(randomize_norms, name="test_xnet_effnet", seed=0):
    torch.manual_seed(seed)
    return randomize_norms(xnet_edge.create_model(name)).eval()  # so folding the BatchNorms is really tested


@pytest.fixture(scope="module")
def exported(tmp_path_factory, randomize_norms):
    path = tmp_path_factory.mktemp("export") / "model.onnx"
    model = _model(randomize_norms)
    result = export_onnx(model, path, batch=None)  # dynamic batch: parity runs batch 1 and batch 2
    return model, path, result


def test_contract_names_shapes_and_metadata(exported):
    model, path, result = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["depth"]
    dims = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 64, 96]
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    props = {p.key: json.loads(p.value) for p in proto.metadata_props}
    assert props[CONFIG_KEY] == model.config.to_dict()
    assert props[PREPROCESSING_KEY] == {"input_size": [64, 96], "mean": list(model.config.mean),
                                        "std": list(model.config.std), "resize": "letterbox", "pad": "bottom-right",
                                        "scale": 1.0, "channels": "rgb", "multiple": 32}
    assert props[OUTPUT_KEY] == {"kind": "metric-depth", "max_depth": model.config.max_depth}
    ops = {n.op_type for n in proto.graph.node}
    assert "BatchNormalization" not in ops  # bridge BatchNorms are folded
    assert result.parity.passed and result.parity.batch_sizes == [1, 2]


def test_onnx_runtime_matches_pytorch_on_real_images(exported):
    model, path, result = exported
    names, x = parity_inputs((64, 96), model.config.mean, model.config.std)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x})[0]  # all images in one batch of 3
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (len(names), 1, 64, 96)
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=0)
    assert result.parity.max_abs == pytest.approx(float(np.abs(got - want).max()), abs=5e-5)


def test_folding_rewrites_are_exact(randomize_norms):
    model = _model(randomize_norms)
    folded = prepare_for_export(model)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
    assert model.bridges[0].norm_kind == "batchnorm"  # the user's model is untouched


@pytest.mark.slow
def test_dynamic_batch_segmentation_export(tmp_path):
    torch.manual_seed(0)
    model = xnet_edge.create_model("test_xnet_effnet_seg")
    path = tmp_path / "seg.onnx"
    result = export_onnx(model, path, batch=None)
    assert result.parity.batch_sizes == [1, 2]
    proto = onnx.load(str(path))
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = torch.randn(3, 3, 64, 96)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), atol=1e-4, rtol=0)


def test_export_is_byte_identical(exported, tmp_path, randomize_norms):
    _, path, _ = exported
    again = tmp_path / "again.onnx"
    export_onnx(_model(randomize_norms), again, batch=None, parity=False)
    assert again.read_bytes() == path.read_bytes()


def test_failed_parity_writes_nothing(exported, tmp_path, monkeypatch):
    model, path, _ = exported
    import xnet_edge.export as export_mod

    proto = onnx.load(str(path))
    head = next(t for t in proto.graph.initializer if t.name.startswith("head.proj.bias"))
    head.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(head) + 1.0, head.name))
    monkeypatch.setattr(export_mod, "_torch_export", lambda *a, **k: proto)
    out = tmp_path / "bad.onnx"
    with pytest.raises(XnetEdgeError, match="differs from PyTorch") as caught:
        export_onnx(model, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    message = str(caught.value)
    # one line that says what the error means and which options let the user proceed
    limit = f"limit of {model.config.max_depth * 0.1:.3g} mm (default 1e-4 x max_depth"
    assert "\n" not in message and limit in message
    assert "--tolerance " in message and "tolerance=" in message
    assert "--no-parity" in message and "parity=False" in message and "not written" in message


def test_check_parity_detects_a_wrong_model(exported, tmp_path):
    model, path, _ = exported
    proto = onnx.load(str(path))
    head = next(t for t in proto.graph.initializer if t.name.startswith("head.proj.bias"))
    arr = onnx.numpy_helper.to_array(head) + 1.0
    head.CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float32), head.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(proto, str(broken))
    report = check_parity(model, broken, (64, 96), batch=1, tolerance=1e-3)
    assert not report.passed and report.max_abs > 1e-2


def test_read_contract_errors(exported, tmp_path):
    _, path, _ = exported
    contract = read_contract(path)
    assert (contract.input_name, contract.output_name, contract.input_size) == ("image", "depth", (64, 96))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(UsageError, match="not a valid ONNX model"):
        read_contract(junk)
    proto = onnx.load(str(path))
    proto.graph.input[0].name = "input"
    for node in proto.graph.node:
        for i, name in enumerate(node.input):
            if name == "image":
                node.input[i] = "input"
    renamed = tmp_path / "renamed.onnx"
    onnx.save(proto, str(renamed))
    assert read_contract(renamed).input_name == "input"  # any one image input name is accepted
    with pytest.raises(UsageError, match="not found"):
        read_contract(tmp_path / "missing.onnx")


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["export", "--model", "test_xnet_effnet", "--opset", "13", "-o", str(tmp_path / "m.onnx")]) == 2
    assert "opset 13" in capsys.readouterr().err
    assert main(["export", "--model", "test_xnet_effnet", "-o", str(tmp_path / "m.txt")]) == 2
    assert main(["export", "--model", "no_such_model", "-o", str(tmp_path / "m.onnx")]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_exports_the_demo_checkpoint(tmp_path, capsys):
    out = tmp_path / "demo.onnx"
    assert main(["export", "--checkpoint", "demo", "--dynamic-batch", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "xnet_lite0, 256x320, batch dynamic" in text and "parity vs PyTorch" in text and ": OK" in text
    contract = read_contract(out)
    assert contract.config["name"] == "xnet_lite0" and contract.image_input.shape == (-1, 3, 256, 320)
    assert contract.output_kind == "metric-depth" and contract.max_depth == 10.0
