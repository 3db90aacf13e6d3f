"""Segmentation through ``xnet-edge infer``: label PNG / .npy / palette image against ONNX Runtime."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.errors import UsageError
from xnet_edge.runtime.outputs import OutputWriter, colorize_labels, palette, parse_formats


@pytest.fixture
def seg_onnx(tiny_seg_onnx):
    return tiny_seg_onnx


def _ort_labels(path, rgb):
    """Argmax of ONNX Runtime's logits for an image already at the network size (no letterbox)."""
    import json

    import onnx
    import onnxruntime as ort

    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    pre = json.loads(meta["xnet_edge.preprocessing"])
    x = (rgb.astype(np.float32) / 255.0 - np.array(pre["mean"], np.float32)) / np.array(pre["std"], np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"image": x.transpose(2, 0, 1)[None].astype(np.float32)})[0][0]
    return logits.argmax(0)


def _write_png(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_infer_writes_labels_npy_and_palette_matching_onnxruntime(seg_onnx, tmp_path, capsys):
    rgb = np.random.default_rng(0).integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    _write_png(tmp_path / "frame.png", rgb)
    out = tmp_path / "out"
    rc = main(["infer", str(seg_onnx), "--input", str(tmp_path / "frame.png"), "--output", str(out),
               "--no-progress"])
    assert rc == 0, capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["frame_labels.npy", "frame_labels.png", "frame_seg_color.png"]
    expected = _ort_labels(seg_onnx, rgb)
    assert len(np.unique(expected)) > 1  # a real test: several classes appear
    ids = np.load(out / "frame_labels.npy")
    assert ids.dtype == np.uint8
    np.testing.assert_array_equal(ids, expected)
    png = cv2.imread(str(out / "frame_labels.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.ndim == 2
    np.testing.assert_array_equal(png, expected)
    color = cv2.imread(str(out / "frame_seg_color.png"))[:, :, ::-1]
    np.testing.assert_array_equal(color, palette(5)[expected])


def test_overlay_blends_the_palette_over_the_input(seg_onnx, tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    _write_png(tmp_path / "a.png", rgb)
    rc = main(["infer", str(seg_onnx), "--input", str(tmp_path / "a.png"), "--output", str(tmp_path / "o"),
               "--format", "seg-color", "--overlay", "--no-progress"])
    assert rc == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["a_seg_color.png"]
    blended = cv2.imread(str(tmp_path / "o" / "a_seg_color.png"))[:, :, ::-1].astype(np.int32)
    expected = 0.5 * rgb + 0.5 * palette(5)[_ort_labels(seg_onnx, rgb)]
    assert np.abs(blended - expected).max() <= 1


def test_depth_formats_on_a_segmentation_model_are_refused(seg_onnx, tmp_path, capsys):
    _write_png(tmp_path / "a.png", np.zeros((64, 96, 3), np.uint8))
    rc = main(["infer", str(seg_onnx), "--input", str(tmp_path / "a.png"), "--output", str(tmp_path / "o"),
               "--format", "npy,png16", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "segmentation model" in err and "labels" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    np.save(tmp_path / "a_depth.npy", np.ones((64, 96), np.float32))
    rc = main(["infer", str(seg_onnx), "--input", str(tmp_path / "a.png"), "--output", str(tmp_path / "o"),
               "--gt", str(tmp_path / "a_depth.npy"), "--no-progress"])
    assert rc == 2 and "xnet-edge eval" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_label_images_are_16_bit_beyond_256_classes(tmp_path):
    labels = np.array([[0, 255, 256], [299, 1, 7]])
    writer = OutputWriter(tmp_path, ["labels", "labels-npy"], num_classes=300)
    png, npy = writer.write("x", None, labels)
    read = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert read.dtype == np.uint16
    np.testing.assert_array_equal(read, labels)
    assert np.load(npy).dtype == np.uint16
    small = OutputWriter(tmp_path, ["labels"], num_classes=256).write("y", None, np.array([[0, 255]]))[0]
    assert cv2.imread(str(small), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_palette_is_the_fixed_voc_colour_map():
    # the PASCAL VOC colour map: background black, then the known first colours
    assert palette(6).tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]]
    assert palette(256)[255].tolist() == [224, 224, 192]  # VOC's "void" colour
    assert len({tuple(c) for c in palette(256)}) == 256
    np.testing.assert_array_equal(colorize_labels(np.array([[2, 0]])), [[[0, 128, 0], [0, 0, 0]]])


def test_format_names_are_checked():
    assert parse_formats("labels, seg-color") == ("labels", "seg-color")
    with pytest.raises(UsageError, match="mixes"):
        parse_formats("npy,labels")
    with pytest.raises(UsageError, match="labels-npy"):
        parse_formats("segmentation")
    writer = OutputWriter("unused", ["labels"])
    with pytest.raises(UsageError, match="depth model"):
        writer.bind("depth")
    assert OutputWriter("unused", None).bind("segmentation", 5).formats == ("labels", "labels-npy", "seg-color")
    assert OutputWriter("unused", None).bind("depth").formats == ("npy", "png16", "color")


def test_calibrate_build_bench_and_infer_work_unchanged_on_a_segmentation_export(seg_onnx, tmp_path, capsys):
    from skimage import data

    from xnet_edge.bench import validate_report
    from xnet_edge.runtime import Runtime

    # every layer INT8: the measured CPU-speed choice could keep this tiny model float
    assert main(["calibrate", str(seg_onnx), "--images", "builtin", "--no-speed-check",
                 "-o", str(tmp_path / "int8")]) == 0
    assert main(["build", str(tmp_path / "int8" / "model.int8.cpu.onnx"), "--target", "cpu",
                 "-o", str(tmp_path / "e8")]) == 0
    assert main(["build", str(seg_onnx), "--target", "cpu", "-o", str(tmp_path / "e32")]) == 0
    rc = main(["bench", str(tmp_path / "e32"), str(tmp_path / "e8"), "--end-to-end", "--warmup-ms", "20",
               "--duration-s", "0.2", "--iterations", "3", "--rounds", "1", "--json", str(tmp_path / "b.json"),
               "--quiet"])
    assert rc == 0, capsys.readouterr().err
    import json

    report = json.loads((tmp_path / "b.json").read_text())
    validate_report(report)
    assert [r["precision"] for r in report["results"]] == ["fp32", "int8"]
    image = data.astronaut()
    with Runtime(tmp_path / "e32") as fp32, Runtime(tmp_path / "e8") as int8:
        assert fp32.task == int8.task == "segmentation" and int8.num_classes == 5
        a, b = fp32.predict(image), int8.predict(image)
    assert a.shape == b.shape == image.shape[:2] and len(np.unique(a)) > 1
    assert (a == b).mean() > 0.85  # INT8 keeps the FP32 engine's class for most pixels


def test_undeclared_class_count_comes_from_the_logits(seg_onnx, tmp_path):
    """Metadata without num_classes: a fixed logits channel count (5) still gives 8-bit labels;
    with the channels dynamic too, the labels are 16-bit (nothing says they fit 8 bits)."""
    import json

    import onnx

    rgb = np.random.default_rng(4).integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    _write_png(tmp_path / "f.png", rgb)
    proto = onnx.load(str(seg_onnx))
    for prop in proto.metadata_props:
        if prop.key in ("xnet_edge.output", "xnet_edge.config"):
            data = json.loads(prop.value)
            data.pop("num_classes", None)
            prop.value = json.dumps(data)
    for fixed, dtype in ((True, np.uint8), (False, np.uint16)):
        channels = proto.graph.output[0].type.tensor_type.shape.dim[1]
        if fixed:
            channels.dim_value = 5
        else:
            channels.dim_param = "classes"
        onnx.save(proto, str(tmp_path / "bare.onnx"))
        out = tmp_path / f"o{fixed}"
        assert main(["infer", str(tmp_path / "bare.onnx"), "--input", str(tmp_path / "f.png"), "--output",
                     str(out), "--format", "labels", "--no-progress"]) == 0
        labels = cv2.imread(str(out / "f_labels.png"), cv2.IMREAD_UNCHANGED)
        assert labels.dtype == dtype
        np.testing.assert_array_equal(labels, _ort_labels(seg_onnx, rgb))
