"""TensorRT legacy calibration cache: exact text format and the reader."""

import struct

import numpy as np
import pytest

from xnet_edge.calibration.trt_cache import (format_trt_cache, parse_trt_cache, read_trt_cache, scale_to_hex,
                                             trt_version_code, write_trt_cache)
from xnet_edge.errors import UsageError


def test_hex_is_big_endian_float32_bits_unpadded():
    assert scale_to_hex(1.0) == "3f800000"
    assert scale_to_hex(0.0) == "0"
    assert scale_to_hex(2.0 ** -140) == "200"  # a denormal (bit 9 set): short, unpadded
    # independent reference: numpy's big-endian float32 view
    for scale in (0.0157480314, 3.5e-3, 1.234e-5):
        bits = np.array([scale], dtype=">f4").view(">u4")[0]
        assert scale_to_hex(scale) == format(int(bits), "x")


def test_version_codes():
    assert trt_version_code("8.6.1") == 8601
    assert trt_version_code("8.5.2.2") == 8502
    assert trt_version_code("10.3.0") == 100300
    assert trt_version_code("10.3") == 100300
    assert trt_version_code(8601) == 8601
    with pytest.raises(UsageError):
        trt_version_code("ten")


def test_format_and_round_trip(tmp_path):
    scales = {"image": 2.6 / 127, "(Unnamed Layer* 64) [Shuffle]_output": 0.25, "a:b: c": 1e-3}
    text = format_trt_cache(scales, "8.6.1")
    lines = text.splitlines()
    assert lines[0] == "TRT-8601-EntropyCalibration2"
    assert lines[1] == f"image: {struct.unpack('>I', struct.pack('>f', 2.6 / 127))[0]:x}"
    assert lines[2] == "(Unnamed Layer* 64) [Shuffle]_output: 3e800000"
    path = write_trt_cache(tmp_path / "calibration.cache", scales, "10.3.0")
    header, parsed = read_trt_cache(path)
    assert header == "TRT-100300-EntropyCalibration2"
    assert list(parsed) == list(scales)
    for name, scale in scales.items():
        assert parsed[name] == np.float32(scale)


def test_reader_accepts_files_written_by_tensorrt():
    # lines as TensorRT writes them: unpadded hex, CRLF, odd names, padded hex too
    text = ("TRT-8601-EntropyCalibration2\r\nimages: 3b66eddc\r\n168: 3c010a14\r\n"
            "(Unnamed Layer* 64) [Shuffle]_output: 3dc6cf6e\r\nsmall: 800\r\npadded: 0000803f\r\n")
    header, scales = parse_trt_cache(text)
    assert header == "TRT-8601-EntropyCalibration2"
    assert scales["images"] == pytest.approx(struct.unpack(">f", bytes.fromhex("3b66eddc"))[0])
    assert scales["(Unnamed Layer* 64) [Shuffle]_output"] == struct.unpack(">f", bytes.fromhex("3dc6cf6e"))[0]
    assert scales["small"] == struct.unpack(">f", (0x800).to_bytes(4, "big"))[0]
    assert scales["padded"] == struct.unpack(">f", bytes.fromhex("0000803f"))[0]


def test_bad_caches_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="not a TensorRT calibration cache"):
        parse_trt_cache("hello\nx: 1\n")
    with pytest.raises(UsageError, match="malformed"):
        parse_trt_cache("TRT-8601-EntropyCalibration2\nno separator here\n")
    with pytest.raises(UsageError, match="malformed"):
        parse_trt_cache("TRT-8601-EntropyCalibration2\nx: 123456789\n")
    with pytest.raises(UsageError, match="not found"):
        read_trt_cache(tmp_path / "missing.cache")
    binary = tmp_path / "bin.cache"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError):
        read_trt_cache(binary)
    with pytest.raises(UsageError, match="invalid scale"):
        format_trt_cache({"x": float("nan")})
