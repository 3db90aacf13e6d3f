"""CLI basics: version, the models table, one-line errors with exit code 2."""

import json
import subprocess
import sys

from xnet_edge import __version__
from xnet_edge.cli import main


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "xnet_edge.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_version():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"xnet-edge {__version__}"


def test_models_table_is_measured(capsys):
    assert main(["models", "test_xnet_effnet", "test_xnet_convnext", "--input-size", "64x96",
                 "--repeats", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["test_xnet_effnet", "test_xnet_convnext"]
    for row in rows:
        assert row["params_m"] > 0.05 and row["gflops"] > 0 and row["latency_ms"] > 0
    assert rows[0]["params_m"] != rows[1]["params_m"]


def test_unknown_model_and_bad_size_exit_2():
    out = _cli("models", "nope")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["xnet-edge: error: unknown model 'nope'; known: "
                                               + out.stderr.split("known: ")[1].strip()]
    out = _cli("models", "test_xnet_effnet", "--input-size", "60x90")
    assert out.returncode == 2 and "use 64x96" in out.stderr and "Traceback" not in out.stderr
    out = _cli("models", "--input-size", "big")
    assert out.returncode == 2 and "expected HxW" in out.stderr


def test_models_measures_each_variant_at_its_own_input_size(capsys):
    assert main(["models", "test_xnet_effnet", "xnet_lite0_outdoor", "--repeats", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["input_size"] for r in rows] == [[64, 96], [256, 832]]
    assert main(["models", "test_xnet_effnet", "--input-size", "128x160", "--repeats", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["input_size"] == [128, 160]


def test_argument_errors_are_one_line_with_exit_2():
    for args, words in ((["infer", "engine/"], "required: --input"),
                        (["bench", "x", "--iterations", "many"], "invalid int value"),
                        (["nope"], "invalid choice"),
                        (["infer", "engine/", "-i", "a.png", "-o", "out", "--bogus"], "unrecognized arguments")):
        out = _cli(*args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1, out.stderr
        assert lines[0].startswith("xnet-edge") and ": error: " in lines[0] and words in lines[0]
        assert "--help" in lines[0] and not out.stdout
