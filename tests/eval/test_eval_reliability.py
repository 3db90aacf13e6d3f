"""``xnet-edge eval`` refuses depth ranges that measure nothing and unwritable reports, before loading the model."""

import pytest

SPEC = "synthetic:2?size=64x96&seed=21"


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the command gets as far as opening the model."""
    import xnet_edge.runtime as runtime

    monkeypatch.setattr(runtime, "Runtime", lambda *a, **k: pytest.fail("the model was loaded"))


@pytest.mark.parametrize("flags, message", [
    (["--min-depth", "5", "--max-depth", "1"], "above the minimum depth (5 m)"),
    (["--min-depth", "nan"], "expected a finite number"),
    (["--max-depth", "inf"], "expected a finite number"),
    (["--min-depth", "-1"], "expected a number >= 0"),
    (["--max-depth", "0"], "expected a number > 0"),
])
def test_a_bad_depth_range_is_a_usage_error(tmp_path, cli_error, no_model, flags, message):
    code, err = cli_error("eval", tmp_path / "any.onnx", "--dataset", SPEC, *flags)
    assert code == 2 and message in err


def test_an_unwritable_report_fails_first(tmp_path, mount_tmpfs, cli_error, no_model):
    disk = mount_tmpfs("ro", read_only=True)
    code, err = cli_error("eval", tmp_path / "any.onnx", "--dataset", SPEC, "--json", disk / "r.json")
    assert code == 1 and "Read-only file system" in err and str(disk / "r.json") in err
    code, err = cli_error("eval", tmp_path / "any.onnx", "--dataset", SPEC, "--json", tmp_path)
    assert code == 1 and "is a folder" in err


def test_nothing_in_range_is_a_failure_not_nan_metrics(tiny_model, tmp_path, capsys):
    from xnet_edge import save_checkpoint
    from xnet_edge.cli import main

    ckpt = save_checkpoint(tiny_model, tmp_path / "tiny.safetensors")
    code = main(["eval", str(ckpt), "--dataset", SPEC, "--min-depth", "500", "--max-depth", "600",
                 "--no-progress", "--device", "cpu"])
    assert code == 1
    assert "nothing was measured" in capsys.readouterr().err
