"""A ROS 2 bag through ``xnet-edge infer`` with the live view on, and a picture of the view.

Writes a rosbag2 bag (MCAP) of generated scenes as a camera would record them
(``/camera/color/image_raw`` rgb8 + ``/camera/color/camera_info``), runs

    xnet-edge infer demo --input BAG --output-bag OUT --points --serve 127.0.0.1:PORT

in a subprocess, takes a screenshot of the live-view page with headless Chromium while it runs
(``--screenshot``), reads the output bag back and prints its topics and message counts.

    python benchmarks/bag_live_view.py --frames 60 --picture docs/robots_live_view.png

Needs ``rosbags`` (requirements.txt) and a ``chromium`` binary for the picture (``--no-picture``
to skip it).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_camera_bag(path: Path, frames: int, size=(240, 320)) -> Path:
    """A bag of generated scenes as Image rgb8 with a CameraInfo each, 10 Hz stamps."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from xnet_edge.data.synthetic import render_scene

    store = get_typestore(Stores.ROS2_JAZZY)
    t = store.types
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        image_conn = writer.add_connection("/camera/color/image_raw", "sensor_msgs/msg/Image", typestore=store)
        info_conn = writer.add_connection("/camera/color/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        for i in range(frames):
            scene = render_scene(i % 12, size, seed=5)
            stamp = 1_700_000_000 * 10**9 + i * 100_000_000
            header = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=stamp // 10**9,
                                                                                    nanosec=stamp % 10**9),
                                              frame_id="camera_color_optical_frame")
            k = scene.intrinsics.copy()
            k[:2, 2] -= 0.5  # ROS puts pixel centres at integers
            roi = t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
            info = t["sensor_msgs/msg/CameraInfo"](
                header=header, height=size[0], width=size[1], distortion_model="plumb_bob", d=np.zeros(5),
                k=k.reshape(9), r=np.eye(3).reshape(9), p=np.hstack([k, np.zeros((3, 1))]).reshape(12),
                binning_x=0, binning_y=0, roi=roi)
            image = t["sensor_msgs/msg/Image"](header=header, height=size[0], width=size[1], encoding="rgb8",
                                               is_bigendian=0, step=3 * size[1], data=scene.rgb.reshape(-1))
            writer.write(info_conn, stamp, store.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
            writer.write(image_conn, stamp + 1, store.serialize_cdr(image, "sensor_msgs/msg/Image"))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_frames(port: int, count: int, run: subprocess.Popen, timeout: float = 600.0) -> None:
    """Poll the view's /stats.json until ``count`` frames were shown (the model loads first)."""
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats.json", timeout=2) as response:
                if json.load(response)["frames"] >= count:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the run showed no frames in time")


def screenshot(url: str, picture: Path, size=(900, 330)) -> None:
    """A headless-Chromium screenshot of ``url`` (the page keeps streaming, so it is cut after 15 s)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("no chromium on PATH: apt-get install chromium, or pass --no-picture")
    picture.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size[0]},{size[1]}", "--timeout=15000", f"--screenshot={picture}", url],
                   check=True, capture_output=True, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--artifact", default="demo")
    parser.add_argument("--picture", type=Path, default=Path("docs/robots_live_view.png"))
    parser.add_argument("--no-picture", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xnet-edge-bag-"))
    try:
        write_camera_bag(work / "camera_bag", args.frames)
        port = free_port()
        cmd = [sys.executable, "-m", "xnet_edge.cli", "infer", args.artifact, "--input", "camera_bag",
               "--output-bag", "depth_bag", "--points", "--serve", f"127.0.0.1:{port}", "--no-progress"]
        print("$", " ".join(cmd), flush=True)
        run = subprocess.Popen(cmd, cwd=work)
        if not args.no_picture:
            wait_for_frames(port, 3, run)
            screenshot(f"http://127.0.0.1:{port}/", args.picture.resolve())
            print(f"wrote {args.picture}")
        if run.wait() != 0:
            return run.returncode
        from rosbags.rosbag2 import Reader

        with Reader(work / "depth_bag") as reader:
            for conn in reader.connections:
                print(f"{conn.topic}: {conn.msgcount} x {conn.msgtype}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
