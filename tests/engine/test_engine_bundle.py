"""`xnet-edge bundle`: the archive's contents, its build script per TensorRT generation, and refusals."""

import io
import json
import shutil
import subprocess
import tarfile

import pytest

from xnet_edge.cli import main
from xnet_edge.engine.bundle import make_bundle, read_bundle
from xnet_edge.errors import UsageError


def _members(path):
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: (m.mode, tar.extractfile(m).read()) for m in tar.getmembers()}


def _sh_syntax_ok(script: bytes) -> bool:
    sh = shutil.which("sh")
    return sh is None or subprocess.run([sh, "-n"], input=script).returncode == 0


def test_orin_bundle_packs_model_profile_and_both_build_routes(tiny_onnx, tmp_path):
    out = tmp_path / "orin-nx.tar.gz"
    result = make_bundle(tiny_onnx, "jetson-orin-nx", out, precision="fp16", dla=0)
    members = _members(out)
    assert sorted(members) == ["orin-nx/build.sh", "orin-nx/bundle.json", "orin-nx/model.onnx", "orin-nx/target.json"]
    assert members["orin-nx/model.onnx"][1] == tiny_onnx.read_bytes()
    assert json.loads(members["orin-nx/target.json"][1])["name"] == "jetson-orin-nx"
    mode, script = members["orin-nx/build.sh"]
    assert mode & 0o111 and _sh_syntax_ok(script)
    text = script.decode()
    assert ("exec xnet-edge build model.onnx --target jetson-orin-nx --precision fp16 --dla 0 --workspace 2048 "
            "--timing-cache timing.cache --max-batch 1 -o \"$OUT\"") in text
    assert '--saveEngine="$OUT"/model.plan' in text and "--useDLACore=0" in text and "--skipInference" in text
    meta = read_bundle(out)
    assert meta["target"] == "jetson-orin-nx" and meta["tensorrt_generation"] == 10
    assert set(meta["files"]) == {"model.onnx", "target.json", "build.sh"}
    assert result.plan.dla_core == 0


def test_xavier_bundle_uses_tensorrt_8_flags_and_the_calibration_cache(tiny_onnx, tmp_path, capsys):
    cache = tmp_path / "calibration.cache"
    cache.write_bytes(b"TRT-8502-EntropyCalibration2\nimage: 3c010a14\n")
    out = tmp_path / "xavier.tgz"
    assert main(["bundle", str(tiny_onnx), "--target", "jetson-xavier-nx", "--precision", "int8",
                 "--calibration-cache", str(cache), "-o", str(out)]) == 0
    assert "xavier/build.sh" in capsys.readouterr().out
    members = _members(out)
    assert members["xavier/calibration.cache"][1] == cache.read_bytes()
    text = members["xavier/build.sh"][1].decode()
    # TensorRT 8.5: trtexec only (xnet-edge's builder would refuse and point back here)
    assert "xnet-edge build" not in text and "--calib=calibration.cache" in text
    assert "--buildOnly" in text and "--builderOptimizationLevel" not in text and "--int8" in text


def test_cpu_bundle_and_corruption_detection(tiny_qdq_onnx, tmp_path):
    out = tmp_path / "cpu.tar.gz"
    make_bundle(tiny_qdq_onnx, "cpu", out)
    text = _members(out)["cpu/build.sh"][1].decode()
    assert "--target cpu --precision int8 --threads 0 --opt-level 2" in text and "trtexec" not in text
    with tarfile.open(out, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    files["cpu/model.onnx"] = files["cpu/model.onnx"][:-10]
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UsageError, match="model.onnx is missing or corrupt"):
        read_bundle(bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(target="jetson-orin-nano", precision="int8"), "INT8 needs scales"),
    (dict(target="gpu-sm86", precision="fp16", tensorrt=11), "FP16 needs an FP16 ONNX"),
    (dict(target="gpu-sm86", tensorrt=9), "--tensorrt must be one of"),
    (dict(target="jetson-orin-nx", tensorrt="8.6", precision="fp16", dla=0, opt_level=9), "opt-level"),
    (dict(target="mars-rover"), "unknown target"),
    (dict(target="jetson-agx-orin", calibration_cache="absent.cache"), "calibration cache not found"),
])
def test_bundle_refuses_builds_that_would_fail_on_the_device(tiny_onnx, tmp_path, kwargs, message):
    out = tmp_path / "b.tar.gz"
    with pytest.raises(UsageError, match=message):
        make_bundle(tiny_onnx, out_path=out, **kwargs)
    assert not out.exists() and list(tmp_path.iterdir()) == []
