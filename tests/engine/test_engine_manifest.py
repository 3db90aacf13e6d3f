"""manifest.json: round trip, hash verification, compatibility rules."""

import hashlib
import json

import pytest

from xnet_edge.engine import manifest as mf
from xnet_edge.errors import UsageError

ORIN = {"tensorrt": "10.3.0", "cuda": "12.6", "onnxruntime": None, "gpu_name": "Orin",
        "compute_capability": "8.7", "jetpack": "6.1/6.2 (L4T R36.4.0)", "platform": "Linux-aarch64",
        "python": "3.10.12"}


def _engine_folder(tmp_path, kind="tensorrt-plan", machine=ORIN, runtime=None, cache=True):
    files = {"model.plan" if kind == "tensorrt-plan" else "model.opt.onnx": b"engine-bytes",
             "model.onnx": b"onnx-bytes"}
    if cache:
        files["calibration.cache"] = b"TRT-100300-EntropyCalibration2\nimage: 3c010a14\n"
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    art = "model.plan" if kind == "tensorrt-plan" else "model.opt.onnx"
    manifest = mf.new_manifest(
        artifact_kind=kind, artifact_sha256=sha[art], target={"name": "jetson-orin-nano"}, precision="int8",
        inputs=[{"name": "image", "shape": [1, 3, 64, 96], "dtype": "float32"}],
        outputs=[{"name": "depth", "shape": [1, 1, 64, 96], "dtype": "float32"}],
        preprocessing={"input_size": [64, 96], "mean": [0.5] * 3, "std": [0.5] * 3, "resize": "letterbox",
                       "pad": "bottom-right"},
        model={"name": "test_xnet_effnet"}, onnx_file="model.onnx", onnx_sha256=sha["model.onnx"],
        calibration_cache={"file": "calibration.cache", "sha256": sha["calibration.cache"]} if cache else None,
        build_machine=machine, runtime=runtime or {"tensorrt": {"dla_core": None}})
    mf.write_manifest(tmp_path, manifest)
    return manifest


def test_round_trip_keeps_every_field_and_contract_layout(tmp_path):
    written = _engine_folder(tmp_path)
    read = mf.read_manifest(tmp_path)
    assert read == written
    assert mf.read_manifest(tmp_path / "manifest.json") == written
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert raw["format"] == "xnet-edge-engine" and raw["format_version"] == 2
    assert raw["created"].endswith("Z") and raw["artifact"]["file"] == "model.plan"
    assert set(raw["build_machine"]) == set(mf.BUILD_MACHINE_KEYS)
    assert [c.status for c in mf.verify_hashes(tmp_path)] == ["ok", "ok", "ok"]


def test_hash_mismatch_and_missing_file_are_detected(tmp_path):
    _engine_folder(tmp_path)
    (tmp_path / "model.plan").write_bytes(b"engine-bytes-tampered")
    (tmp_path / "calibration.cache").unlink()
    statuses = {c.role: c.status for c in mf.check_hashes(tmp_path)}
    assert statuses == {"artifact": "mismatch", "sources.onnx": "ok", "sources.calibration_cache": "missing"}
    expected = r"model\.plan \(artifact\) sha256.*calibration\.cache \(sources\.calibration_cache\) is missing"
    with pytest.raises(mf.HashMismatchError, match=expected):
        mf.verify_hashes(tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(format="something-else"), "not an xnet-edge engine"),
    (lambda m: m.update(format_version=3), "upgrade xnet-edge"),
    (lambda m: m.update(format_version=1), "no content hash"),
    (lambda m: m.pop("inputs"), "missing keys: inputs"),
    (lambda m: m.update(precision="fp8"), "precision"),
    (lambda m: m["artifact"].update(file="../outside.plan"), "inside the engine folder"),
    (lambda m: m["sources"]["onnx"].update(file="/etc/passwd"), "inside the engine folder"),
])
def test_malformed_manifest_is_refused(tmp_path, edit, message):
    manifest = _engine_folder(tmp_path)
    edit(manifest)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mf.ManifestError, match=message):
        mf.read_manifest(tmp_path)


def test_missing_folder_is_a_usage_error_and_bad_json_a_manifest_error(tmp_path):
    with pytest.raises(UsageError, match="not an engine folder"):
        mf.read_manifest(tmp_path / "nope")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(mf.ManifestError, match="unreadable"):
        mf.read_manifest(tmp_path)


def _with(**changes):
    return {**ORIN, **changes}


@pytest.mark.parametrize("machine, errors, warnings", [
    (ORIN, [], []),
    (_with(tensorrt="10.3.0.30"), [], []),                      # build number does not matter
    (_with(tensorrt="10.7.0"), ["tensorrt"], []),
    (_with(tensorrt=None), ["tensorrt"], []),
    (_with(compute_capability="8.6", gpu_name="RTX 3090"), ["compute_capability"], []),
    (_with(compute_capability=None, gpu_name=None), [], ["compute_capability"]),
    (_with(gpu_name="Orin (nvgpu)"), [], ["gpu_name"]),
])
def test_tensorrt_compatibility_rules(tmp_path, machine, errors, warnings):
    manifest = _engine_folder(tmp_path)
    issues = mf.check_compatibility(manifest, machine)
    assert [i.field for i in issues if i.severity == "error"] == errors
    assert [i.field for i in issues if i.severity == "warning"] == warnings


def test_incompatible_engine_message_says_how_to_rebuild(tmp_path):
    manifest = _engine_folder(tmp_path)
    with pytest.raises(mf.EngineCompatibilityError) as exc:
        mf.ensure_compatible(manifest, _with(tensorrt="10.7.0"), folder=tmp_path)
    msg = str(exc.value)
    assert "TensorRT 10.3.0" in msg and "10.7.0" in msg
    assert f"xnet-edge build {tmp_path}/model.onnx --target jetson-orin-nano --precision int8" in msg
    assert f"--calibration-cache {tmp_path}/calibration.cache" in msg
    with pytest.raises(mf.EngineCompatibilityError) as exc:
        mf.ensure_compatible(manifest, _with(tensorrt=None), folder=tmp_path)
    assert "xnet-edge[trt]" in str(exc.value) and "Rebuild" not in str(exc.value)
    assert [w.field for w in mf.ensure_compatible(manifest, _with(gpu_name="Other Orin"))] == ["gpu_name"]


def test_dla_engine_needs_a_jetson(tmp_path):
    manifest = _engine_folder(tmp_path, runtime={"tensorrt": {"dla_core": 0}})
    desktop = _with(jetpack=None)
    assert [i.field for i in mf.check_compatibility(manifest, desktop)] == ["dla_core"]
    assert "--dla 0" in mf.rebuild_command(manifest, tmp_path)


def test_onnx_artifact_rules(tmp_path):
    manifest = _engine_folder(tmp_path, kind="onnx", cache=False,
                              machine=_with(onnxruntime="1.20.1", tensorrt=None),
                              runtime={"onnxruntime": {"intra_op_num_threads": 0,
                                                       "graph_optimization_level": "ORT_ENABLE_EXTENDED",
                                                       "providers": ["CPUExecutionProvider"]}})
    assert mf.check_compatibility(manifest, {"onnxruntime": "1.20.0"}) == []
    assert [i.severity for i in mf.check_compatibility(manifest, {"onnxruntime": "1.19.2"})] == ["warning"]
    assert [i.severity for i in mf.check_compatibility(manifest, {"onnxruntime": None})] == ["error"]
