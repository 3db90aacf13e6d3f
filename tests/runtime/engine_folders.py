"""Build engine folders (manifest + files) for tests, the way ``xnet-edge build`` lays them out."""

from __future__ import annotations

import shutil
from pathlib import Path

from xnet_edge.engine.manifest import new_manifest, write_manifest
from xnet_edge.io_utils import sha256_file

PRE = {"input_size": [64, 96], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
       "resize": "letterbox", "pad": "bottom-right"}


def machine(**overrides) -> dict:
    base = {"tensorrt": "10.3.0", "cuda": "12.6", "onnxruntime": "1.32.0", "gpu_name": "Fake Orin",
            "compute_capability": "8.7", "jetpack": None, "platform": "Linux", "python": "3.11"}
    base.update(overrides)
    return base


def make_folder(folder: Path, artifact: Path, kind: str, source_onnx: Path, *, runtime: dict | None = None,
                build_machine: dict | None = None, target: str = "cpu", preprocessing: dict | None = None,
                model: dict | None = None) -> Path:
    """Copy ``artifact`` and ``source_onnx`` into ``folder`` and write a manifest for them."""
    folder.mkdir(parents=True, exist_ok=True)
    art_name = "model.plan" if kind == "tensorrt-plan" else "model.opt.onnx"
    shutil.copyfile(artifact, folder / art_name)
    shutil.copyfile(source_onnx, folder / "model.onnx")
    shape = [-1, 3, 64, 96]
    manifest = new_manifest(
        artifact_kind=kind, artifact_sha256=sha256_file(folder / art_name), target={"name": target},
        precision="fp32", inputs=[{"name": "image", "shape": shape, "dtype": "float32"}],
        outputs=[{"name": "depth", "shape": [-1, 1, 64, 96], "dtype": "float32"}],
        preprocessing=preprocessing or PRE, model=model or {"name": "test_xnet_effnet", "max_depth": 10.0},
        onnx_file="model.onnx", onnx_sha256=sha256_file(folder / "model.onnx"), calibration_cache=None,
        build_machine=build_machine or machine(), runtime=runtime or {"onnxruntime": {
            "intra_op_num_threads": 1, "graph_optimization_level": "ORT_ENABLE_ALL",
            "providers": ["CPUExecutionProvider"]}})
    write_manifest(folder, manifest)
    return folder
