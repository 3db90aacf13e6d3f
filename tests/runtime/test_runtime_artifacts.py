"""Artifact resolution, backend choice and ONNX engine folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xnet_edge.engine.manifest import HashMismatchError, ManifestError
from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.runtime import Artifact, Preprocessing, Runtime, choose_backend, resolve_artifact


def test_resolve_kinds(tmp_path, tiny_onnx, folders):
    (tmp_path / "a.engine").write_bytes(b"x")
    (tmp_path / "b.safetensors").write_bytes(b"x")
    assert resolve_artifact(tmp_path / "a.engine").kind == "tensorrt-plan"
    assert resolve_artifact(tmp_path / "b.safetensors").kind == "checkpoint"
    assert resolve_artifact("demo:xnet_lite0") == Artifact("checkpoint", "demo:xnet_lite0")
    bare = resolve_artifact(tiny_onnx)
    assert bare.kind == "onnx" and bare.manifest is None
    folder = folders.make_folder(tmp_path / "cpu", tiny_onnx, "onnx", tiny_onnx)
    for path in (folder, folder / "manifest.json", folder / "model.opt.onnx"):
        art = resolve_artifact(path)
        assert art.kind == "onnx" and art.file == folder / "model.opt.onnx" and art.manifest is not None
    # the folder's source copy is not the artifact the manifest names: no manifest for it
    assert resolve_artifact(folder / "model.onnx").manifest is None
    with pytest.raises(UsageError, match="not an engine folder"):
        resolve_artifact(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError):
        resolve_artifact(tmp_path / "bad")


@pytest.mark.parametrize("kind,requested,expected", [
    ("onnx", "auto", "onnxruntime"), ("tensorrt-plan", "auto", "tensorrt"), ("checkpoint", "auto", "torch"),
    ("onnx", "onnxruntime", "onnxruntime"), ("tensorrt-plan", "tensorrt", "tensorrt"),
])
def test_choose_backend(kind, requested, expected):
    assert choose_backend(Artifact(kind, "x"), requested) == expected


@pytest.mark.parametrize("kind,requested,hint", [
    ("onnx", "tensorrt", "xnet-edge build"), ("checkpoint", "onnxruntime", "xnet-edge export"),
    ("tensorrt-plan", "onnxruntime", "model.onnx"), ("onnx", "gpu", "unknown backend"),
])
def test_choose_backend_refusals(kind, requested, hint):
    with pytest.raises(UsageError, match=hint):
        choose_backend(Artifact(kind, "x"), requested)


def test_onnx_engine_folder_uses_manifest(tmp_path, tiny_onnx, tiny_model, folders, rgb_image):
    folder = folders.make_folder(tmp_path / "cpu", tiny_onnx, "onnx", tiny_onnx)
    with Runtime(folder) as rt:
        info = rt.describe()
        assert info["threads"] == 1 and info["target"] == "cpu" and info["precision"] == "fp32"
        assert rt.model_config["name"] == "test_xnet_effnet"
        np.testing.assert_allclose(rt.predict(rgb_image), tiny_model.predict(rgb_image), rtol=1e-4, atol=1e-4)
    with Runtime(folder, threads=2) as rt:  # the user's setting wins over the manifest's
        assert rt.describe()["threads"] == 2


def test_onnx_engine_folder_checks(tmp_path, tiny_onnx, folders):
    newer = folders.make_folder(tmp_path / "newer", tiny_onnx, "onnx", tiny_onnx,
                                build_machine=folders.machine(onnxruntime="99.0"))
    with pytest.warns(RuntimeWarning, match="ONNX Runtime 99.0"):
        with Runtime(newer) as rt:
            assert rt.warnings
    odd = dict(folders.PRE, resize="stretch")
    with pytest.raises(XnetEdgeError, match="resize='stretch'"):  # the runtime's rule holds for manifests
        folders.make_folder(tmp_path / "weird", tiny_onnx, "onnx", tiny_onnx, preprocessing=odd)
    broken = folders.make_folder(tmp_path / "broken", tiny_onnx, "onnx", tiny_onnx)
    (broken / "model.opt.onnx").unlink()
    with pytest.raises(HashMismatchError, match="missing"):
        Runtime(broken)


def test_preprocessing_contract():
    pre = Preprocessing.from_dict({"input_size": [64, 96], "mean": [0.5] * 3, "std": [0.25] * 3})
    assert pre.input_size == (64, 96) and pre.resize == "letterbox" and pre.pad == "bottom-right"
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    assert pre.with_input_size((32, 32)).input_size == (32, 32)
    for bad in ('{"input_size": [64], "mean": [0,0,0], "std": [1,1,1]}', '{"mean": [0,0,0]}',
                '{"input_size": [64, 96], "mean": [0,0,0], "std": [1,0,1]}',
                '{"input_size": [64, 96], "mean": [0,0,0], "std": [1,1,1], "scale": 7}',
                '{"input_size": [64, 96], "mean": [0,0,0], "std": [1,1,1], "channels": "rgba"}'):
        with pytest.raises(XnetEdgeError):
            Preprocessing.from_dict(json.loads(bad))


def test_runtime_exposes_the_contract(tmp_path, tiny_onnx, tiny_checkpoint, folders):
    folder = folders.make_folder(tmp_path / "cpu", tiny_onnx, "onnx", tiny_onnx)
    for artifact in (tiny_onnx, folder, tiny_checkpoint):
        with Runtime(artifact) as rt:
            assert (rt.output_kind, rt.task, rt.num_classes) == ("metric-depth", "depth", None)
            assert rt.contract.output_kind == "metric-depth" and rt.max_depth == rt.contract.config["max_depth"]
            assert rt.describe()["output_kind"] == "metric-depth"


def test_runtime_refuses_an_output_that_contradicts_its_kind(tmp_path, tiny_onnx, rgb_image):
    import onnx

    from xnet_edge.contract import OUTPUT_KEY, write_metadata

    proto = onnx.load(str(tiny_onnx))
    write_metadata(proto, {OUTPUT_KEY: json.dumps({"kind": "segmentation", "num_classes": 4})})
    onnx.save(proto, str(tmp_path / "seg.onnx"))
    with Runtime(tmp_path / "seg.onnx") as rt:  # the output shape is dynamic: checked on the first run
        with pytest.raises(UsageError, match="has one channel but is declared segmentation"):
            rt.predict(rgb_image)
