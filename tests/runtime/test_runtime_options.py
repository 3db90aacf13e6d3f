"""RuntimeOptions: each option reaches the real ONNX Runtime session, from Python, from infer and from the
command line; a build's settings reach it through the manifest; bad options are one clear line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from xnet_edge.cli import build_parser
from xnet_edge.cli.common import runtime_options
from xnet_edge.errors import UsageError
from xnet_edge.runtime import Runtime, RuntimeOptions, infer


def _session(rt: Runtime):
    """(intra-op threads, graph optimization level name, providers) of the runtime's real session."""
    session = rt.backend.session
    opts = session.get_session_options()
    return opts.intra_op_num_threads, opts.graph_optimization_level.name, session.get_providers()


@pytest.mark.parametrize("threads, level, expected", [
    (1, "disable_all", "ORT_DISABLE_ALL"), (3, "basic", "ORT_ENABLE_BASIC"), (2, "ORT_ENABLE_EXTENDED",
                                                                              "ORT_ENABLE_EXTENDED"),
])
def test_options_reach_the_onnxruntime_session(tiny_onnx, threads, level, expected):
    with Runtime(tiny_onnx, RuntimeOptions(threads=threads, graph_optimization_level=level, providers="cpu")) as rt:
        assert _session(rt) == (threads, expected, ["CPUExecutionProvider"])
        assert rt.options.threads == threads and rt.describe()["threads"] == threads


def test_keywords_are_the_same_options_applied_over_options(tiny_onnx):
    with Runtime(tiny_onnx, threads=3) as by_keyword:
        assert _session(by_keyword)[0] == 3 and by_keyword.options == RuntimeOptions(threads=3)
    with Runtime(tiny_onnx, RuntimeOptions(threads=1, graph_optimization_level="basic"), threads=2) as both:
        assert _session(both)[:2] == (2, "ORT_ENABLE_BASIC")


def test_build_settings_reach_the_session_unless_the_options_say_otherwise(tiny_onnx, tmp_path):
    from xnet_edge.engine.build import build_engine
    from xnet_edge.engine.build_options import BuildOptions

    folder = build_engine(tiny_onnx, "cpu", tmp_path / "e", BuildOptions(threads=3, opt_level=1)).out_dir
    with Runtime(folder) as rt:  # the manifest's threads and load-time level (BASIC for an offline BASIC build)
        assert _session(rt)[:2] == (3, "ORT_ENABLE_BASIC")
    with Runtime(folder, RuntimeOptions(threads=1, graph_optimization_level="all")) as rt:
        assert _session(rt)[:2] == (1, "ORT_ENABLE_ALL")


class _SessionProbe:
    """A result sink that reads the session infer opened (``bind`` is given the open Runtime)."""

    def bind(self, runtime):
        self.seen = _session(runtime)

    def write(self, frame, result):
        pass


def test_infer_hands_its_runtime_options_to_the_runtime(tiny_onnx, tmp_path, rgb_image):
    cv2.imwrite(str(tmp_path / "a.png"), rgb_image[..., ::-1])
    probe = _SessionProbe()
    result = infer(tiny_onnx, tmp_path / "a.png", None, sinks=[probe],
                   runtime_options=RuntimeOptions(threads=2, graph_optimization_level="basic"))
    assert result.exit_code == 0 and probe.seen[:2] == (2, "ORT_ENABLE_BASIC")
    with pytest.raises(UsageError, match=r"runtime_options=RuntimeOptions\(...\), not a dict"):
        infer(tiny_onnx, tmp_path / "a.png", None, runtime_options={"threads": 2})
    with Runtime(tiny_onnx) as rt, pytest.raises(UsageError, match="already open"):
        infer(rt, tmp_path / "a.png", None, runtime_options=RuntimeOptions(threads=2))


def test_the_runtime_flags_make_one_runtime_options():
    for command in (["infer", "m.onnx", "-i", "x.png", "-o", "out"], ["eval", "m.onnx", "-d", "motorcycle"],
                    ["ros2", "--engine", "m.onnx", "--image-topic", "/cam"]):
        args = build_parser().parse_args([*command, "--backend", "onnxruntime", "--providers", "cuda,cpu",
                                          "--threads", "2", "--device", "cuda:1", "--cuda-graph",
                                          "--input-size", "64x96", "--no-check"])
        assert runtime_options(args) == RuntimeOptions(
            backend="onnxruntime", providers=("cuda", "cpu"), threads=2, device="cuda:1", cuda_graph=True,
            input_size=(64, 96), check=False)
        assert runtime_options(build_parser().parse_args(command)) == RuntimeOptions()


def test_infer_threads_flag_reaches_the_run(tiny_onnx, tmp_path, rgb_image, capsys):
    from xnet_edge.cli import main

    cv2.imwrite(str(tmp_path / "a.png"), rgb_image[..., ::-1])
    summary = tmp_path / "s.json"
    assert main(["infer", str(tiny_onnx), "-i", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"),
                 "--threads", "2", "--no-progress", "--summary-json", str(summary)]) == 0
    assert json.loads(summary.read_text())["runtime"]["threads"] == 2


@pytest.mark.parametrize("values, message", [
    (dict(backend="gpu"), "unknown backend 'gpu'"),
    (dict(providers="fpga"), "unknown execution provider 'fpga'"),
    (dict(providers=[]), "name at least one"),
    (dict(threads=-1), "threads must be >= 0"),
    (dict(graph_optimization_level="max"), "unknown graph optimization level 'max'"),
    (dict(device="tpu"), "unknown device 'tpu'"),
    (dict(cuda_api="cupy"), "unknown CUDA binding 'cupy'"),
    (dict(input_size=(0, 64)), r"input_size must be \(height, width\)"),
    (dict(input_size="big"), "expected HxW"),
    (dict(preprocessing={"input_size": [64]}), "preprocessing=: needs input_size"),
    (dict(cuda_graph="yes"), "cuda_graph must be True or False"),
    (dict(machine="orin"), "machine must be a machine_info"),
])
def test_invalid_options_are_refused_when_made(values, message):
    with pytest.raises(UsageError, match=message):
        RuntimeOptions(**values)


def test_normalized_values():
    options = RuntimeOptions(providers="cuda, tensorrt", graph_optimization_level="all", input_size="64x96",
                             device=None)
    assert options.providers == ("cuda", "tensorrt") and options.graph_optimization_level == "ORT_ENABLE_ALL"
    assert options.input_size == (64, 96) and options.device == "auto"
    assert RuntimeOptions(providers=["auto"]).providers == ("auto",)


def test_unknown_names_and_wrong_types_are_usage_errors(tiny_onnx):
    with pytest.raises(UsageError, match=r"unknown Runtime option\(s\): colour; RuntimeOptions has backend, providers"):
        Runtime(tiny_onnx, colour="red")
    with pytest.raises(UsageError, match=r"Runtime takes options=RuntimeOptions\(...\), not a dict"):
        Runtime(tiny_onnx, {"threads": 2})


@pytest.mark.parametrize("flags, message", [
    (["--threads", "-1"], "threads must be >= 0"),
    (["--providers", "fpga"], "unknown execution provider 'fpga'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--backend", "gpu"], "invalid choice: 'gpu'"),
])
def test_invalid_runtime_flags_are_one_line_with_exit_2(tiny_onnx, tmp_path, cli_error, flags, message):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    for command in (["infer", tiny_onnx, "-i", image, "-o", tmp_path / "out"],
                    ["eval", tiny_onnx, "-d", "synthetic:1"]):
        code, err = cli_error(*command, *flags)
        assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
