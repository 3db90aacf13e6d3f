"""Write small rosbag2 bags of camera frames with ``rosbags``, as a camera driver would record them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_JAZZY)
T = STORE.types
T0_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_000_000


def header(i: int, frame_id: str = "camera_color_optical_frame"):
    stamp = T0_NS + i * PERIOD_NS + 17  # odd nanoseconds: stamps must survive exactly
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                                           nanosec=stamp % 10**9),
                                    frame_id=f"{frame_id}_{i}")


def image_msg(rgb: np.ndarray, encoding: str, hdr):
    pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
              "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
              "bgra8": np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 255, np.uint8)])}.get(encoding)
    if pixels is None:  # an encoding the reader must refuse: fill with something of the right size
        pixels = rgb
    data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)
    h, w = rgb.shape[:2]
    return T["sensor_msgs/msg/Image"](header=hdr, height=h, width=w, encoding=encoding, is_bigendian=0,
                                      step=data.size // h, data=data)


def compressed_msg(rgb: np.ndarray, fmt: str, hdr):
    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", rgb[..., ::-1])
    assert ok
    return T["sensor_msgs/msg/CompressedImage"](header=hdr, format=f"rgb8; {fmt} compressed bgr8",
                                                data=buf.reshape(-1))


def camera_info_msg(k: np.ndarray, size, hdr):
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    p = np.hstack([k, np.zeros((3, 1))]).reshape(12)
    return T["sensor_msgs/msg/CameraInfo"](header=hdr, height=size[0], width=size[1], distortion_model="plumb_bob",
                                           d=np.zeros(5), k=k.reshape(9).astype(np.float64), r=np.eye(3).reshape(9),
                                           p=p, binning_x=0, binning_y=0, roi=roi)


def write_bag(path: Path, scenes, *, kind: str = "rgb8", storage: str = "mcap", topic: str = "/camera/color/image_raw",
              info_topic: str | None = "/camera/color/camera_info", corrupt: tuple[int, ...] = (),
              extra_topics: bool = True) -> Path:
    """A bag with one camera frame per scene (``kind``: an Image encoding, ``jpeg`` or ``png``),
    a CameraInfo per frame, and unrelated topics; frames listed in ``corrupt`` hold garbage bytes."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    msgtype = "sensor_msgs/msg/CompressedImage" if kind in ("jpeg", "png") else "sensor_msgs/msg/Image"
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        image_conn = writer.add_connection(topic, msgtype, typestore=STORE)
        info_conn = writer.add_connection(info_topic, "sensor_msgs/msg/CameraInfo", typestore=STORE) \
            if info_topic else None
        other = writer.add_connection("/rosout_count", "std_msgs/msg/Int32", typestore=STORE) if extra_topics else None
        for i, (rgb, k) in enumerate(scenes):
            hdr = header(i)
            t = T0_NS + i * PERIOD_NS + 1000
            if info_conn is not None:
                writer.write(info_conn, t - 500, STORE.serialize_cdr(camera_info_msg(k, rgb.shape[:2], hdr),
                                                                     "sensor_msgs/msg/CameraInfo"))
            msg = compressed_msg(rgb, kind, hdr) if kind in ("jpeg", "png") else image_msg(rgb, kind, hdr)
            raw = STORE.serialize_cdr(msg, msgtype)
            if i in corrupt:
                raw = raw[:40]  # truncated: the header survives, the pixels do not
            writer.write(image_conn, t, raw)
            if other is not None:
                writer.write(other, t + 1, STORE.serialize_cdr(T["std_msgs/msg/Int32"](data=i), "std_msgs/msg/Int32"))
    return path


def read_bag(path: Path) -> dict:
    """{topic: [(log_time, message), ...]} of every message in a bag (None for one that does not parse)."""
    from rosbags.rosbag2 import Reader
    from rosbags.serde import SerdeError

    out: dict = {}
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            try:
                msg = STORE.deserialize_cdr(raw, conn.msgtype)
            except SerdeError:
                msg = None
            out.setdefault(conn.topic, []).append((t, msg))
    return out
