"""GPU check of xnet-edge's TensorRT path: build small engines for this GPU and run them.

Meant to be called from ``benchmarks/gpu_check.sh`` on a machine with an NVIDIA GPU,
TensorRT (>= 10: xnet-edge's builder) and a CUDA binding. It exports the tiny
``test_xnet_effnet`` model (random weights, 64x96) to ONNX, builds an FP32 and an FP16
engine for the target profile of this GPU's compute capability with ``build_engine``,
opens each with ``Runtime`` and compares its depth on a real photo with ONNX Runtime's
on the same ONNX. One line per check; exit 1 if any fails, 0 with one "skipped" line
when the machine cannot run it (no GPU, no TensorRT, a TensorRT 8 that only trtexec drives).

    python benchmarks/check_tensorrt_build.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

# largest difference from ONNX Runtime allowed, as a fraction of max_depth
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}


def _skip(reason: str) -> int:
    print(f"check_tensorrt_build: skipped: {reason}")
    return 0


def _target_for(cc: str):
    from xnet_edge.targets import list_targets

    return next((t for t in list_targets() if t.is_gpu and t.compute_capability == cc), None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the ONNX and the engines (default: a temporary one)")
    args = parser.parse_args(argv)

    from xnet_edge._deps import available
    from xnet_edge.platform import machine_info
    from xnet_edge.targets import trt_generation

    if not available("tensorrt"):
        return _skip("TensorRT is not installed")
    machine = machine_info()
    if machine.get("compute_capability") is None:
        return _skip("no GPU visible to the CUDA bindings")
    if trt_generation(machine["tensorrt"] or "0.0") < 10:
        return _skip(f"TensorRT {machine['tensorrt']}: xnet-edge's builder needs >= 10 (bundles use trtexec)")
    target = _target_for(machine["compute_capability"])
    if target is None:
        return _skip(f"no target profile for compute capability {machine['compute_capability']}")

    import xnet_edge
    from skimage import data
    from xnet_edge.engine.build import build_engine
    from xnet_edge.engine.build_options import BuildOptions
    from xnet_edge.export import export_onnx
    from xnet_edge.runtime import Runtime

    out = args.out or Path(tempfile.mkdtemp(prefix="xnet-edge-trt-"))
    out.mkdir(parents=True, exist_ok=True)
    onnx = out / "model.onnx"
    export_onnx(xnet_edge.create_model("test_xnet_effnet", input_size=(64, 96)).eval(), onnx, batch=None)
    image = data.astronaut()
    with Runtime(onnx) as ort:
        reference, max_depth = ort.predict(image), ort.max_depth
    print(f"TensorRT {machine['tensorrt']}, {machine['gpu_name']} (cc {machine['compute_capability']}), "
          f"target {target.name}, driver CUDA {machine.get('cuda_driver')}")
    failed = 0
    for precision, tolerance in TOLERANCE.items():
        folder = out / f"engine-{precision}"
        try:
            build_engine(onnx, target, folder, BuildOptions(precision=precision, timing_cache=out / "timing.cache"))
            with Runtime(folder) as rt:
                depth = rt.predict(image)
                backend = rt.describe()
            diff = float(np.abs(depth - reference).max())
            ok = diff <= tolerance * max_depth
            print(f"{precision}: built and ran ({backend.get('cuda_binding')}); max |TensorRT - ONNX Runtime| "
                  f"{diff:.4g} m (bound {tolerance * max_depth:.3g}) -> {'ok' if ok else 'FAILED'}")
        except Exception as exc:  # noqa: BLE001 - report every failure as one line and go on
            ok = False
            print(f"{precision}: FAILED: {type(exc).__name__}: {exc}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
