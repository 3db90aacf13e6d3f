"""``xnet-edge bench``: one-line errors with exit 2, and a full run through the command line."""

import json
import subprocess
import sys

import pytest

from xnet_edge.cli import main


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xnet-edge: error:") and "\n" not in err, err
    return err


@pytest.fixture()
def fake_plan(tmp_path):
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"not really a plan")
    return plan


def test_missing_and_unknown_artifacts(capsys, tmp_path, tiny_onnx):
    assert "not found" in one_line_error(capsys, ["bench", str(tiny_onnx), str(tmp_path / "nope.onnx")])
    (tmp_path / "notes.txt").write_text("x")
    assert "cannot tell what" in one_line_error(capsys, ["bench", str(tmp_path / "notes.txt")])


@pytest.mark.parametrize("flags, message", [
    (["--cuda-graph"], "--cuda-graph applies to TensorRT plans only"),
    (["--spin-wait"], "--spin-wait applies to TensorRT plans only"),
    (["--trtexec"], "--trtexec runs TensorRT plans only"),
    (["--iterations", "0"], "--iterations must be >= 1"),
    (["--batch", "0"], "--batch must be >= 1"),
    (["--duration-s", "-1"], "--duration-s must be >= 0"),
    (["--threads", "-2"], "--threads must be >= 0"),
    (["--plot", "out.jpg"], "give a .png file name"),
])
def test_conflicting_or_bad_flags_on_onnx(capsys, tiny_onnx, flags, message):
    assert message in one_line_error(capsys, ["bench", str(tiny_onnx), *flags])


def test_conflicts_with_a_plan(capsys, fake_plan, monkeypatch):
    assert "drop --end-to-end" in one_line_error(capsys, ["bench", str(fake_plan), "--trtexec", "--end-to-end"])
    assert "TensorRT plans do not use it" in one_line_error(capsys, ["bench", str(fake_plan), "--threads", "2"])
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("TRTEXEC", raising=False)
    assert "trtexec not found" in one_line_error(capsys, ["bench", str(fake_plan), "--trtexec"])


def test_output_paths_checked_before_measuring(capsys, tiny_onnx, tmp_path):
    assert "is a folder" in one_line_error(capsys, ["bench", str(tiny_onnx), "--json", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:  # argparse rejects a malformed size itself
        main(["bench", str(tiny_onnx), "--input-size", "256"])
    assert exc.value.code == 2


def test_full_run_writes_table_json_and_plot_without_torch(tiny_onnx_pair, tmp_path):
    a, b = tiny_onnx_pair
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    code = ("import sys; sys.modules['torch'] = None\n"  # any torch import would now fail
            "from xnet_edge.cli import main\n"
            f"sys.exit(main(['bench', {str(a)!r}, {str(b)!r}, '--warmup-ms', '5', '--duration-s', '0.05',"
            f" '--iterations', '3', '--rounds', '2', '--quiet', '--json', {str(out_json)!r},"
            f" '--plot', {str(out_png)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "a/model.onnx" in proc.stdout and "b/model.onnx" in proc.stdout and "1.00x" in proc.stdout
    assert "per-call time by stage" in proc.stdout
    report = json.loads(out_json.read_text())
    assert [r["label"] for r in report["results"]] == ["a/model.onnx", "b/model.onnx"]
    assert out_png.read_bytes()[:4] == b"\x89PNG"
