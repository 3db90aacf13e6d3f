"""One ``--input-size`` for models with different size multiples: each runs at its own rounded size.

A ×Net takes multiples of 32 and a ViT with 14-pixel patches multiples of 14; ``bench`` with one
``--input-size`` runs each at the nearest size it takes and records the size run, the size asked
for and the multiple in the JSON, with a note. A fixed-size model whose size is not the rounded
one is refused in one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from xnet_edge.adopt import adopt_onnx
from xnet_edge.cli import main

FAST = ["--warmup-ms", "5", "--duration-s", "0.05", "--iterations", "3", "--rounds", "2", "--quiet"]


def _dynamic_onnx(path, fixed=None):
    """A model from elsewhere: input 'x' (1, 3, H, W), output 'y' (1, 1, H, W); H, W dynamic unless ``fixed``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = fixed or ("H", "W")
    weight = numpy_helper.from_array(np.full((1, 3, 1, 1), 0.3, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, h, w])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _adopted(tmp_path, name, multiple, size, fixed=False):
    original = _dynamic_onnx(tmp_path / f"{name}.orig.onnx", size if fixed else None)
    out = tmp_path / f"{name}.onnx"
    adopt_onnx(original, out, output_kind="relative-depth", multiple=multiple, input_size=None if fixed else size)
    return out


@pytest.fixture
def fed_sizes(monkeypatch):
    """The (H, W) of every batch ONNX Runtime runs, per model file."""
    from xnet_edge.runtime.backend_ort import OnnxRuntimeBackend

    seen: dict[str, set] = {}
    run = OnnxRuntimeBackend.run

    def recording(self, batch, hooks):
        seen.setdefault(self.path.name, set()).add(tuple(batch.shape[2:]))
        return run(self, batch, hooks)

    monkeypatch.setattr(OnnxRuntimeBackend, "run", recording)
    return seen


def test_one_input_size_is_rounded_to_each_models_multiple(tmp_path, capsys, fed_sizes):
    cnn = _adopted(tmp_path, "cnn", 32, (64, 96))      # ×Net-like: multiples of 32
    vit = _adopted(tmp_path, "vit", 14, (70, 98))      # ViT-like: 14-pixel patches
    report_path = tmp_path / "r.json"
    assert main(["bench", str(cnn), str(vit), "--input-size", "100x150", "--json", str(report_path),
                 "--plot", str(tmp_path / "r.png"), *FAST]) == 0
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    cnn_result, vit_result = report["results"]
    # nearest multiples: 100 -> 96 (32) / 98 (14); 150 -> 160 (32) / 154 (14)
    assert cnn_result["input_size"] == [96, 160] and vit_result["input_size"] == [98, 154]
    assert fed_sizes == {"cnn.onnx": {(96, 160)}, "vit.onnx": {(98, 154)}}  # what each network really ran
    for result, multiple in ((cnn_result, 32), (vit_result, 14)):
        assert result["input_size_requested"] == [100, 150] and result["size_multiple"] == multiple
        assert f"--input-size 100x150 rounded to {result['input_size'][0]}x{result['input_size'][1]}" \
               in result["notes"][0]
    assert report["settings"]["input_size"] == [100, 150]
    assert "rounded to 96x160" in out and "rounded to 98x154" in out and "98x154" in out.split("per-call")[0]


def test_a_size_each_model_already_takes_is_not_rounded(tmp_path, fed_sizes):
    cnn = _adopted(tmp_path, "cnn", 32, (64, 96))
    vit = _adopted(tmp_path, "vit", 14, (70, 98))
    report_path = tmp_path / "r.json"
    assert main(["bench", str(cnn), str(vit), "--input-size", "224x448", "--json", str(report_path), *FAST]) == 0
    for result in json.loads(report_path.read_text())["results"]:  # 224 = 7*32 = 16*14, 448 = 14*32 = 32*14
        assert result["input_size"] == [224, 448] and not any("rounded" in n for n in result["notes"])
    # without --input-size each model runs at its own size and nothing was requested
    assert main(["bench", str(cnn), str(vit), "--json", str(report_path), *FAST]) == 0
    results = json.loads(report_path.read_text())["results"]
    assert [r["input_size"] for r in results] == [[64, 96], [70, 98]]
    assert [r["input_size_requested"] for r in results] == [None, None]


def test_fixed_size_models_take_the_rounded_size_or_are_refused(tmp_path, capsys):
    vit_fixed = _adopted(tmp_path, "vit_fixed", 14, (98, 154), fixed=True)
    report_path = tmp_path / "r.json"
    assert main(["bench", str(vit_fixed), "--input-size", "100x150", "--json", str(report_path), *FAST]) == 0
    (result,) = json.loads(report_path.read_text())["results"]
    assert result["input_size"] == [98, 154] and result["size_multiple"] == 14
    capsys.readouterr()
    report_path.unlink()
    assert main(["bench", str(vit_fixed), "--input-size", "128x128", "--json", str(report_path), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "fixed at 98x154" in err and "rounds to 126x126 (size multiple 14)" in err, err
    assert not report_path.exists()


def test_each_model_is_opened_once_at_the_rounded_size(tmp_path, monkeypatch, fed_sizes):
    """The rounding reads the contract of the open model and re-sizes it: no second session."""
    from xnet_edge.runtime.backend_ort import OnnxRuntimeBackend

    opened = []
    init = OnnxRuntimeBackend.__init__

    def counting(self, path, *args, **kwargs):
        opened.append(str(path))
        init(self, path, *args, **kwargs)

    monkeypatch.setattr(OnnxRuntimeBackend, "__init__", counting)
    vit = _adopted(tmp_path, "vit", 14, (70, 98))
    assert main(["bench", str(vit), "--input-size", "100x150", "--json", str(tmp_path / "r.json"), *FAST]) == 0
    assert len(opened) == 1 and fed_sizes == {"vit.onnx": {(98, 154)}}


def test_runtime_set_input_size(tmp_path):
    from xnet_edge.errors import UsageError
    from xnet_edge.runtime import Runtime

    with Runtime(_adopted(tmp_path, "vit", 14, (70, 98))) as rt:
        rt.set_input_size((42, 56))
        assert rt.input_size == (42, 56) and rt.preprocessing.input_size == (42, 56)
        depth = rt.predict(np.zeros((30, 40, 3), np.uint8))
        assert depth.shape == (30, 40)
        with pytest.raises(UsageError, match="14"):
            rt.set_input_size((50, 56))            # 50 is not a multiple of 14
        assert rt.input_size == (42, 56)           # a refused size changes nothing
    with Runtime(_adopted(tmp_path, "fixed", 14, (98, 154), fixed=True)) as rt:
        with pytest.raises(UsageError, match="fixed at 98x154"):
            rt.set_input_size((42, 56))
