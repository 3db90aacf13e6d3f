"""rosbag2 recordings in and out, with the pure-Python ``rosbags`` library (no ROS installation).

:class:`BagInput` reads one camera topic (``Image`` or ``CompressedImage``) of a rosbag2 folder
or a bare ``.mcap`` / ``.db3`` file as :class:`BagFrame` objects for
:func:`xnet_edge.runtime.infer`; :class:`BagOutput` is a sink that writes depth (or labels),
the matching ``CameraInfo`` and an optional ``PointCloud2`` per frame, with the input's header,
into a new bag that appears at its path only when complete.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError
from ..io_utils import atomic_dir, check_writable
from ..runtime.sources import Frame
from .messages import (CAMERA_INFO, DEPTH_ENCODINGS, IMAGE_TYPES, Camera, CorruptMessageError, ResultOptions,
                       message_to_array, result_messages, rosbags_factory)

STORAGES = ("mcap", "sqlite3")
_SUFFIX_STORAGE = {".mcap": "mcap", ".db3": "sqlite3"}
#: rosbag2 metadata version written (read by ROS 2 Iron and newer, and by rosbags)
BAG_VERSION = 8


def typestore():
    """The ROS 2 (Jazzy) message definitions from ``rosbags``; sensor_msgs are the same in Humble."""
    stores = require("rosbags.typesys")
    return stores.get_typestore(stores.Stores.ROS2_JAZZY)


def is_bag(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a rosbag2 folder (with ``metadata.yaml``) or a bare ``.mcap`` / ``.db3`` file."""
    p = Path(path)
    try:
        return (p.is_dir() and (p / "metadata.yaml").is_file()) or (p.is_file() and p.suffix.lower() in _SUFFIX_STORAGE)
    except OSError:  # an unreadable folder: the image/video reader reports it
        return False


def bag_storage(path: str | os.PathLike) -> str:
    """``"mcap"`` or ``"sqlite3"``: the storage of a bag folder or file."""
    p = Path(path)
    if p.is_file():
        return _SUFFIX_STORAGE.get(p.suffix.lower(), "sqlite3")
    suffixes = {f.suffix.lower() for f in p.iterdir()}
    return "mcap" if ".mcap" in suffixes else "sqlite3"


def namespace(topic: str) -> str:
    """The namespace of a camera topic: ``/camera/color/image_raw[/compressed]`` -> ``/camera/color``."""
    parts = [p for p in topic.split("/") if p]
    if parts and parts[-1] in ("compressed", "theora", "compressedDepth"):
        parts = parts[:-1]
    return "/" + "/".join(parts[:-1]) if len(parts) > 1 else ""


@dataclass(frozen=True)
class OutputTopics:
    """Where results are published.

    Attributes:
        namespace: the camera's namespace; the defaults are ``<ns>/depth/image_raw``,
            ``<ns>/depth/camera_info`` and ``<ns>/depth/points`` (``<ns>/labels/...`` for
            segmentation), as ROS camera drivers name them.
        image, camera_info, points: explicit names that replace the defaults.
    """

    namespace: Optional[str] = None
    image: Optional[str] = None
    camera_info: Optional[str] = None
    points: Optional[str] = None

    def resolve(self, segmentation: bool = False) -> "OutputTopics":
        """The final names for a depth (or segmentation) model."""
        base = f"{(self.namespace or '').rstrip('/')}/{'labels' if segmentation else 'depth'}"
        return OutputTopics(self.namespace, self.image or f"{base}/image_raw",
                            self.camera_info or f"{base}/camera_info", self.points or f"{base}/points")


@dataclass
class BagFrame(Frame):
    """A camera frame from a bag, with what its outputs must carry.

    Attributes:
        header: the message's ``std_msgs/Header`` (stamp and frame_id are copied to the outputs).
        camera: the calibration of this image (from CameraInfo or intrinsics), or None.
        log_time: the bag's receive time of the message, ns (the outputs are logged at it).
    """

    header: Any = None
    camera: Optional[Camera] = None
    log_time: int = 0


class BagInput:
    """The frames of one camera topic of a bag, in recording order.

    Args:
        path: a rosbag2 folder or a bare ``.mcap`` / ``.db3`` file.
        topic: the image topic; may be None when the bag has exactly one.
        camera_info_topic: the CameraInfo topic (default ``<ns>/camera_info`` when it exists).
        intrinsics: fx, fy, cx, cy for the images, used instead of a CameraInfo topic.
        max_frames: stop after this many frames.

    Attributes:
        kind: ``"bag"``; total: frames to read; topic, msgtype, storage, camera_info_topic;
        notes: things worth telling the user; read: messages read per topic.

    Raises:
        UsageError: not a bag, no such topic (the message lists the image topics), an image
            encoding or format that is not supported, no CameraInfo topic of that name.
        XnetEdgeError: the bag cannot be read.
    """

    kind = "bag"

    def __init__(self, path: str | os.PathLike, topic: Optional[str] = None,
                 camera_info_topic: Optional[str] = None, intrinsics=None, max_frames: Optional[int] = None):
        self.path = Path(path)
        if not self.path.exists():
            raise UsageError(f"input not found: {self.path}")
        rosbag2 = require("rosbags.rosbag2")
        self.storage = bag_storage(self.path)
        self._store = typestore()
        self._reader = rosbag2.Reader(self.path)
        try:
            self._reader.open()
        except (rosbag2.ReaderError, OSError, ValueError, KeyError) as exc:
            raise XnetEdgeError(f"cannot read bag {self.path}: {exc}") from None
        try:
            self._choose_topics(topic, camera_info_topic)
            self.intrinsics = intrinsics
            self.notes: list[str] = []
            self.read = {self.topic: 0}
            count = sum(c.msgcount for c in self._image_conns)
            self.total = min(count, max_frames) if max_frames else count
            self.max_frames = max_frames
            self._first_info = self._first_camera_info()
            self._check_first_image()
        except BaseException:
            self.close()
            raise

    def _choose_topics(self, topic, camera_info_topic) -> None:
        images = {}
        for conn in self._reader.connections:
            if conn.msgtype in IMAGE_TYPES:
                images.setdefault(conn.topic, []).append(conn)
        listing = ", ".join(f"{t} ({c[0].msgtype.rsplit('/', 1)[-1]}, {sum(x.msgcount for x in c)} msgs)"
                            for t, c in sorted(images.items())) or "none"
        if topic is None:
            if len(images) != 1:
                raise UsageError(f"{self.path} has {len(images)} image topics ({listing}): choose one with --topic")
            topic = next(iter(images))
        if topic not in images:
            raise UsageError(f"no image topic {topic} in {self.path}; its image topics: {listing}")
        self.topic, self._image_conns = topic, images[topic]
        self.msgtype = self._image_conns[0].msgtype
        infos = {c.topic: c for c in self._reader.connections if c.msgtype == CAMERA_INFO}
        default = f"{namespace(topic)}/camera_info"
        if camera_info_topic is not None and camera_info_topic not in infos:
            raise UsageError(f"no CameraInfo topic {camera_info_topic} in {self.path}; its CameraInfo topics: "
                             f"{', '.join(sorted(infos)) or 'none'}")
        self.camera_info_topic = camera_info_topic or (default if default in infos else None)
        self._info_conns = [c for c in self._reader.connections
                            if c.topic == self.camera_info_topic and c.msgtype == CAMERA_INFO]

    def _deserialize(self, raw, msgtype: str):
        try:
            return self._store.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # noqa: BLE001 - any failure to parse recorded bytes is a corrupt message
            raise CorruptMessageError(f"corrupt {msgtype.rsplit('/', 1)[-1]} message ({type(exc).__name__})") \
                from None

    def _first_camera_info(self):
        # Camera info is usually latched once; images recorded before it still get it.
        for _, _, raw in self._reader.messages(connections=self._info_conns):
            try:
                return self._deserialize(raw, CAMERA_INFO)
            except CorruptMessageError:
                continue
        return None

    def _check_first_image(self) -> None:
        # An unsupported encoding is a usage error: report it before the model loads.
        for _, _, raw in self._reader.messages(connections=self._image_conns):
            try:
                message_to_array(self._deserialize(raw, self.msgtype))
            except CorruptMessageError:
                continue
            return

    def camera_for(self, info, size: tuple[int, int]) -> Optional[Camera]:
        """The calibration for an image of ``size`` (H, W): from ``--intrinsics`` or ``info``."""
        if self.intrinsics is not None:
            i = self.intrinsics
            return Camera.from_intrinsics(i.fx, i.fy, i.cx, i.cy, size)
        if info is None:
            return None
        try:
            return Camera.from_camera_info(info)
        except XnetEdgeError as exc:
            if str(exc) not in self.notes:
                self.notes.append(str(exc))
            return None

    def __iter__(self) -> Iterator[BagFrame]:
        info, index = self._first_info, 0
        stem = self.topic.strip("/").replace("/", "_") or "image"
        conns = self._image_conns + self._info_conns
        for conn, log_time, raw in self._reader.messages(connections=conns):
            if conn.msgtype == CAMERA_INFO:
                try:
                    info = self._deserialize(raw, CAMERA_INFO)
                except CorruptMessageError:
                    pass  # keep the previous calibration
                self.read[conn.topic] = self.read.get(conn.topic, 0) + 1
                continue
            self.read[self.topic] += 1
            frame = BagFrame(index, f"{stem}_{index:06d}", f"{self.path}:{self.topic}#{index}", log_time=log_time)
            try:
                msg = self._deserialize(raw, self.msgtype)
                frame.header = msg.header
                frame.image = message_to_array(msg)
                frame.camera = self.camera_for(info, frame.image.shape[:2])
            except CorruptMessageError as exc:
                frame.error, frame.image = str(exc), None
            yield frame
            index += 1
            if self.max_frames is not None and index >= self.max_frames:
                break

    def close(self) -> None:
        """Close the bag (idempotent)."""
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is not None and getattr(reader, "isopen", True):
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - a reader that failed to open has nothing to close
                pass


class BagOutput:
    """A result sink writing a rosbag2 bag: per frame, depth (or labels), CameraInfo, optional PointCloud2.

    Every output message carries the input frame's header and is logged at its receive time,
    so input and output line up one to one. The bag is written into a staging folder beside
    ``path`` (:func:`xnet_edge.io_utils.atomic_dir`) and renamed onto ``path`` when the run
    ends; a run that fails leaves nothing at ``path``.

    Args:
        path: the new bag folder (must not exist; its parent is created).
        storage: ``"mcap"`` or ``"sqlite3"``.
        topics: output topic names (resolved for depth or labels once the model is known).
        depth_encoding: ``"32FC1"`` (metres) or ``"16UC1"`` (millimetres).
        points: also write an organized PointCloud2 (needs a calibration per frame).
        points_rgb: colour the points with the input image.
        depth_size: publish depth at this (H, W) (nearest-neighbour resize) instead of the image's size.

    Raises:
        UsageError: ``path`` exists, bad storage or encoding.
        OutputError: the folder beside ``path`` cannot be written.
    """

    def __init__(self, path: str | os.PathLike, storage: str, topics: OutputTopics, *,
                 depth_encoding: str = "32FC1", points: bool = False, points_rgb: bool = False,
                 depth_size: Optional[tuple[int, int]] = None):
        self.path = Path(path)
        if storage not in STORAGES:
            raise UsageError(f"bad bag storage {storage!r}: choose {' or '.join(STORAGES)}")
        if depth_encoding not in DEPTH_ENCODINGS:
            raise UsageError(f"bad depth encoding {depth_encoding!r}: choose {' or '.join(DEPTH_ENCODINGS)}")
        if self.path.exists():
            raise UsageError(f"output bag {self.path} exists already; choose a new name or delete it")
        self.storage, self.depth_encoding = storage, depth_encoding
        self._topics, self.topics = topics, topics.resolve()
        self.options = ResultOptions(depth_encoding, points, points_rgb, depth_size)
        self.written: dict[str, int] = {}
        self._store = typestore()
        self._make = rosbags_factory(self._store)
        check_writable(self.path, "--output-bag", is_dir=True)  # before the model loads
        self._staged = None
        self._writer, self._conns = None, {}

    def bind(self, runtime) -> None:
        """Fit the output to the model (labels topics and classes for segmentation; see
        :meth:`~.messages.ResultOptions.for_model`)."""
        self.options = self.options.for_model(runtime)
        if runtime.task == "segmentation":
            self.topics = self._topics.resolve(segmentation=True)

    def __enter__(self) -> "BagOutput":
        rosbag2 = require("rosbags.rosbag2")
        plugin = rosbag2.StoragePlugin.MCAP if self.storage == "mcap" else rosbag2.StoragePlugin.SQLITE3
        self._staged = atomic_dir(self.path)
        staging = self._staged.__enter__()
        # SQLite connections only work on the thread that opened them: every call to the
        # writer goes through one thread of its own.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xnet-edge-bag")
        # rosbags creates the bag folder itself and names the storage file after it
        self._writer = rosbag2.Writer(staging / self.path.name, version=BAG_VERSION, storage_plugin=plugin)
        self._call(self._writer.open)
        return self

    def _call(self, fn, *args, **kwargs):
        return self._thread.submit(fn, *args, **kwargs).result()

    def _connection(self, topic: str, msgtype: str):
        if topic not in self._conns:
            self._conns[topic] = self._call(self._writer.add_connection, topic, msgtype, typestore=self._store)
            self.written[topic] = 0
        return self._conns[topic]

    def _log(self, topic: str, msg, log_time: int) -> None:
        conn = self._connection(topic, msg.__msgtype__)
        self._call(self._writer.write, conn, log_time, self._store.serialize_cdr(msg, msg.__msgtype__))
        self.written[topic] += 1

    def write(self, frame: BagFrame, result: np.ndarray) -> None:
        """Write one frame's messages (called by :func:`~xnet_edge.runtime.infer` in frame order)."""
        messages = result_messages(self._make, frame.header, result, frame.camera, self.options, frame.image)
        for kind, msg in messages.items():
            self._log(getattr(self.topics, kind), msg, frame.log_time)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._writer is not None and self._writer.storage is not None:
                self._call(self._writer.close)
            if exc_type is None:  # the staging folder becomes the bag: lift the files out of rosbags' folder
                inner = self._writer.path
                for item in inner.iterdir():
                    os.replace(item, inner.parent / item.name)
                inner.rmdir()
        except BaseException as error:
            exc_type, exc, tb = type(error), error, error.__traceback__
            raise
        finally:
            self._thread.shutdown()
            self._staged.__exit__(exc_type, exc, tb)


def open_bag_io(path, output_bag=None, *, topic: Optional[str] = None, camera_info_topic: Optional[str] = None,
                intrinsics=None, max_frames: Optional[int] = None, storage: Optional[str] = None,
                topics: Optional[OutputTopics] = None, depth_encoding: str = "32FC1", points: bool = False,
                points_rgb: bool = False, depth_size: Optional[tuple[int, int]] = None):
    """A bag input and, when ``output_bag`` is given, the matching output, checked before any model loads.

    Args:
        path: the input bag; output_bag: the new bag (None: no bag output).
        topic, camera_info_topic, intrinsics, max_frames: see :class:`BagInput`.
        storage: the output's storage (default: the input's).
        topics: output topic names (default: under the camera topic's namespace).
        depth_encoding, points, points_rgb, depth_size: see :class:`BagOutput`.

    Returns:
        (BagInput, BagOutput or None), for ``infer(artifact, source, sinks=[output])``.

    Raises:
        UsageError: see :class:`BagInput` and :class:`BagOutput`; points without any calibration;
            the output at the input's path.
    """
    source = BagInput(path, topic, camera_info_topic, intrinsics, max_frames)
    try:
        if output_bag is None:
            return source, None
        if Path(output_bag).resolve() == Path(path).resolve():
            raise UsageError("--output-bag must differ from the input bag")
        if (points or points_rgb) and source.camera_info_topic is None and intrinsics is None:
            raise UsageError(f"--points needs the camera calibration: {source.path} has no CameraInfo on "
                             f"{namespace(source.topic)}/camera_info; pass --camera-info-topic or --intrinsics")
        topics = topics or OutputTopics()
        if topics.namespace is None:
            topics = replace(topics, namespace=namespace(source.topic))
        output = BagOutput(output_bag, storage or source.storage, topics,
                           depth_encoding=depth_encoding, points=points, points_rgb=points_rgb, depth_size=depth_size)
        return source, output
    except BaseException:
        source.close()
        raise
