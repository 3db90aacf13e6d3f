"""The ROS 2 node without ROS: drop-don't-queue, message handling, diagnostics; rclpy missing -> one line."""

from __future__ import annotations

import array
import threading
import time

import numpy as np
import pytest

from xnet_edge.ros2.messages import ResultOptions, rosbags_factory
from xnet_edge.ros2.node import DepthNode, LatestSlot, NodeOptions, adapt_for_rclpy


def test_latest_slot_drops_instead_of_queueing():
    slot = LatestSlot()
    assert slot.take(timeout=0.01) is None
    assert slot.put(1) is False and slot.put(2) is True and slot.put(3) is True
    assert slot.take() == 3 and slot.take(timeout=0.01) is None
    assert (slot.received, slot.dropped) == (3, 2)
    slot.close()
    assert slot.take() is None  # closed: returns at once


def test_latest_slot_rounds():
    # a camera delivering 4 frames per inference: each take gets the newest, 3 of 4 are dropped
    slot, taken = LatestSlot(), []
    for round_ in range(25):
        for i in range(4):
            slot.put(4 * round_ + i)
        taken.append(slot.take(timeout=0))
    assert taken == [4 * r + 3 for r in range(25)]
    assert (slot.received, slot.dropped) == (100, 75)


def test_latest_slot_across_threads():
    slot, taken = LatestSlot(), []
    stop = threading.Event()

    def consumer():
        while not stop.is_set():
            item = slot.take(timeout=0.05)
            if item is not None:
                taken.append(item)
                time.sleep(0.002)

    thread = threading.Thread(target=consumer)
    thread.start()
    for i in range(200):
        slot.put(i)
    deadline = time.monotonic() + 10
    while (not taken or taken[-1] != 199) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    slot.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert taken == sorted(set(taken)) and taken[-1] == 199  # in order, never twice, the newest not lost
    assert len(taken) + slot.dropped == 200


class GatedRuntime:
    """Wraps a Runtime; each prediction waits for the test to open the gate (a model slower than the camera)."""

    def __init__(self, runtime):
        self.runtime, self.gate = runtime, threading.Semaphore(0)

    def __getattr__(self, name):
        return getattr(self.runtime, name)

    def predict(self, image):
        assert self.gate.acquire(timeout=10)
        return self.runtime.predict(image)


@pytest.fixture
def node_parts(tiny_onnx, bags):
    from xnet_edge.runtime import Runtime

    runtime = Runtime(tiny_onnx)
    published = []
    yield runtime, published, rosbags_factory(bags.STORE)
    runtime.close()


def test_node_publishes_with_the_camera_header(node_parts, scenes, bags):
    runtime, published, make = node_parts
    options = NodeOptions("/camera/color/image_raw/compressed", result=ResultOptions(points=True))
    assert options.compressed and options.camera_info_topic == "/camera/color/camera_info"
    node = DepthNode(runtime, make, lambda topic, msg: published.append((topic, msg)), options)
    rgb, k = scenes[0]
    node.on_camera_info(bags.camera_info_msg(k, rgb.shape[:2], bags.header(0)))
    node.on_image(bags.compressed_msg(rgb, "png", bags.header(7)))
    assert node.spin_once(timeout=1.0)
    assert [t for t, _ in published] == ["/camera/color/depth/image_raw", "/camera/color/depth/camera_info",
                                         "/camera/color/depth/points"]
    for topic, msg in published:
        assert (msg.header.stamp.nanosec, msg.header.frame_id) == (bags.header(7).stamp.nanosec,
                                                                    "camera_color_optical_frame_7")
        bags.STORE.serialize_cdr(msg, msg.__msgtype__)  # valid ROS 2 messages
    depth = np.frombuffer(published[0][1].data.tobytes(), "<f4").reshape(96, 128)
    np.testing.assert_allclose(depth, runtime.predict(rgb), atol=1e-6)
    np.testing.assert_allclose(published[1][1].k.reshape(3, 3), k)
    diag = node.diagnostics(bags.T["builtin_interfaces/msg/Time"](sec=1, nanosec=0))
    bags.STORE.serialize_cdr(diag, diag.__msgtype__)
    values = {kv.key: kv.value for kv in diag.status[0].values}
    assert values["processed"] == "1" and values["dropped"] == "0" and float(values["latency_mean_ms"]) > 0
    assert diag.status[0].level == 0


def test_node_drops_frames_when_inference_is_slower_than_the_camera(node_parts, scenes, bags):
    runtime, published, make = node_parts
    gated = GatedRuntime(runtime)
    node = DepthNode(gated, make, lambda topic, msg: published.append((topic, msg)), NodeOptions("/cam/image_raw"))
    stop = threading.Event()
    worker = threading.Thread(target=node.run, args=(stop,))
    worker.start()
    rgb = scenes[0][0]
    for i in range(40):  # the camera delivers 4 frames per inference
        node.on_image(bags.image_msg(rgb, "rgb8", bags.header(i)))
        if i % 4 == 3:
            gated.gate.release()
    ids = lambda: [m.header.frame_id for t, m in published if t == "/cam/depth/image_raw"]  # noqa: E731
    deadline = time.monotonic() + 30
    while (not ids() or ids()[-1] != "camera_color_optical_frame_39") and time.monotonic() < deadline:
        gated.gate.release()
        time.sleep(0.02)
    stop.set()
    gated.gate.release(10)
    worker.join(timeout=10)
    figures = node.figures()
    assert ids()[-1] == "camera_color_optical_frame_39"  # the newest frame is always processed
    assert ids() == sorted(ids(), key=lambda f: int(f.rsplit("_", 1)[1]))
    assert figures["received"] == 40 and figures["processed"] + figures["dropped"] == 40
    assert figures["processed"] <= 12 and figures["dropped"] >= 28  # at most one inference per gate, no queue
    assert figures["latency_mean_ms"] > 0


def test_node_reports_undecodable_frames(node_parts, scenes, bags):
    runtime, published, make = node_parts
    node = DepthNode(runtime, make, lambda topic, msg: published.append((topic, msg)), NodeOptions("/cam/image_raw"))
    bad = bags.image_msg(scenes[0][0], "bayer_rggb8", bags.header(0))
    node.on_image(bad)
    assert node.spin_once(timeout=1.0) is False
    diag = node.diagnostics(bags.T["builtin_interfaces/msg/Time"](sec=1, nanosec=0))
    assert diag.status[0].level == 1 and "bayer_rggb8" in diag.status[0].message
    assert published == [] and node.failed == 1


def test_ros2_command_without_rclpy_names_ros2(tiny_onnx, capsys, monkeypatch):
    import sys

    from xnet_edge.cli import main

    monkeypatch.setitem(sys.modules, "rclpy", None)
    assert main(["ros2", "--engine", str(tiny_onnx), "--image-topic", "/cam/image_raw"]) == 1
    err = capsys.readouterr().err
    assert "'rclpy' is required" in err and "ROS 2 (Humble or Jazzy)" in err and "Traceback" not in err


def test_rclpy_field_adaptation():
    class FakeImage:  # rclpy's generated classes describe their fields like this
        _fields_and_field_types = {"data": "sequence<uint8>", "d": "sequence<double>", "k": "double[9]",
                                   "level": "octet", "height": "uint32"}

    out = adapt_for_rclpy(FakeImage, {"data": np.arange(3, dtype=np.uint8), "d": np.array([0.5, 1.0]),
                                      "k": np.eye(3).reshape(9), "level": 1, "height": np.uint32(4)})
    assert out["data"] == array.array("B", [0, 1, 2]) and out["d"] == array.array("d", [0.5, 1.0])
    assert isinstance(out["k"], np.ndarray) and out["level"] == b"\x01"
    assert out["height"] == 4 and type(out["height"]) is int
