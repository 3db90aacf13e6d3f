"""``xnet-edge infer`` on ROS 2 bags: round trips read back with rosbags, and bad inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from xnet_edge.cli import main


TOPIC = "/camera/color/image_raw"
OUT = "/camera/color/depth"


def _infer(*args):
    return main(["infer", *map(str, args), "--no-progress"])


def _stamp(msg):
    return msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id


def _depth(msg):
    dtype = "<f4" if msg.encoding == "32FC1" else "<u2"
    assert msg.step == msg.width * np.dtype(dtype).itemsize
    return np.frombuffer(msg.data.tobytes(), dtype).reshape(msg.height, msg.width)


@pytest.mark.parametrize("storage,kind", [("mcap", "rgb8"), ("sqlite3", "jpeg"), ("mcap", "png"),
                                          ("sqlite3", "bgr8")])
def test_round_trip(tiny_onnx, scenes, bags, tmp_path, storage, kind, capsys):
    bag = bags.write_bag(tmp_path / "in", scenes, kind=kind, storage=storage)
    out_bag, files = tmp_path / "out", tmp_path / "files"
    rc = _infer(tiny_onnx, "--input", bag, "--output-bag", out_bag, "--output", files, "--format", "npy",
                "--points", "--summary-json", tmp_path / "s.json")
    text = capsys.readouterr().out
    assert rc == 0, text
    assert sorted(p.suffix for p in out_bag.iterdir()) == [".db3" if storage == "sqlite3" else ".mcap", ".yaml"]
    assert f"{TOPIC} 4 msgs" in text and f"{OUT}/image_raw 4 msgs" in text and "FPS" in text
    read_in, read_out = bags.read_bag(bag), bags.read_bag(out_bag)
    assert sorted(read_out) == [f"{OUT}/camera_info", f"{OUT}/image_raw", f"{OUT}/points"]
    inputs = read_in[TOPIC]
    for topic, messages in read_out.items():
        # one output per input frame, same receive time, same stamp and frame id
        assert [t for t, _ in messages] == [t for t, _ in inputs], topic
        assert [_stamp(m) for _, m in messages] == [_stamp(m) for _, m in inputs], topic
    for i, (_, msg) in enumerate(read_out[f"{OUT}/image_raw"]):
        assert (msg.encoding, msg.height, msg.width) == ("32FC1", 96, 128)
        expected = np.load(files / f"camera_color_image_raw_{i:06d}_depth.npy")
        assert np.abs(_depth(msg) - expected).max() <= 1e-3  # within 1 mm of the file output
    for (_, info), (rgb, k) in zip(read_out[f"{OUT}/camera_info"], scenes):
        np.testing.assert_allclose(info.k.reshape(3, 3), k)  # same size: the camera's own calibration
        assert (info.height, info.width) == rgb.shape[:2]
    _check_points(read_out[f"{OUT}/points"][0][1], _depth(read_out[f"{OUT}/image_raw"][0][1]), scenes[0][1])
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["bag"]["written"][f"{OUT}/points"] == 4 and report["summary"]["frames"] == 4


def _check_points(cloud_msg, depth, k):
    assert (cloud_msg.height, cloud_msg.width) == depth.shape and cloud_msg.point_step == 12
    cloud = np.frombuffer(cloud_msg.data.tobytes(), "<f4").reshape(*depth.shape, 3)
    valid = depth > 0
    rows, cols = np.nonzero(valid)
    x, y, z = (cloud[rows, cols, i] for i in range(3))
    np.testing.assert_allclose(z, depth[valid])
    np.testing.assert_allclose(k[0, 0] * x / z + k[0, 2], cols, atol=1e-3)
    np.testing.assert_allclose(k[1, 1] * y / z + k[1, 2], rows, atol=1e-3)


def test_bare_mcap_16uc1_resized_depth_and_rgb_points(tiny_onnx, scenes, bags, tmp_path):
    folder = bags.write_bag(tmp_path / "rec", scenes[:2], kind="rgba8", storage="mcap")
    bare = next(folder.glob("*.mcap"))
    out_bag, files = tmp_path / "out", tmp_path / "files"
    assert _infer(tiny_onnx, "--input", bare, "--output-bag", out_bag, "--bag-storage", "sqlite3",
                  "--depth-encoding", "16UC1", "--depth-size", "48x80", "--points-rgb", "--output", files,
                  "--format", "npy") == 0
    assert any(p.suffix == ".db3" for p in out_bag.iterdir())
    read = bags.read_bag(out_bag)
    msg = read[f"{OUT}/image_raw"][0][1]
    assert (msg.encoding, msg.height, msg.width) == ("16UC1", 48, 80)
    full = np.load(files / "camera_color_image_raw_000000_depth.npy")
    rows = np.minimum(((np.arange(48) + 0.5) * 96 / 48).astype(int), 95)
    cols = np.minimum(((np.arange(80) + 0.5) * 128 / 80).astype(int), 127)
    assert np.abs(_depth(msg) / 1000.0 - full[rows][:, cols]).max() <= 0.5e-3  # millimetres, rounded
    info = read[f"{OUT}/camera_info"][0][1]
    k = scenes[0][1]
    sx, sy = 80 / 128, 48 / 96  # a non-square resize, by hand
    np.testing.assert_allclose(info.k.reshape(3, 3), [[k[0, 0] * sx, 0, (k[0, 2] + 0.5) * sx - 0.5],
                                                      [0, k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5], [0, 0, 1]])
    assert (info.height, info.width) == (48, 80)
    cloud = read[f"{OUT}/points"][0][1]
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb"] and cloud.point_step == 16


def test_corrupt_message_in_the_middle_is_skipped_and_counted(tiny_onnx, scenes, bags, tmp_path, capsys):
    bag = bags.write_bag(tmp_path / "in", scenes, kind="jpeg", storage="mcap", corrupt=(1,))
    out_bag = tmp_path / "out"
    assert _infer(tiny_onnx, "--input", bag, "--output-bag", out_bag) == 1  # a frame was skipped
    text = capsys.readouterr().out
    assert "skipped: " in text and "#1: corrupt CompressedImage message" in text
    read_in, read_out = bags.read_bag(bag), bags.read_bag(out_bag)
    assert read_in[TOPIC][1][1] is None  # the corrupt one
    kept = [_stamp(m) for i, (_, m) in enumerate(read_in[TOPIC]) if i != 1]
    assert [_stamp(m) for _, m in read_out[f"{OUT}/image_raw"]] == kept
    assert len(read_out[f"{OUT}/camera_info"]) == 3


def _no_image_topic_bag(bags, path):
    from rosbags.rosbag2 import Writer

    with Writer(path, version=8) as writer:
        conn = writer.add_connection("/odom_count", "std_msgs/msg/Int32", typestore=bags.STORE)
        writer.write(conn, 1, bags.STORE.serialize_cdr(bags.T["std_msgs/msg/Int32"](data=1), "std_msgs/msg/Int32"))
    return path


def test_bad_bags_exit_2_with_one_line(tiny_onnx, scenes, bags, tmp_path, capsys):
    out = tmp_path / "out"
    bag = bags.write_bag(tmp_path / "in", scenes[:2], kind="rgb8", storage="mcap")
    cases = [
        ([_no_image_topic_bag(bags, tmp_path / "none")], "has 0 image topics (none)"),
        ([bag, "--topic", "/camera/depth/image_rect_raw"],
         f"no image topic /camera/depth/image_rect_raw in {bag}; its image topics: {TOPIC} (Image, 2 msgs)"),
        ([bags.write_bag(tmp_path / "bayer", scenes[:2], kind="bayer_rggb8")],
         "image encoding 'bayer_rggb8' is not supported; supported: rgb8, bgr8"),
        ([bag, "--camera-info-topic", "/nope"], "no CameraInfo topic /nope"),
        ([tmp_path / "missing.mcap"], "input not found"),
    ]
    for args, message in cases:
        assert _infer(tiny_onnx, "--input", *args, "--output-bag", out) == 2, message
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    assert _infer(tiny_onnx, "--input", bag) == 2
    assert "nothing to write" in capsys.readouterr().err
    out.mkdir()
    assert _infer(tiny_onnx, "--input", bag, "--output-bag", out) == 2
    assert "exists already" in capsys.readouterr().err
    assert _infer(tiny_onnx, "--input", bag, "--output-bag", bag) == 2
    image = tmp_path / "frame.png"
    assert cv2.imwrite(str(image), scenes[0][0])
    assert _infer(tiny_onnx, "--input", image, "--output-bag", tmp_path / "o2") == 2
    assert "needs a ROS 2 bag as --input" in capsys.readouterr().err


def test_output_folders(tiny_onnx, scenes, bags, tmp_path, capsys):
    bag = bags.write_bag(tmp_path / "in", scenes[:1], kind="rgb8", storage="sqlite3")
    deep = tmp_path / "not" / "yet" / "there" / "out"  # a missing output folder is created
    assert _infer(tiny_onnx, "--input", bag, "--output-bag", deep) == 0
    assert len(bags.read_bag(deep)[f"{OUT}/image_raw"]) == 1
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for target in (blocker / "out", "/sys/xnet_edge_read_only/out"):  # not writable, even for root
        assert _infer(tiny_onnx, "--input", bag, "--output-bag", target) == 1
        err = capsys.readouterr().err
        assert f"--output-bag {target}: " in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "in", "not"]


def test_a_failed_run_leaves_no_bag(tiny_onnx, scenes, bags, tmp_path):
    from xnet_edge.errors import XnetEdgeError
    from xnet_edge.ros2.bags import open_bag_io
    from xnet_edge.runtime import infer

    bag = bags.write_bag(tmp_path / "in", scenes, kind="rgb8", storage="mcap")
    source, output = open_bag_io(bag, tmp_path / "out")

    class DiskFull:
        def write(self, frame, result):
            if frame.index == 2:
                raise XnetEdgeError("disk full")

    with pytest.raises(XnetEdgeError, match="disk full"):
        infer(tiny_onnx, source, sinks=[output, DiskFull()])
    source.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no bag, no staging folder


def test_segmentation_publishes_mono8_labels(tiny_seg_checkpoint, scenes, bags, tmp_path):
    bag = bags.write_bag(tmp_path / "in", scenes[:2], kind="png", storage="mcap")
    assert _infer(tiny_seg_checkpoint, "--input", bag, "--output-bag", tmp_path / "out", "--points") == 0
    read = bags.read_bag(tmp_path / "out")
    assert sorted(read) == ["/camera/color/labels/camera_info", "/camera/color/labels/image_raw"]
    msg = read["/camera/color/labels/image_raw"][0][1]
    assert msg.encoding == "mono8" and (msg.height, msg.width) == (96, 128)
    assert msg.data.max() < 5
