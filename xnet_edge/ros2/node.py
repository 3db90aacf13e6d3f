"""The ``xnet-edge ros2`` node: camera image in, depth image, camera info and point cloud out.

Everything except :func:`run_node` is plain Python and tested without ROS: :class:`LatestSlot`
(frames arriving while the model is busy replace the waiting one instead of queueing) and
:class:`DepthNode` (decode -> infer -> messages, latency figures, diagnostics), on messages
built by a :class:`~.messages.MessageFactory`. :func:`run_node` is the thin ``rclpy`` glue:
subscriptions with the sensor-data QoS, publishers, a worker thread and a diagnostics timer.
"""

from __future__ import annotations

import array
import importlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .._deps import require
from ..errors import XnetEdgeError
from ..runtime.timing import summarize_ms
from .bags import OutputTopics
from .messages import (Camera, CorruptMessageError, MessageFactory, ResultOptions, UnsupportedEncodingError,
                       message_to_array, result_messages)

DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
#: recent frames the diagnostics' latency figures cover
WINDOW = 100


class LatestSlot:
    """A one-place mailbox: :meth:`put` replaces an item not yet taken (and counts it as dropped).

    The camera callback puts, the inference thread takes; when inference is slower than the
    camera, stale frames are dropped instead of queueing up latency.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: Any) -> bool:
        """Offer an item; returns True when it replaced (dropped) one still waiting."""
        with self._cond:
            replaced = self._full
            self._item, self._full = item, True
            self.received += 1
            self.dropped += int(replaced)
            self._cond.notify()
            return replaced

    def take(self, timeout: Optional[float] = None) -> Any:
        """The waiting item (emptying the slot), or None after ``timeout`` seconds or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._full or self._closed, timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake :meth:`take` for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class NodeOptions:
    """What the node subscribes to and publishes (the ``xnet-edge ros2`` options).

    Attributes:
        image_topic: the camera topic; compressed: it carries CompressedImage (default: the
            topic ends in ``/compressed``).
        camera_info_topic: CameraInfo topic (default ``<ns>/camera_info``).
        intrinsics: fx, fy, cx, cy used instead of CameraInfo.
        topics: output topic names (default under the camera's namespace).
        result: what is published per frame (encoding, points, size).
        diagnostics_topic: where latency figures go once a second.
        qos: ``"sensor"`` (best effort, the sensor-data profile) or ``"reliable"`` for the subscriptions.
    """

    image_topic: str
    compressed: Optional[bool] = None
    camera_info_topic: Optional[str] = None
    intrinsics: Any = None
    topics: OutputTopics = field(default_factory=OutputTopics)
    result: ResultOptions = field(default_factory=ResultOptions)
    diagnostics_topic: str = "/diagnostics"
    qos: str = "sensor"

    def __post_init__(self):
        from .bags import namespace

        ns = namespace(self.image_topic)
        if self.compressed is None:
            self.compressed = self.image_topic.rstrip("/").endswith("/compressed")
        self.camera_info_topic = self.camera_info_topic or f"{ns}/camera_info"
        if self.topics.namespace is None:
            self.topics = OutputTopics(ns, self.topics.image, self.topics.camera_info, self.topics.points)


class DepthNode:
    """The node's work without ROS: camera messages in, result messages out.

    Args:
        runtime: an open :class:`~xnet_edge.runtime.Runtime`.
        make: builds messages of the running implementation (rclpy or rosbags).
        publish: ``publish(topic, message)``.
        options: :class:`NodeOptions`.
        view: a :class:`~xnet_edge.runtime.live_view.LiveView` to show results in, or None.
        clock: seconds, monotonic (for latency).
    """

    def __init__(self, runtime, make: MessageFactory, publish: Callable[[str, Any], None], options: NodeOptions,
                 view=None, clock: Callable[[], float] = time.perf_counter):
        self.runtime, self.make, self.publish, self.view, self.clock = runtime, make, publish, view, clock
        self.options = options
        self.topics = options.topics.resolve(runtime.task == "segmentation")
        options.result = options.result.for_model(runtime)
        self.slot = LatestSlot()
        self.info = None
        self.processed = 0
        self.failed = 0
        self.last_error: Optional[str] = None
        self.latency_s: deque = deque(maxlen=WINDOW)
        self.infer_s: deque = deque(maxlen=WINDOW)
        self._window_start, self._window_frames = clock(), 0

    # ---------------------------------------------------------------- callbacks (ROS executor thread)

    def on_image(self, msg) -> None:
        """Subscription callback: keep only the newest frame for the inference thread."""
        self.slot.put((msg, self.clock()))

    def on_camera_info(self, msg) -> None:
        """Subscription callback: remember the latest calibration."""
        self.info = msg

    # ---------------------------------------------------------------- inference thread

    def camera_for(self, size: tuple[int, int]) -> Optional[Camera]:
        """The input image's calibration: ``intrinsics`` if given, else the latest CameraInfo."""
        i = self.options.intrinsics
        if i is not None:
            return Camera.from_intrinsics(i.fx, i.fy, i.cx, i.cy, size)
        if self.info is None:
            return None
        try:
            return Camera.from_camera_info(self.info)
        except XnetEdgeError:
            return None

    def process(self, msg, received: float) -> bool:
        """Run one camera message through the model and publish the results.

        Returns:
            True when published; False when the message could not be decoded (counted in ``failed``
            and reported on the diagnostics topic).
        """
        try:
            image = message_to_array(msg)
        except (CorruptMessageError, UnsupportedEncodingError) as exc:
            self.failed += 1
            self.last_error = str(exc)
            return False
        t0 = self.clock()
        result = self.runtime.predict(image)
        self.infer_s.append(self.clock() - t0)
        messages = result_messages(self.make, msg.header, result, self.camera_for(image.shape[:2]),
                                   self.options.result, image)
        for kind, out in messages.items():
            self.publish(getattr(self.topics, kind), out)
        latency = self.clock() - received
        self.latency_s.append(latency)
        self.processed += 1
        self._window_frames += 1
        if self.view is not None:
            self.view.show(image, result, self.options.image_topic, latency)
        return True

    def spin_once(self, timeout: float = 0.1) -> bool:
        """Process the waiting frame, if one arrives within ``timeout``; True when one was processed."""
        item = self.slot.take(timeout)
        return item is not None and self.process(*item)

    def run(self, stop: threading.Event) -> None:
        """The inference thread: process the newest frame until ``stop`` is set."""
        while not stop.is_set():
            self.spin_once(0.1)

    # ---------------------------------------------------------------- diagnostics

    def figures(self) -> dict:
        """Latency (receive -> publish) and inference figures over the last frames, FPS since the last call."""
        now = self.clock()
        elapsed = now - self._window_start
        fps = self._window_frames / elapsed if elapsed > 0 else 0.0
        self._window_start, self._window_frames = now, 0
        latency = summarize_ms(np.array(self.latency_s, dtype=np.float64))
        inference = summarize_ms(np.array(self.infer_s, dtype=np.float64))
        return {"fps": fps, "received": self.slot.received, "processed": self.processed,
                "dropped": self.slot.dropped, "failed": self.failed,
                "latency_mean_ms": latency.get("mean_ms"), "latency_p90_ms": latency.get("p90_ms"),
                "inference_mean_ms": inference.get("mean_ms")}

    def diagnostics(self, stamp) -> Any:
        """A ``diagnostic_msgs/DiagnosticArray`` with :meth:`figures` (level WARN while frames fail)."""
        figures = self.figures()
        values = [self.make("diagnostic_msgs/msg/KeyValue", key=k, value="" if v is None else
                            (f"{v:.2f}" if isinstance(v, float) else str(v))) for k, v in figures.items()]
        level, message = 0, "ok"
        if self.last_error is not None:
            level, message = 1, f"undecodable frames: {self.last_error}"
            self.last_error = None
        status = self.make("diagnostic_msgs/msg/DiagnosticStatus", level=level, name="xnet_edge: depth",
                           message=message, hardware_id=str(self.runtime.artifact.file), values=values)
        header = self.make("std_msgs/msg/Header", stamp=stamp, frame_id="")
        return self.make(DIAGNOSTIC_ARRAY, header=header, status=[status])


# -------------------------------------------------------------------- rclpy glue (ROS 2 only)

_ARRAY_CODES = {"uint8": "B", "octet": "B", "double": "d", "float": "f", "int32": "i", "uint32": "I"}


def adapt_for_rclpy(cls: type, fields: dict) -> dict:
    """Field values as rclpy's generated classes accept them: unbounded sequences as ``array.array``,
    ``byte`` fields as one-byte ``bytes``, numpy scalars as Python numbers; fixed arrays stay numpy."""
    types = getattr(cls, "_fields_and_field_types", {})
    out = {}
    for name, value in fields.items():
        kind = types.get(name, "")
        if kind.startswith("sequence<") and isinstance(value, np.ndarray):
            code = _ARRAY_CODES[kind[len("sequence<"):-1]]
            value = array.array(code, np.ascontiguousarray(value).tobytes())
        elif kind in ("octet", "byte") and isinstance(value, int):
            value = bytes([value])
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    return out


def rclpy_factory() -> MessageFactory:
    """A :class:`~.messages.MessageFactory` over the installed ROS 2 Python message packages."""

    def lookup(name: str) -> type:
        package, _, typename = name.split("/")
        return getattr(importlib.import_module(f"{package}.msg"), typename)

    return MessageFactory(lookup, adapt_for_rclpy)


def run_node(runtime, options: NodeOptions, *, node_name: str = "xnet_edge_depth", view=None,
             ros_args: Optional[list] = None) -> dict:
    """Run the node until Ctrl-C (or ROS shutdown). Needs ROS 2 (``rclpy``).

    Returns:
        The final :meth:`DepthNode.figures`.

    Raises:
        MissingDependencyError: rclpy is not importable (ROS 2 not installed or not sourced).
    """
    rclpy = require("rclpy")
    from rclpy.qos import QoSProfile, qos_profile_sensor_data

    factory = rclpy_factory()
    rclpy.init(args=["xnet-edge", "--ros-args", *ros_args] if ros_args else None)
    node = rclpy.create_node(node_name)
    out_qos = QoSProfile(depth=5)  # reliable: any subscriber (RViz, bag recorder) can connect
    publishers: dict = {}

    def publish(topic: str, msg) -> None:
        if topic not in publishers:
            publishers[topic] = node.create_publisher(type(msg), topic, out_qos)
        publishers[topic].publish(msg)

    core = DepthNode(runtime, factory, publish, options, view=view)
    in_qos = qos_profile_sensor_data if options.qos == "sensor" else QoSProfile(depth=5)
    image_type = factory.type_of("sensor_msgs/msg/CompressedImage" if options.compressed else "sensor_msgs/msg/Image")
    node.create_subscription(image_type, options.image_topic, core.on_image, in_qos)
    node.create_subscription(factory.type_of("sensor_msgs/msg/CameraInfo"), options.camera_info_topic,
                             core.on_camera_info, in_qos)
    node.create_timer(1.0, lambda: publish(options.diagnostics_topic,
                                           core.diagnostics(node.get_clock().now().to_msg())))
    stop = threading.Event()
    worker = threading.Thread(target=core.run, args=(stop,), name="xnet-edge-inference", daemon=True)
    worker.start()
    node.get_logger().info(f"{options.image_topic} -> {core.topics.image} ({runtime.backend_name})")
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        core.slot.close()
        worker.join()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return core.figures()
