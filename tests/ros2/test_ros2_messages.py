"""Message conversion on the real ROS 2 message definitions (rosbags' typestore, CDR round trips)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from xnet_edge.ros2.messages import (Camera, CorruptMessageError, ResultOptions, UnsupportedEncodingError,
                                     camera_info, compressed_to_array, depth_image, image_to_array, label_image,
                                     point_cloud, resize_nearest, result_messages, rosbags_factory)

STORE = get_typestore(Stores.ROS2_JAZZY)
T = STORE.types
MAKE = rosbags_factory(STORE)


def roundtrip(msg):
    """Serialize to CDR and back, as a bag or DDS would carry it."""
    return STORE.deserialize_cdr(STORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def header(sec=12, nanosec=345, frame_id="cam"):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                    frame_id=frame_id)


def raw_image(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    h, w = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels).reshape(h, -1).view(np.uint8)
    rows = np.hstack([rows, np.full((h, pad), 7, np.uint8)])  # row padding a driver may add
    return roundtrip(T["sensor_msgs/msg/Image"](header=header(), height=h, width=w, encoding=encoding,
                                                is_bigendian=int(bigendian), step=rows.shape[1],
                                                data=rows.reshape(-1)))


@pytest.fixture
def rgb():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)


@pytest.mark.parametrize("pad", [0, 4])
def test_raw_encodings(rgb, pad):
    alpha = np.full(rgb.shape[:2], 200, np.uint8)
    np.testing.assert_array_equal(image_to_array(raw_image(rgb, "rgb8", pad)), rgb)
    np.testing.assert_array_equal(image_to_array(raw_image(rgb[..., ::-1], "bgr8", pad)), rgb)
    np.testing.assert_array_equal(image_to_array(raw_image(np.dstack([rgb, alpha]), "rgba8", pad)),
                                  np.dstack([rgb, alpha]))
    np.testing.assert_array_equal(image_to_array(raw_image(np.dstack([rgb[..., ::-1], alpha]), "bgra8", pad)),
                                  np.dstack([rgb, alpha]))
    np.testing.assert_array_equal(image_to_array(raw_image(rgb[..., 0], "mono8", pad)), rgb[..., 0])
    mono16 = rgb[..., 0].astype(np.uint16) * 257
    np.testing.assert_array_equal(image_to_array(raw_image(mono16.astype("<u2"), "mono16", pad)), mono16)
    np.testing.assert_array_equal(image_to_array(raw_image(mono16.astype(">u2"), "mono16", pad, True)), mono16)


@pytest.mark.parametrize("encoding,order", [("yuv422", "UYVY"), ("yuv422_yuy2", "YUYV")])
def test_yuv422_against_bt601(encoding, order):
    rng = np.random.default_rng(2)
    h, w = 4, 8
    y = rng.integers(16, 236, size=(h, w)).astype(np.float64)
    u = rng.integers(16, 241, size=(h, w // 2)).astype(np.float64)
    v = rng.integers(16, 241, size=(h, w // 2)).astype(np.float64)
    packed = np.zeros((h, w // 2, 4), np.uint8)
    slots = {"Y0": y[:, 0::2], "Y1": y[:, 1::2], "U": u, "V": v}
    names = ["U", "Y0", "V", "Y1"] if order == "UYVY" else ["Y0", "U", "Y1", "V"]
    for i, name in enumerate(names):
        packed[..., i] = slots[name]
    got = image_to_array(raw_image(packed.reshape(h, w, 2), encoding)).astype(np.float64)
    # BT.601 limited range, the reference written out by hand
    uu, vv = np.repeat(u, 2, axis=1) - 128, np.repeat(v, 2, axis=1) - 128
    yy = 1.164 * (y - 16)
    expected = np.stack([yy + 1.596 * vv, yy - 0.392 * uu - 0.813 * vv, yy + 2.017 * uu], axis=-1)
    assert np.abs(got - np.clip(expected, 0, 255)).max() <= 3


def test_compressed_jpeg_and_png(rgb):
    for fmt, ext in (("png", ".png"), ("jpeg", ".jpg"), ("bgr8; jpeg compressed bgr8", ".jpg")):
        ok, buf = cv2.imencode(ext, rgb[..., ::-1])
        msg = roundtrip(T["sensor_msgs/msg/CompressedImage"](header=header(), format=fmt, data=buf.reshape(-1)))
        got = compressed_to_array(msg)
        expected = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        np.testing.assert_array_equal(got, expected)
        if ext == ".png":
            np.testing.assert_array_equal(got, rgb)


def test_refusals_name_what_is_supported(rgb):
    with pytest.raises(UnsupportedEncodingError, match="supported: rgb8, bgr8, rgba8, bgra8, mono8"):
        image_to_array(raw_image(rgb, "bayer_rggb8"))
    bad = T["sensor_msgs/msg/CompressedImage"](header=header(), format="16UC1; compressedDepth png",
                                               data=np.zeros(4, np.uint8))
    with pytest.raises(UnsupportedEncodingError, match="jpeg, png"):
        compressed_to_array(bad)
    short = T["sensor_msgs/msg/Image"](header=header(), height=6, width=10, encoding="rgb8", is_bigendian=0,
                                       step=30, data=np.zeros(100, np.uint8))
    with pytest.raises(CorruptMessageError, match="needs 180 bytes, got 100"):
        image_to_array(short)
    junk = T["sensor_msgs/msg/CompressedImage"](header=header(), format="jpeg", data=np.arange(50, dtype=np.uint8))
    with pytest.raises(CorruptMessageError, match="does not decode"):
        compressed_to_array(junk)


def test_depth_and_label_images():
    depth = np.array([[0.0, 1.2345678], [65.6, 3.0004]], np.float32)
    msg = roundtrip(depth_image(MAKE, header(), depth, "32FC1"))
    assert (msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian) == ("32FC1", 2, 2, 8, 0)
    np.testing.assert_array_equal(np.frombuffer(msg.data.tobytes(), "<f4").reshape(2, 2), depth)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 345, "cam")
    mm = roundtrip(depth_image(MAKE, header(), depth, "16UC1"))
    assert (mm.encoding, mm.step) == ("16UC1", 4)
    np.testing.assert_array_equal(np.frombuffer(mm.data.tobytes(), "<u2").reshape(2, 2), [[0, 1235], [65535, 3000]])
    labels = np.array([[0, 4], [2, 1]], np.int32)
    lab = roundtrip(label_image(MAKE, header(), labels, num_classes=5))
    assert lab.encoding == "mono8"
    np.testing.assert_array_equal(lab.data.reshape(2, 2), labels)
    lab16 = roundtrip(label_image(MAKE, header(), labels + 300, num_classes=400))
    assert lab16.encoding == "mono16"
    np.testing.assert_array_equal(np.frombuffer(lab16.data.tobytes(), "<u2").reshape(2, 2), labels + 300)


def info_msg(k, size, p=None, roi=(0, 0, 0, 0), binning=(0, 0)):
    p = np.hstack([k, np.zeros((3, 1))]) if p is None else p
    region = T["sensor_msgs/msg/RegionOfInterest"](x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3],
                                                   do_rectify=False)
    return roundtrip(T["sensor_msgs/msg/CameraInfo"](
        header=header(), height=size[0], width=size[1], distortion_model="plumb_bob", d=np.array([0.1, -0.2, 0, 0, 0]),
        k=np.asarray(k, float).reshape(9), r=np.eye(3).reshape(9), p=np.asarray(p, float).reshape(12),
        binning_x=binning[0], binning_y=binning[1], roi=region))


K = np.array([[100.0, 0.0, 63.5], [0.0, 90.0, 47.5], [0.0, 0.0, 1.0]])


def test_camera_info_rescaled_for_a_non_square_resize():
    # 96x128 image -> 48x80 depth: sx = 80/128 = 0.625, sy = 48/96 = 0.5, pixel centres aligned
    camera = Camera.from_camera_info(info_msg(K, (96, 128))).resized((48, 80))
    expected_k = [[100 * 0.625, 0, (63.5 + 0.5) * 0.625 - 0.5], [0, 90 * 0.5, (47.5 + 0.5) * 0.5 - 0.5], [0, 0, 1]]
    np.testing.assert_allclose(camera.k, expected_k)  # fx 62.5, cx 39.5, fy 45, cy 23.5
    np.testing.assert_allclose(camera.k, [[62.5, 0, 39.5], [0, 45, 23.5], [0, 0, 1]])
    msg = roundtrip(camera_info(MAKE, header(), camera))
    assert (msg.height, msg.width, msg.binning_x, msg.roi.width) == (48, 80, 0, 0)
    np.testing.assert_allclose(msg.k.reshape(3, 3), expected_k)
    np.testing.assert_allclose(msg.p.reshape(3, 4)[:, :3], expected_k)
    np.testing.assert_allclose(msg.d, [0.1, -0.2, 0, 0, 0])


def test_camera_info_roi_binning_and_stereo_p():
    # full sensor 480x640, ROI x 100..420 (320 wide), y 40..280 (240 high), binned 2x2 -> a 120x160 image
    p = np.array([[500.0, 0, 320, -25.0], [0, 500.0, 240, 3.0], [0, 0, 1, 0]])
    info = info_msg(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), (480, 640), p,
                    roi=(100, 40, 320, 240), binning=(2, 2))
    camera = Camera.from_camera_info(info)
    assert camera.size == (120, 160)
    # cx: (320 - 100 + 0.5) / 2 - 0.5 = 109.75; cy: (240 - 40 + 0.5) / 2 - 0.5 = 99.75; f / 2
    np.testing.assert_allclose(camera.k, [[250, 0, 109.75], [0, 250, 99.75], [0, 0, 1]])
    np.testing.assert_allclose(camera.p, [[250, 0, 109.75, -12.5], [0, 250, 99.75, 1.5], [0, 0, 1, 0]])
    # independent check: a 3D point projects through the new P where the full-res pixel lands after crop+bin+resize
    point = np.array([0.3, -0.2, 2.0, 1.0])
    u, v, w = p @ point
    u_full, v_full = u / w, v / w
    small = camera.resized((60, 100))
    u2, v2, w2 = small.p @ point
    u_img, v_img = (u_full - 100 + 0.5) / 2 - 0.5, (v_full - 40 + 0.5) / 2 - 0.5
    np.testing.assert_allclose([u2 / w2, v2 / w2], [(u_img + 0.5) * 100 / 160 - 0.5, (v_img + 0.5) * 60 / 120 - 0.5])


def test_uncalibrated_camera_info_is_refused():
    with pytest.raises(Exception, match="no calibration"):
        Camera.from_camera_info(info_msg(np.zeros((3, 3)), (96, 128)))


def test_point_cloud_matches_the_intrinsics():
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.5, 5.0, size=(48, 80)).astype(np.float32)
    depth[5, 7] = 0.0  # no depth
    image = rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
    camera = Camera.from_intrinsics(62.5, 45.0, 39.5, 23.5, (48, 80))
    msg = roundtrip(point_cloud(MAKE, header(), depth, camera, image))
    assert (msg.height, msg.width, msg.point_step, msg.row_step, msg.is_dense) == (48, 80, 16, 1280, False)
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == \
        [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("rgb", 12, 7, 1)]
    cloud = np.frombuffer(msg.data.tobytes(), "<f4").reshape(48, 80, 4)
    assert np.isnan(cloud[5, 7, :3]).all()
    valid = depth > 0
    rows, cols = np.nonzero(valid)
    x, y, z = cloud[rows, cols, 0], cloud[rows, cols, 1], cloud[rows, cols, 2]
    np.testing.assert_allclose(z, depth[valid])
    # each point projects back onto its own pixel
    np.testing.assert_allclose(62.5 * x / z + 39.5, cols, atol=1e-3)
    np.testing.assert_allclose(45.0 * y / z + 23.5, rows, atol=1e-3)
    packed = cloud[..., 3].copy().view("<u4")
    np.testing.assert_array_equal((packed >> 16) & 255, image[..., 0])
    np.testing.assert_array_equal(packed & 255, image[..., 2])


def test_result_messages_resize_and_skip_without_camera():
    depth = np.full((96, 128), 2.0, np.float32)
    camera = Camera.from_camera_info(info_msg(K, (96, 128)))
    out = result_messages(MAKE, header(), depth, camera, ResultOptions(points=True, depth_size=(48, 80)))
    assert sorted(out) == ["camera_info", "image", "points"]
    assert (out["image"].height, out["image"].width, out["camera_info"].width, out["points"].width) == (48, 80, 80, 80)
    assert list(result_messages(MAKE, header(), depth, None, ResultOptions(points=True))) == ["image"]
    labels = np.zeros((96, 128), np.int32)
    assert sorted(result_messages(MAKE, header(), labels, camera, ResultOptions(points=True))) == \
        ["camera_info", "image"]


def test_resize_nearest_keeps_values():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(resize_nearest(a, (6, 8)), np.repeat(np.repeat(a, 2, 0), 2, 1))
    assert set(np.unique(resize_nearest(a, (2, 3)))) <= set(a.reshape(-1))


def test_result_options_follow_the_model_contract():
    from types import SimpleNamespace

    from xnet_edge.errors import UsageError

    relative = SimpleNamespace(output_kind="relative-depth", num_classes=None)
    assert ResultOptions().for_model(relative) == ResultOptions()
    for options in (ResultOptions(depth_encoding="16UC1"), ResultOptions(points=True)):
        with pytest.raises(UsageError, match="predicts relative-depth, not metres"):
            options.for_model(relative)
    seg = SimpleNamespace(output_kind="segmentation", num_classes=300)
    assert ResultOptions(points=True).for_model(seg).num_classes == 300
    metric = SimpleNamespace(output_kind="metric-depth", num_classes=None)
    assert ResultOptions(depth_encoding="16UC1", points=True).for_model(metric).points
