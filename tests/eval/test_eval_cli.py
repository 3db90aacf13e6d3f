"""``xnet-edge eval`` end to end on a checkpoint artifact (PyTorch backend of the Runtime)."""

import json

import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.data import open_dataset
from xnet_edge.eval import depth_metrics

SPEC = "synthetic:2?size=64x96&seed=21"


def test_eval_checkpoint_prints_table_and_writes_json(tiny_model, tmp_path, capsys):
    from xnet_edge import save_checkpoint

    ckpt = save_checkpoint(tiny_model, tmp_path / "tiny.safetensors")
    out_json = tmp_path / "report.json"
    code = main(["eval", str(ckpt), "--dataset", SPEC, "--align", "median", "--json", str(out_json),
                 "--no-progress", "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "abs_rel" in printed.splitlines()[0] and "synthetic" in printed
    assert "protocol: depth 0.001 m .. 10 m, crop none" in printed
    report = json.loads(out_json.read_text())
    assert report["images"] == 2 and report["align"] == "median" and report["dataset_spec"] == SPEC
    assert len(report["per_image"]) == 2
    # the Runtime's predictions score like the model's own
    ds = open_dataset(SPEC)
    preds, gts = zip(*[(tiny_model.predict(rgb), depth) for rgb, depth in ds])
    reference = depth_metrics(np.stack(preds), np.stack(gts), max_depth=10.0, align="median")
    assert report["metrics"]["abs_rel"] == pytest.approx(reference["abs_rel"], rel=1e-3)
    assert report["metrics"]["d1"] == pytest.approx(reference["d1"], abs=1e-3)


def test_eval_usage_errors_exit_2(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.onnx"), "--dataset", "lidar:/x"]) == 2
    assert "unknown dataset kind" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["eval", "x.onnx", "--dataset", "motorcycle", "--align", "mean"])
    assert exc.value.code == 2
