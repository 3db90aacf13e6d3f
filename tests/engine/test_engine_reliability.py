"""Engine folders under hostile input: edited manifests, huge thread counts, full and read-only disks."""

import json

import pytest

from xnet_edge.cli import main
from xnet_edge.engine import manifest as mf
from xnet_edge.limits import max_threads


@pytest.fixture(scope="module")
def engine(tiny_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "engine"
    assert main(["build", str(tiny_onnx), "--target", "cpu", "-o", str(out), "-q"]) == 0
    return out


def _edited_copy(engine, tmp_path, edit, reseal=False):
    import shutil

    folder = tmp_path / "edited"
    shutil.copytree(engine, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    if reseal:  # an editor that also recomputes the content hash still meets the value rules
        manifest[mf.CONTENT_HASH_KEY] = mf.content_hash(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("edit, reseal, message", [
    (lambda m: m.update(precision="int8"), False, "the manifest was modified"),
    (lambda m: m["preprocessing"].update(mean=[0.0, 0.0, 0.0]), False, "the manifest was modified"),
    (lambda m: m.pop(mf.CONTENT_HASH_KEY), False, "no content_sha256"),
    (lambda m: m.update(target={"name": "toaster"}), True, "target 'toaster' is not a known target"),
    (lambda m: m["preprocessing"].update(input_size=[-1, 0]), True, "bad values input_size"),
    (lambda m: m["preprocessing"].update(mean="abc"), True, "needs input_size"),
    (lambda m: m["runtime"]["onnxruntime"].update(intra_op_num_threads=100000), True, "100000 is too many"),
])
def test_an_edited_manifest_is_refused_by_inspect_and_infer_alike(engine, tmp_path, cli_error, capsys, edit,
                                                                 reseal, message):
    from xnet_edge.runtime import Runtime

    folder = _edited_copy(engine, tmp_path, edit, reseal)
    code, err = cli_error("inspect", folder)
    assert code == 2 and message in err
    assert "can run it" not in capsys.readouterr().out
    with pytest.raises(mf.ManifestError, match=message):
        Runtime(folder)


def test_thread_counts_are_bounded(tiny_onnx, tmp_path, cli_error):
    from xnet_edge.errors import UsageError
    from xnet_edge.runtime import Runtime

    code, err = cli_error("build", tiny_onnx, "--target", "cpu", "-o", tmp_path / "e", "--threads", "100000")
    assert code == 2 and f"at most {max_threads()}" in err and not (tmp_path / "e").exists()
    with pytest.raises(UsageError, match="too many"):
        Runtime(tiny_onnx, threads=100000)
    code, err = cli_error("bundle", tiny_onnx, "--target", "cpu", "-o", tmp_path / "b.tar.gz", "--threads", "100000")
    assert code == 2 and "too many" in err


@pytest.mark.parametrize("flags, message", [
    (["--dla", "0"], "--dla applies to TensorRT targets only"),
    (["--max-batch", "0"], "--max-batch must be at least 1"),
    (["--max-batch", "4"], "--max-batch applies to TensorRT targets only"),
    (["--workspace", "64", "--timing-cache", "t.cache"], "--workspace, --timing-cache apply to TensorRT targets"),
])
def test_tensorrt_options_on_the_cpu_target_are_refused(tiny_onnx, tmp_path, cli_error, flags, message):
    code, err = cli_error("build", tiny_onnx, "--target", "cpu", "-o", tmp_path / "e", *flags)
    assert code == 2 and message in err and not (tmp_path / "e").exists()


def test_max_batch_zero_is_refused_for_a_gpu_target(tiny_onnx, tmp_path, cli_error):
    code, err = cli_error("build", tiny_onnx, "--target", "jetson-orin-nano", "-o", tmp_path / "e", "--max-batch", "0")
    assert code == 2 and "--max-batch must be at least 1" in err


def test_build_onto_a_read_only_disk_fails_first_with_one_line(tiny_onnx, mount_tmpfs, cli_error, monkeypatch):
    import xnet_edge.engine.cpu_builder as cpu_builder

    disk = mount_tmpfs("ro", read_only=True)
    monkeypatch.setattr(cpu_builder, "optimize_for_cpu", lambda *a, **k: pytest.fail("work started"))
    code, err = cli_error("build", tiny_onnx, "--target", "cpu", "-o", disk / "engine")
    assert code == 1 and str(disk / "engine") in err and "Read-only file system" in err


def test_build_onto_a_full_disk_leaves_nothing(tiny_onnx, mount_tmpfs, cli_error):
    disk = mount_tmpfs("full", size="256k")  # the ONNX copy alone is larger
    code, err = cli_error("build", tiny_onnx, "--target", "cpu", "-o", disk / "out" / "engine", "-q")
    assert code == 1 and str(disk / "out" / "engine") in err and "No space left on device" in err
    assert list(disk.iterdir()) == []  # no engine, no staging folder, no empty "out" folder


def test_an_existing_file_as_output_is_one_line(tiny_onnx, tmp_path, cli_error):
    (tmp_path / "taken").write_text("x")
    code, err = cli_error("calibrate", tiny_onnx, "--images", "builtin", "-o", tmp_path / "taken")
    assert code == 1 and "exists and is not a folder" in err


def test_a_corrupt_onnx_exits_2_in_every_command(tmp_path, cli_error):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not protobuf" * 10)
    for argv in (["build", bad, "--target", "cpu", "-o", tmp_path / "e"],
                 ["bundle", bad, "--target", "cpu", "-o", tmp_path / "b.tar.gz"],
                 ["calibrate", bad, "--images", "builtin", "-o", tmp_path / "c"],
                 ["infer", bad, "--input", tmp_path / "bad.onnx", "--output", tmp_path / "o", "--no-progress"],
                 ["bench", bad, "--duration-s", "0", "--iterations", "1", "--quiet"]):
        code, err = cli_error(*argv)
        assert code == 2 and "not" in err and "ONNX model" in err, (argv, err)


def test_a_relative_out_dir_is_taken_from_the_callers_folder(tiny_onnx, tmp_path):
    import shutil
    import subprocess

    from xnet_edge.engine.bundle import extract_bundle, make_bundle

    if shutil.which("sh") is None:
        pytest.skip("needs a POSIX sh")
    bundle = make_bundle(tiny_onnx, "jetson-orin-nx", tmp_path / "orin.tar.gz", precision="fp16").path
    folder = extract_bundle(bundle, tmp_path / "unpacked")
    stubs, caller = tmp_path / "stubs", tmp_path / "caller dir"
    stubs.mkdir()
    caller.mkdir()
    (stubs / "xnet-edge").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\n')
    (stubs / "xnet-edge").chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "RECORD": str(tmp_path / "argv"), "HOME": str(tmp_path)}
    for given, expected in (("out/engine", str(caller / "out/engine")), (str(tmp_path / "abs"), str(tmp_path / "abs")),
                            (None, "engine")):  # default: engine/ beside build.sh
        proc = subprocess.run(["sh", str(folder / "build.sh"), *([given] if given else [])], cwd=caller, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        argv = (tmp_path / "argv").read_text().splitlines()
        assert argv[argv.index("-o") + 1] == expected


def test_a_bundle_name_that_is_not_tar_gz_is_refused(tiny_onnx, tmp_path, cli_error):
    code, err = cli_error("bundle", tiny_onnx, "--target", "jetson-orin-nx", "-o", tmp_path / "model.zip")
    assert code == 2 and "name it model.tar.gz" in err and list(tmp_path.iterdir()) == []


def test_an_unreadable_engine_file_is_one_line(engine, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "engine"
    shutil.copytree(engine, folder)
    os.chmod(folder / "model.opt.onnx", 0)
    code = "import sys; from xnet_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    try:  # root reads anything; without the permission-override capabilities it meets the mode bits
        out = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
                              code, "inspect", str(folder)], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("setpriv is not installed")
    if "setpriv:" in out.stderr:
        pytest.skip(f"cannot drop capabilities here: {out.stderr.strip()}")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "model.opt.onnx: Permission denied" in out.stderr


def test_calibrate_onto_a_read_only_disk_fails_first(tiny_onnx, mount_tmpfs, cli_error):
    disk = mount_tmpfs("ro", read_only=True)
    code, err = cli_error("calibrate", tiny_onnx, "--images", "builtin", "-o", disk / "int8", "--no-progress")
    assert code == 1 and str(disk / "int8") in err and "Read-only file system" in err
