"""``xnet-edge export`` under bad options, missing torch, a memory limit and unwritable outputs."""

import subprocess
import sys
import textwrap

import pytest

RUN_CLI = "import sys; from xnet_edge.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli_subprocess(args, prelude="", limits=None, timeout=240):
    def set_limits():
        import resource

        for kind, value in (limits or {}).items():
            resource.setrlimit(kind, (value, value))

    return subprocess.run([sys.executable, "-c", prelude + RUN_CLI, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=set_limits if limits else None)


@pytest.mark.parametrize("flags, message", [
    (["--opset", "99"], "opset 99 is newer than this PyTorch's ONNX exporter writes; use 17.."),
    (["--opset", "16"], "opset 16 is too old"),
    (["--tolerance", "-1"], "expected a number >= 0"),
    (["--tolerance", "nan"], "expected a finite number"),
])
def test_bad_options_fail_before_any_work(tmp_path, cli_error, flags, message):
    code, err = cli_error("export", "--model", "test_xnet_effnet", "-o", tmp_path / "m.onnx", *flags)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["export", "train"])
def test_missing_torch_names_the_install(tmp_path, command):
    args = ["export", "-o", tmp_path / "m.onnx"] if command == "export" else \
        ["train", "--model", "test_xnet_effnet", "--data", "synthetic:4", "-o", tmp_path / "run"]
    out = _cli_subprocess(args, prelude="import sys; sys.modules['torch'] = None; ")
    assert out.returncode == 1, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("xnet-edge: error: 'torch' is required") and "pip install" in line, line
    assert list(tmp_path.iterdir()) == []


def test_a_huge_input_size_under_a_memory_limit_is_one_line(tmp_path):
    import resource

    out = _cli_subprocess(["export", "--model", "test_xnet_effnet", "--input-size", "8192x8192", "--no-parity",
                           "-o", tmp_path / "m.onnx"], limits={resource.RLIMIT_AS: 4 << 30})
    assert out.returncode == 1, out.stderr
    err = [l for l in out.stderr.strip().splitlines() if not l.startswith("note:")]
    assert len(err) == 1 and "out of memory exporting at 8192x8192" in err[0], out.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_pickled_weights_file_is_refused_in_one_line(tmp_path, cli_error):
    import fractions

    import torch

    torch.save({"w": fractions.Fraction(1, 3)}, tmp_path / "x.pt")  # a class torch's safe loader refuses
    code, err = cli_error("export", "--model", "test_xnet_effnet", "--pretrained", tmp_path / "x.pt",
                          "-o", tmp_path / "m.onnx")
    assert code == 2 and "holds a pickled object" in err and "never unpickles" in err
    assert not (tmp_path / "m.onnx").exists()


def test_a_read_only_output_fails_before_the_export(mount_tmpfs, cli_error, monkeypatch):
    import xnet_edge.cli.cmd_export as cmd_export

    disk = mount_tmpfs("ro", read_only=True)
    monkeypatch.setattr(cmd_export, "load_model", lambda args: pytest.fail("work started"))
    code, err = cli_error("export", "--model", "test_xnet_effnet", "-o", disk / "m.onnx")
    assert code == 1 and str(disk / "m.onnx") in err and "Read-only file system" in err
