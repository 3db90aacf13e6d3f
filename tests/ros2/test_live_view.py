"""The live view, for real: a server on a free loopback port, an HTTP client reading the MJPEG stream
while ``infer`` runs on a short generated video, and a clean stop."""

from __future__ import annotations

import http.client
import json
import threading
import time

import cv2
import numpy as np
import pytest

from xnet_edge.errors import UsageError, XnetEdgeError
from xnet_edge.runtime import infer
from xnet_edge.runtime.live_view import BOUNDARY, LiveView, parse_address
from xnet_edge.runtime.sources import FrameSource

FRAMES, WANTED = 40, 8


@pytest.fixture
def video(tmp_path, scenes):
    """A short MJPG video panning over the generated scenes."""
    path = tmp_path / "scenes.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (128, 96))
    assert writer.isOpened()
    for i in range(FRAMES):
        writer.write(np.ascontiguousarray(np.roll(scenes[i % len(scenes)][0], 4 * i, axis=1)[..., ::-1]))
    writer.release()
    return path


def read_parts(response, count: int, deadline: float) -> list[bytes]:
    """JPEG parts of a multipart/x-mixed-replace stream."""
    parts = []
    while len(parts) < count and time.monotonic() < deadline:
        line = response.readline()
        if not line:
            break
        if line.strip() != f"--{BOUNDARY}".encode():
            continue
        headers = {}
        while (line := response.readline().strip()):
            key, _, value = line.decode().partition(":")
            headers[key.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        parts.append(response.read(int(headers["content-length"])))
    return parts


def test_stream_frames_while_infer_runs(tiny_onnx, video):
    start = time.monotonic()
    view = LiveView("127.0.0.1:0", title="test")
    assert view.host == "127.0.0.1" and view.port > 0
    source = FrameSource(str(video))

    def camera_paced():  # frames at a camera's pace, once the viewer is there
        while view.viewers == 0 and time.monotonic() - start < 10:
            time.sleep(0.01)
        for frame in source:
            time.sleep(0.04)
            yield frame

    result = {}
    run = threading.Thread(target=lambda: result.update(r=infer(tiny_onnx, camera_paced(), sinks=[view])))
    run.start()
    conn = http.client.HTTPConnection(view.host, view.port, timeout=10)
    conn.request("GET", "/stream.mjpg")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    parts = read_parts(response, WANTED, start + 30)
    assert len(parts) >= WANTED
    pictures = [cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR) for p in parts]
    assert all(p.shape == (96, 256, 3) for p in pictures)  # the input beside its colour depth
    assert len({p.tobytes() for p in pictures}) == len(pictures)  # new frames, not repeats
    page = http.client.HTTPConnection(view.host, view.port, timeout=10)
    page.request("GET", "/")
    assert b'<img id="v" src="/frame.jpg"' in page.getresponse().read()
    page.request("GET", "/stats.json")
    shown = json.loads(page.getresponse().read())["frames"]
    assert shown >= WANTED
    page.request("GET", f"/frame.jpg?after={shown}")  # the page's long poll: the next frame
    reply = page.getresponse()
    assert reply.status == 200 and int(reply.getheader("X-Frame")) > shown
    assert cv2.imdecode(np.frombuffer(reply.read(), np.uint8), cv2.IMREAD_COLOR).shape == (96, 256, 3)
    page.close()
    run.join(timeout=30)
    assert result["r"].summary.frames == FRAMES
    # infer ends the view with the run: the open stream is closed, its threads joined, the port released
    response.read()  # returns: the server closed the stream
    conn.close()
    assert not view._thread.is_alive()
    assert not [t for t in threading.enumerate() if "process_request" in t.name]
    with pytest.raises(OSError):
        http.client.HTTPConnection(view.host, view.port, timeout=2).request("GET", "/")
    view.close()  # idempotent
    assert time.monotonic() - start < 40


def test_addresses_and_busy_port():
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_address("[::1]:0") == ("::1", 0)
    with pytest.raises(UsageError, match=r"\[HOST:\]PORT"):
        parse_address("localhost:http")
    with LiveView("127.0.0.1:0") as view:
        with pytest.raises(XnetEdgeError, match="cannot serve the live view"):
            LiveView(f"127.0.0.1:{view.port}")
