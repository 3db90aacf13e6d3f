"""Bundles against hostile input: script injection through the model, archives that escape their
folder, calibration caches for another TensorRT, and the TensorRT 8 route on the device.

The build scripts are run for real with ``sh``; ``trtexec`` and ``xnet-edge`` are PATH stubs
that record their arguments, so the tests see exactly what the device would run.
"""

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from xnet_edge.cli import main
from xnet_edge.engine.bundle import extract_bundle, make_bundle, read_bundle
from xnet_edge.engine.trtexec_script import trtexec_build_args
from xnet_edge.errors import UsageError

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")

STUB = """#!/bin/sh
# records its arguments, one per line, then behaves like a successful build
printf '%s\\n' "$@" > "$RECORD_DIR/$(basename "$0").argv"
"""


def _renamed_input(onnx_path, name, out):
    """A copy of the model whose image input is called ``name``."""
    import onnx

    model = onnx.load(str(onnx_path))
    old = model.graph.input[0].name
    model.graph.input[0].name = name
    for node in model.graph.node:
        node.input[:] = [name if i == old else i for i in node.input]
    onnx.save(model, str(out))
    return out


def _run_bundle(bundle, tmp_path, stubs=("trtexec",)):
    """Extract ``bundle`` and run its build.sh with only ``stubs`` on PATH (plus /bin tools)."""
    work = tmp_path / "device"
    work.mkdir()
    folder = extract_bundle(bundle, work)
    bin_dir, record = tmp_path / "stubs", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    for name in stubs:
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD_DIR": str(record), "HOME": str(tmp_path)}
    proc = subprocess.run(["sh", str(folder / "build.sh")], cwd=work, env=env, capture_output=True, text=True)
    argv = {p.stem: p.read_text().splitlines() for p in record.glob("*.argv")}
    return proc, argv, folder


@pytest.mark.parametrize("name", ["x$(touch pwned)", "$OUT$(touch pwned)", "x`touch pwned`", "a b;touch pwned"])
def test_input_names_cannot_run_commands_in_build_sh(tiny_onnx, tmp_path, name):
    model = _renamed_input(tiny_onnx, name, tmp_path / "evil.onnx")
    bundle = tmp_path / "b.tar.gz"
    result = make_bundle(model, "jetson-orin-nano", bundle, precision="fp16")
    proc, argv, folder = _run_bundle(bundle, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not list(tmp_path.rglob("pwned")) and not (folder / "pwned").exists()
    assert argv["trtexec"] == trtexec_build_args(result.plan, onnx="model.onnx", engine="engine/model.plan",
                                                 calibration_cache="calibration.cache", timing_cache="timing.cache",
                                                 layer_info="engine/layers.json")
    assert f"--minShapes={name}:1x3x64x96" in argv["trtexec"]
    # and the engine folder's own build.sh quotes the same way
    from xnet_edge.engine.trtexec_script import build_script

    script = tmp_path / "engine-build.sh"
    script.write_text(build_script(result.plan, layer_info="layers.json"))
    (tmp_path / "stubs" / "trtexec").chmod(0o755)
    env = {"PATH": f"{tmp_path / 'stubs'}:/usr/bin:/bin", "RECORD_DIR": str(tmp_path / "record")}
    assert subprocess.run(["sh", str(script)], env=env, capture_output=True).returncode == 0
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.parametrize("name, char", [("a,b", ","), ("in:0", ":"), ("it's", "'"), ("a\nb", "\\n")])
def test_names_trtexec_cannot_carry_are_refused_with_exit_2(tiny_onnx, tmp_path, capsys, name, char):
    model = _renamed_input(tiny_onnx, name, tmp_path / "odd.onnx")
    out = tmp_path / "b.tar.gz"
    assert main(["bundle", str(model), "--target", "jetson-orin-nano", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert char in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_xnet_edge_on_the_device_gets_the_quoted_out_dir(tiny_onnx, tmp_path):
    bundle = tmp_path / "orin.tar.gz"
    make_bundle(tiny_onnx, "jetson-orin-nx", bundle, precision="fp16")
    proc, argv, _ = _run_bundle(bundle, tmp_path, stubs=("trtexec", "xnet-edge"))
    assert proc.returncode == 0, proc.stderr
    assert "trtexec" not in argv
    assert argv["xnet-edge"] == ["build", "model.onnx", "--target", "jetson-orin-nx", "--precision", "fp16",
                                 "--workspace", "2048", "--timing-cache", "timing.cache", "--max-batch", "4",
                                 "-o", "engine"]


@pytest.mark.parametrize("stubs", [("trtexec",), ("trtexec", "xnet-edge")])
def test_tensorrt_8_bundles_build_with_trtexec_whether_or_not_xnet_edge_is_installed(tiny_onnx, tmp_path, stubs):
    cache = tmp_path / "calibration.cache"
    cache.write_bytes(b"TRT-8502-EntropyCalibration2\nimage: 3c010a14\n")
    bundle = tmp_path / "xavier.tar.gz"
    make_bundle(tiny_onnx, "jetson-xavier-nx", bundle, precision="int8", calibration_cache=cache, tensorrt=8)
    proc, argv, _ = _run_bundle(bundle, tmp_path, stubs=stubs)
    assert proc.returncode == 0, proc.stderr
    assert "xnet-edge" not in argv  # its builder would refuse TensorRT 8.5 and point back to this bundle
    assert "--int8" in argv["trtexec"] and "--calib=calibration.cache" in argv["trtexec"]
    assert argv["trtexec"][-1] == "--buildOnly"


def test_jetpack_6_0_bundle_uses_tensorrt_8_6_options(tiny_onnx, tmp_path):
    bundle = tmp_path / "orin60.tar.gz"
    result = make_bundle(tiny_onnx, "jetson-orin-nano", bundle, precision="fp16", tensorrt="8.6", opt_level=4)
    assert result.plan.release == "8.6" and not result.plan.python_builder
    proc, argv, _ = _run_bundle(bundle, tmp_path, stubs=("trtexec", "xnet-edge"))
    assert proc.returncode == 0 and "xnet-edge" not in argv
    assert "--builderOptimizationLevel=4" in argv["trtexec"] and argv["trtexec"][-1] == "--skipInference"
    assert "--stronglyTyped" not in argv["trtexec"]
    assert read_bundle(bundle)["tensorrt_release"] == "8.6"


# ----------------------------------------------------------------------------- archives


def _tar(path, entries):
    """Write a tar.gz from (TarInfo kwargs, data) pairs."""
    with tarfile.open(path, "w:gz") as tar:
        for kwargs, data in entries:
            info = tarfile.TarInfo(kwargs.pop("name"))
            for key, value in kwargs.items():
                setattr(info, key, value)
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _good_files(tiny_onnx, tmp_path):
    bundle = tmp_path / "good.tar.gz"
    make_bundle(tiny_onnx, "jetson-orin-nano", bundle, precision="fp16")
    with tarfile.open(bundle, "r:gz") as tar:
        return [({"name": m.name}, tar.extractfile(m).read()) for m in tar.getmembers()]


@pytest.mark.parametrize("extra, message", [
    (({"name": "/tmp/evil.sh"}, b"x"), "outside the bundle"),
    (({"name": "good/../../evil.sh"}, b"x"), "outside the bundle"),
    (({"name": "../evil.sh"}, b"x"), "outside the bundle"),
    (({"name": "good/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, b""), "links"),
    (({"name": "good/hard", "type": tarfile.LNKTYPE, "linkname": "good/build.sh"}, b""), "links"),
    (({"name": "good/build.sh"}, b"echo again"), "duplicate"),
    (({"name": "other/model.onnx"}, b"x"), "one top-level folder"),
    (({"name": "good/sub/model.onnx"}, b"x"), "directly in one folder"),
])
def test_unsafe_archives_are_refused_on_read_and_extract(tiny_onnx, tmp_path, extra, message):
    entries = [({"name": "good/" + kw["name"].split("/", 1)[1]}, data) for kw, data in _good_files(tiny_onnx, tmp_path)]
    bad = _tar(tmp_path / "bad.tar.gz", [*entries, (dict(extra[0]), extra[1])])
    with pytest.raises(UsageError, match=message):
        read_bundle(bad)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UsageError, match=message):
        extract_bundle(bad, dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil.sh").exists()


def test_extract_writes_only_the_bundle_folder(tiny_onnx, tmp_path):
    bundle = tmp_path / "nano.tar.gz"
    make_bundle(tiny_onnx, "jetson-orin-nano", bundle, precision="fp16")
    dest = tmp_path / "dest"
    dest.mkdir()
    folder = extract_bundle(bundle, dest)
    assert [p.name for p in dest.iterdir()] == ["nano"] and (folder / "build.sh").stat().st_mode & 0o111
    with pytest.raises(UsageError, match="already exists"):
        extract_bundle(bundle, dest)


def test_bundle_folder_name_must_be_plain(tiny_onnx, tmp_path):
    with pytest.raises(UsageError, match="not a plain folder name"):
        make_bundle(tiny_onnx, "jetson-orin-nano", tmp_path / "...tar.gz", precision="fp16")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- calibration caches


def test_cache_for_another_tensorrt_is_refused(tiny_onnx, tmp_path, capsys):
    cache = tmp_path / "calibration.cache"
    cache.write_bytes(b"TRT-100300-EntropyCalibration2\nimage: 3c010a14\n")  # written for 10.3
    out = tmp_path / "x.tar.gz"
    assert main(["bundle", str(tiny_onnx), "--target", "jetson-xavier-nx", "--precision", "int8",
                 "--calibration-cache", str(cache), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "TensorRT 10.3.0" in err and "8.5" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    # the same cache is right for JetPack 6.1 (10.3)
    make_bundle(tiny_onnx, "jetson-orin-nano", out, precision="int8", calibration_cache=cache)


def test_a_file_that_is_not_a_cache_is_refused(tiny_onnx, tmp_path, capsys):
    png = tmp_path / "notacache.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    for command in (["bundle", str(tiny_onnx), "--target", "jetson-orin-nano", "-o", str(tmp_path / "b.tgz")],
                    ["build", str(tiny_onnx), "--target", "jetson-orin-nano", "-o", str(tmp_path / "e")]):
        assert main([*command, "--precision", "int8", "--calibration-cache", str(png)]) == 2
        err = capsys.readouterr().err
        assert "not a TensorRT calibration cache" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notacache.png"]
