"""Frame sources for ``xnet-edge infer``: an image, a folder, a glob, a video file or a camera.

Frames are decoded with OpenCV (:mod:`xnet_edge.images`; imported when a source opens) and handed out as RGB
(or gray / RGBA / 16-bit as stored; :func:`xnet_edge.preprocess.to_rgb_uint8` converts).
A frame that cannot be decoded comes out with ``error`` set instead of raising, so one
bad file in a folder is reported and skipped. Sources never hold more than one frame.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError
from ..images import VIDEO_SUFFIXES, bgr_to_rgb, list_images, read_image
from ..preprocess import MAX_SIDE, fit_size

#: consecutive failed reads after which a camera counts as stopped
CAMERA_RETRIES = 20
CAMERA_RETRY_SLEEP_S = 0.05


class SourceError(XnetEdgeError):
    """A video or camera cannot be opened or stopped delivering frames."""


@dataclass
class Frame:
    """One input frame.

    Attributes:
        index: position in the source (0-based).
        stem: output name stem (``photo``, ``clip_000042``, ``camera0_000042``).
        source: where it came from, for messages.
        image: the decoded image, or None when ``error`` is set.
        error: why the frame could not be read, or None.
        note: something worth telling the user (e.g. it was downscaled).
    """

    index: int
    stem: str
    source: str
    image: Optional[np.ndarray] = None
    error: Optional[str] = None
    note: Optional[str] = None


def parse_camera(spec: str) -> Optional[int]:
    """The camera index of ``camera:N`` (None for anything else).

    Raises:
        UsageError: ``camera:`` followed by something that is not a non-negative integer.
    """
    if not spec.startswith("camera:"):
        return None
    m = re.fullmatch(r"camera:(\d+)", spec)
    if not m:
        raise UsageError(f"bad camera {spec!r}: expected camera:N with N a device index, e.g. camera:0")
    return int(m.group(1))


def limit_size(image: np.ndarray, cv2, max_side: Optional[int] = None) -> tuple[np.ndarray, Optional[str]]:
    """Downscale an image whose longer side exceeds ``max_side`` (default :data:`MAX_SIDE`, area filter).

    Returns:
        (image, note): the note says it was downscaled, else None.
    """
    max_side = max_side or MAX_SIDE
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image, None
    nh, nw = fit_size((h, w), (max_side, max_side))
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA), f"downscaled from {w}x{h} to {nw}x{nh}"


class FrameSource:
    """Iterates :class:`Frame` objects from one input spec.

    Args:
        spec: an image path, folder, glob, video file, or ``camera:N``.
        max_frames: stop after this many frames (None: all).

    Attributes:
        kind: "images", "video" or "camera".
        total: number of frames when known up front (for the progress bar), else None.

    Raises:
        UsageError: the input does not exist / matches nothing / bad camera spec.
        SourceError: a video or camera cannot be opened.
    """

    def __init__(self, spec: str, max_frames: Optional[int] = None):
        if max_frames is not None and max_frames <= 0:
            raise UsageError(f"--max-frames must be positive, got {max_frames}")
        self.spec = spec
        self.max_frames = max_frames
        self._cv2 = require("cv2")
        self._capture = None
        self.camera = parse_camera(spec)
        self.notes: list[str] = []
        #: why a video delivered fewer frames than its header promises, else None
        self.incomplete: Optional[str] = None
        if self.camera is not None:
            self.kind, self.total = "camera", max_frames
            self._capture = self._open_capture(self.camera, f"camera {self.camera}")
        else:
            files = list_images(spec)
            if len(files) == 1 and files[0].suffix.lower() in VIDEO_SUFFIXES:
                self.kind = "video"
                self._capture = self._open_capture(str(files[0]), f"video {files[0]}")
                count = int(self._capture.get(self._cv2.CAP_PROP_FRAME_COUNT) or 0)
                self.total = min(count, max_frames or count) if count > 0 else max_frames
                self._video = files[0]
            else:
                self.kind = "images"
                self._files = files
                self.total = min(len(files), max_frames or len(files))

    def _open_capture(self, target, label: str):
        capture = self._cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            hint = ("check the device index, permissions (video group) and that no other program holds it"
                    if self.camera is not None else "unsupported codec or corrupt file")
            raise SourceError(f"cannot open {label}: {hint}")
        return capture

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "images":
            frames = self._image_frames()
        elif self.kind == "video":
            frames = self._video_frames()
        else:
            frames = self._camera_frames()
        for count, frame in enumerate(frames, start=1):
            yield frame
            if self.max_frames is not None and count >= self.max_frames:
                break
        self.close()

    def _image_frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self._files):
            try:
                image, note = limit_size(read_image(path), self._cv2)
                yield Frame(index, path.stem, str(path), image=image, note=note)
            except XnetEdgeError as exc:
                yield Frame(index, path.stem, str(path), error=str(exc))

    def _video_frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self._capture.read()
            if not ok or image is None:  # end of the video (or its undecodable tail)
                break
            image, note = limit_size(bgr_to_rgb(image), self._cv2)
            yield Frame(index, f"{self._video.stem}_{index:06d}", f"{self._video}#{index}", image=image, note=note)
            index += 1
        if self.total and index < self.total:  # frames lost to corruption count as failures, like bad images
            self.incomplete = (f"video {self._video} ended after {index} of {self.total} frames: "
                               f"{self.total - index} frame(s) lost (corrupt or truncated)")

    def _camera_frames(self) -> Iterator[Frame]:
        index, failures = 0, 0
        while True:
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if failures >= CAMERA_RETRIES:
                    what = "delivers no frames" if index == 0 else f"stopped delivering frames after {index}"
                    raise SourceError(f"camera {self.camera} {what} ({CAMERA_RETRIES} failed reads in a row)")
                time.sleep(CAMERA_RETRY_SLEEP_S)
                continue
            failures = 0
            image, note = limit_size(bgr_to_rgb(image), self._cv2)
            yield Frame(index, f"camera{self.camera}_{index:06d}", f"camera:{self.camera}#{index}", image=image,
                        note=note)
            index += 1

    def close(self) -> None:
        """Release the video/camera (idempotent)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
