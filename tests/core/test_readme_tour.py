"""The README's command-line tour runs as written, and the demo numbers quoted in the docs are the
ones the demo writes.

* fast: every tour line parses; every file a line reads is written by an earlier line or is one
  of the user's own camera files; the runtime lines run as written on a tiny stand-in model
  (the ``export`` line's output replaced by a hand-built contract ONNX);
* fast: README and docs/bench.md quote the same demo figures and the demo's calibration method;
* slow: the whole tour (export of the demo model, a short training run, the demo) in a temporary
  folder, then the quoted demo numbers against ``out/demo/summary.json``.

The tour is whatever ``xnet-edge`` lines stand in the first ```` ```bash ```` block of the
README's "Command line" section; other lines and comments are ignored.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from suite_helpers import load_module

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BENCH_DOC = REPO / "docs" / "bench.md"

#: flags whose value is a file or folder the command writes
OUTPUT_FLAGS = ("-o", "--output", "--json", "--plot", "--summary-json")
#: flags whose value is a file or folder the command reads
INPUT_FLAGS = ("--input", "-i", "--images", "--checkpoint", "--calibration-cache", "--gt")
#: file name endings the infer formats write
FORMAT_FILES = {"npy": "_depth.npy", "png16": "_depth16.png", "color": "_color.png", "ply": ".ply"}
#: what a command promises to print, when it succeeds
PROMISED_STDOUT = {"inspect": "this machine: can run it", "eval": "abs_rel", "targets": "jetson-orin-nano",
                   "models": "GFLOPs", "bench": "speedup"}
#: tour commands that run in the fast subset (no PyTorch, seconds each on a tiny model)
FAST_COMMANDS = ("calibrate", "targets", "build", "inspect", "bundle", "infer", "eval", "bench")
CAMERA_FILES = (".mp4", ".avi", ".mkv", ".mov", ".png", ".jpg", ".jpeg")


def tour_lines(text: str | None = None) -> list[list[str]]:
    """The ``xnet-edge`` command lines of the README tour, as argument lists (without the program)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    section = text.split("\n## Command line", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's Command line section has no ```bash tour"
    lines = []
    for raw in block.group(1).splitlines():
        words = shlex.split(raw, comments=True)
        if words[:1] == ["xnet-edge"]:
            lines.append(words[1:])
    return lines


def _values(argv: list[str], flags) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in flags]


def _positionals(argv: list[str]) -> list[str]:
    """Arguments that are not flags or flag values (the parser decides which flags take values)."""
    from xnet_edge.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[argv[0]]
    takes_value = {s for a in sub._actions for s in a.option_strings if a.nargs != 0}
    out, skip = [], False
    for word in argv[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            out.append(word)
    return out


def reads_and_writes(argv: list[str]) -> tuple[list[str], list[str]]:
    """(paths the command reads, paths it writes); bare names (models, datasets) are not paths."""
    if argv[0] in ("models", "targets", "demo", "train"):
        reads = []
    else:
        reads = [p for p in _positionals(argv) if "/" in p or "." in p]
    reads += [v for v in _values(argv, INPUT_FLAGS) if v not in ("builtin", "demo") and ":" not in v]
    return reads, _values(argv, OUTPUT_FLAGS)


def _norm(path: str) -> str:
    return os.path.normpath(path)


def test_every_tour_line_parses():
    from xnet_edge.cli import build_parser

    lines = tour_lines()
    assert len(lines) >= 8
    parser = build_parser()
    for argv in lines:
        args = parser.parse_args(argv)  # SystemExit(2) here means the README line cannot run as written
        assert callable(args.func), argv


def test_every_input_is_made_earlier_in_the_tour_or_is_a_camera_file():
    made: list[str] = []
    for argv in tour_lines():
        reads, writes = reads_and_writes(argv)
        for path in reads:
            produced = any(_norm(path) == _norm(m) or _norm(path).startswith(_norm(m) + os.sep) for m in made)
            assert produced or _is_camera_input(path), \
                f"`xnet-edge {' '.join(argv)}` reads {path}, which no earlier tour line writes"
        made += writes


def _is_camera_input(path: str) -> bool:
    """The user's own recordings: a video, a frame, or a folder of frames (``frames/``)."""
    return path.lower().endswith(CAMERA_FILES) or path.endswith("/")


def _camera_files(argv: list[str], folder: Path) -> None:
    """Write the user's own camera files a line names (a short video, one frame, a folder) if missing."""
    import cv2

    from xnet_edge.bench.inputs import benchmark_frames

    frames = [f for _, f in benchmark_frames((240, 320))]
    for value in _values(argv, INPUT_FLAGS):
        path = folder / value
        if path.exists() or not _is_camera_input(value):
            continue
        if value.endswith("/"):
            path.mkdir(parents=True)
            for i, frame in enumerate(frames[:2]):
                cv2.imwrite(str(path / f"frame{i}.png"), frame[:, :, ::-1])
        elif path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            cv2.imwrite(str(path), frames[0][:, :, ::-1])
        else:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
            for frame in frames[:6]:
                writer.write(frame[:, :, ::-1])
            writer.release()
            assert path.stat().st_size > 0, "OpenCV could not write the test video"


def check_outputs(argv: list[str], folder: Path, stdout: str) -> None:
    """Every output the line names exists; infer wrote every format; promised text was printed."""
    for value in _values(argv, OUTPUT_FLAGS):
        path = folder / value
        assert path.exists(), f"`xnet-edge {' '.join(argv)}` did not write {value}"
        if path.is_dir():
            assert any(path.iterdir()), f"{value} is empty"
    if argv[0] == "infer" and _values(argv, ("--format",)):  # depth formats asked for by name
        formats = _values(argv, ("--format",))[-1].split(",")
        out = folder / _values(argv, ("--output", "-o"))[-1]
        stem = Path(_values(argv, ("--input", "-i"))[-1]).stem
        for fmt in formats:
            assert list(out.glob(f"{stem}*{FORMAT_FILES[fmt]}")), f"infer wrote no {fmt} output for {stem}"
    for value in _values(argv, ("--json",)):
        json.loads((folder / value).read_text())
    promised = promised_output(argv, folder)
    assert promised is None or promised in stdout, f"`xnet-edge {' '.join(argv)}` did not print {promised!r}"


def promised_output(argv: list[str], folder: Path):
    """What a tour line promises to print: ``eval`` of a segmentation model reports mIoU, not AbsRel."""
    if argv[0] == "eval" and argv[1].endswith(".onnx"):
        from xnet_edge.contract import read_contract

        if read_contract(folder / argv[1]).task == "segmentation":
            return "mIoU"
    return PROMISED_STDOUT.get(argv[0])


def run_line(argv: list[str], folder: Path, timeout: int = 1800) -> None:
    """Run one tour line in its own process, in ``folder``, and check what it promised."""
    _camera_files(argv, folder)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "xnet_edge.cli", *argv], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"`xnet-edge {' '.join(argv)}` exited {proc.returncode}: {proc.stderr[-3000:]}"
    check_outputs(argv, folder, proc.stdout)


def run_line_in_process(argv: list[str], folder: Path, capsys, monkeypatch) -> None:
    """:func:`run_line` through ``xnet_edge.cli.main`` in this process (no start-up cost per line)."""
    from xnet_edge.cli import main

    _camera_files(argv, folder)
    monkeypatch.chdir(folder)
    capsys.readouterr()
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 0, f"`xnet-edge {' '.join(argv)}` exited {rc}: {captured.err[-3000:]}"
    check_outputs(argv, folder, captured.out)


def _tiny_contract_onnx(path: Path) -> Path:
    return load_module("bench/conftest.py").make_depth_onnx(path, size=(64, 96))


def _exports_depth(argv: list[str]) -> bool:
    from xnet_edge.models import model_config

    names = _values(argv, ("--model",))
    return not names or model_config(names[-1]).task == "depth"


def test_runtime_lines_run_as_written_on_a_tiny_model(tmp_path, capsys, monkeypatch):
    ran, unavailable = [], []
    for argv in tour_lines():
        reads, writes = reads_and_writes(argv)
        if argv[0] == "export":  # a tiny depth contract ONNX stands in for the demo's depth export
            if _exports_depth(argv):
                _tiny_contract_onnx(tmp_path / writes[-1])
            else:  # other exports (segmentation) are left to the slow test, with what reads them
                unavailable += writes
        elif argv[0] in FAST_COMMANDS and not set(map(_norm, reads)) & set(map(_norm, unavailable)):
            run_line_in_process(argv, tmp_path, capsys, monkeypatch)
            ran.append(argv[0])
    assert {"build", "inspect", "infer", "eval", "bench"} <= set(ran)


# --------------------------------------------------------------------------- demo numbers

#: sentence patterns the docs use to quote the demo (README.md and docs/bench.md)
QUOTES = {
    "abs_rel_fp32": r"AbsRel (\d\.\d+) FP32",
    "abs_rel_int8": r"AbsRel \d\.\d+ FP32, (\d\.\d+) INT8",
    "d1_fp32": r"δ1 (\d\.\d+) FP32",
    "d1_int8": r"δ1 \d\.\d+ FP32, (\d\.\d+) INT8",
    "int8_vs_fp32": r"INT8 differs from FP32 by AbsRel (\d\.\d+)",
    "speedup": r"INT8 (\d\.\d+)× faster than the FP32 engine",
}
ENGINES_DOC = REPO / "docs" / "engines.md"
#: docs/engines.md rows (regex of the first cell) -> (ONNX, optimized engine) files of `make demo`
ENGINE_ROWS = {r"`xnet_lite0` demo checkpoint, 256×320, batch 1":
               ("model.onnx", "engines/cpu-fp32/model.opt.onnx"),
               r"`xnet_lite0` INT8 CPU graph \(`model.int8.cpu.onnx` of `make demo`\)":
               ("int8/model.int8.cpu.onnx", "engines/cpu-int8/model.opt.onnx")}
REQUIRED = {README: ("abs_rel_fp32", "abs_rel_int8", "int8_vs_fp32", "speedup"),
            BENCH_DOC: ("abs_rel_fp32", "abs_rel_int8", "d1_fp32", "d1_int8", "int8_vs_fp32")}


def quoted_numbers(path: Path) -> dict[str, list[float]]:
    text = " ".join(path.read_text(encoding="utf-8").split())  # quotes may wrap across lines
    return {key: [float(v) for v in re.findall(pattern, text)] for key, pattern in QUOTES.items()}


def demo_numbers(summary: dict) -> dict[str, float]:
    metrics = summary["motorcycle"]["metrics"]
    return {"abs_rel_fp32": metrics["fp32"]["metric"]["abs_rel"], "abs_rel_int8": metrics["int8"]["metric"]["abs_rel"],
            "d1_fp32": metrics["fp32"]["metric"]["d1"], "d1_int8": metrics["int8"]["metric"]["d1"],
            "int8_vs_fp32": summary["motorcycle"]["int8_vs_fp32"]["abs_rel"],
            "speedup": summary["speedup_int8_vs_fp32"]["median"]}


def test_docs_quote_the_same_demo_figures_and_method():
    found = {path: quoted_numbers(path) for path in REQUIRED}
    for path, keys in REQUIRED.items():
        for key in keys:
            assert found[path][key], f"{path.name} no longer quotes the demo's {key} ({QUOTES[key]})"
    for key in QUOTES:
        values = {v for path in found for v in found[path][key]}
        assert len(values) <= 1, f"the docs quote different demo {key}: {sorted(values)}"
    from xnet_edge.calibration.pipeline import CalibrationOptions

    method = CalibrationOptions().method
    text = " ".join(BENCH_DOC.read_text(encoding="utf-8").split())
    assert f"calibrate INT8 (`{method}` ranges" in text, f"docs/bench.md must name the demo's method {method!r}"


@pytest.fixture(scope="module")
def full_tour(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tour")
    lines = tour_lines()
    for argv in lines:
        run_line(argv, folder)
    if not any(argv[0] == "demo" for argv in lines):
        run_line(["demo", "-o", "out/demo"], folder)
    return folder


@pytest.mark.slow
def test_whole_tour_runs_as_written(full_tour):
    assert (full_tour / "out" / "demo" / "summary.json").is_file()


@pytest.mark.slow
def test_quoted_demo_numbers_match_what_the_demo_writes(full_tour):
    demo_dir = next(p.parent for p in full_tour.rglob("summary.json"))
    measured = demo_numbers(json.loads((demo_dir / "summary.json").read_text()))
    for path in REQUIRED:
        for key, values in quoted_numbers(path).items():
            for value in values:
                if key == "speedup":  # a timing: within the noise of a shared machine
                    assert measured[key] / 1.5 <= value <= measured[key] * 1.5, (path.name, key, value, measured[key])
                else:  # deterministic for a given checkpoint and ONNX Runtime; docs round to 3 decimals
                    assert abs(value - measured[key]) <= 0.0015, (path.name, key, value, measured[key])
    method = json.loads((demo_dir / "int8" / "calibration.json").read_text())["method"]
    assert f"calibrate INT8 (`{method}` ranges" in " ".join(BENCH_DOC.read_text(encoding="utf-8").split())


@pytest.mark.slow
def test_engine_node_counts_in_the_docs_match_the_demo(full_tour):
    import onnx

    demo_dir = next(p.parent for p in full_tour.rglob("summary.json"))
    text = ENGINES_DOC.read_text(encoding="utf-8")
    for pattern, (before, after) in ENGINE_ROWS.items():
        quoted = re.search(pattern + r" \| (\d+) → (\d+)", text)
        assert quoted, f"docs/engines.md no longer has the row {pattern}"
        counts = [len(onnx.load(str(demo_dir / f), load_external_data=False).graph.node) for f in (before, after)]
        assert [int(quoted.group(1)), int(quoted.group(2))] == counts, (pattern, counts)
