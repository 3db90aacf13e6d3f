"""The bundled segmentation demo: found by name, fp16 on disk, and really trained on the scenes' labels."""

import numpy as np
import torch

from xnet_edge import create_model, load_checkpoint
from xnet_edge.data.seg_readers import SyntheticSegmentation
from xnet_edge.data.synthetic import CLASS_NAMES
from xnet_edge.eval import evaluate_segmentation
from xnet_edge.models import read_checkpoint
from xnet_edge.bundled import bundled_demo_models, demo_checkpoint, demo_model_name


def test_segmentation_demo_loads_by_name():
    assert bundled_demo_models() == ["xnet_lite0", "xnet_lite0_seg"]
    assert demo_model_name("demo") == "xnet_lite0"  # the bare spec still names the depth demo
    model = create_model("xnet_lite0_seg", checkpoint="demo")
    assert model.config == read_checkpoint(demo_checkpoint("demo:xnet_lite0_seg"))[0]
    assert model.config.task == "segmentation" and model.config.num_classes == len(CLASS_NAMES)
    assert model.config.extra["class_names"] == list(CLASS_NAMES)
    path = demo_checkpoint("demo:xnet_lite0_seg")
    _, tensors, meta = read_checkpoint(path)
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert path.stat().st_size < 13_000_000
    assert "--task segmentation" in meta["command"]
    # the "demo:MODEL" spelling names the same file where a checkpoint is asked for (train --init)
    named = create_model("xnet_lite0_seg", checkpoint="demo:xnet_lite0_seg")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), named.state_dict().values()))


def test_segmentation_demo_beats_the_majority_class_on_held_out_scenes():
    model = load_checkpoint("demo:xnet_lite0_seg").eval()  # the load_checkpoint spelling of the same file
    torch.set_num_threads(1)
    scenes = SyntheticSegmentation(3, (256, 320), seed=20_001)  # never trained or validated on
    report = evaluate_segmentation(model, scenes, num_classes=6, progress=False)
    wall = evaluate_segmentation(lambda rgb: np.full(rgb.shape[:2], 1), scenes, num_classes=6, progress=False)
    assert report.metrics["miou"] > 0.5 > 0.15 > wall.metrics["miou"]
    assert report.metrics["pixel_accuracy"] > 0.75
