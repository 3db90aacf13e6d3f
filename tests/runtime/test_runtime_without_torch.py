"""The ONNX Runtime and TensorRT paths (and ``xnet-edge infer`` on them) must run on a robot
without torch: prove it in a subprocess where ``import torch`` (and timm) fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.modules["torch"] = None   # `import torch` now raises ImportError
    sys.modules["timm"] = None
    import numpy as np
    from xnet_edge.runtime import Runtime
    from xnet_edge.errors import MissingDependencyError

    onnx_path, helpers, plan_path, work = sys.argv[1:5]
    image = np.random.default_rng(0).integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
    result = {}
    with Runtime(onnx_path) as rt:
        result["onnx"] = rt.predict(image).tolist()

    import cv2
    from pathlib import Path
    from xnet_edge.cli import main
    cv2.imwrite(str(Path(work) / "frame.png"), image[:, :, ::-1])
    np.save(Path(work) / "frame_gt.npy", np.full(image.shape[:2], 2.0, np.float32))
    result["cli_rc"] = main(["infer", onnx_path, "--input", str(Path(work) / "frame.png"), "--output",
                             str(Path(work) / "out"), "--gt", str(Path(work) / "frame_gt.npy"), "--no-progress",
                             "--format", "npy,png16,color"])

    sys.path.insert(0, helpers)  # the suite's tests/helpers
    from suite_helpers import load_module
    fakes, folders = load_module("runtime/trt_fakes.py"), load_module("runtime/engine_folders.py")
    fakes.install(sys.modules, fakes.FakeGPU())
    from pathlib import Path
    folder = folders.make_folder(Path(work) / "engine", Path(plan_path), "tensorrt-plan", Path(onnx_path),
                                 target="jetson-orin-nano", runtime={"tensorrt": {}})
    with Runtime(folder, cuda_graph=True) as rt:
        result["tensorrt"] = rt.predict(image).tolist()
        result["graph"] = rt.backend.uses_cuda_graph
    try:
        Runtime("demo")
    except MissingDependencyError as exc:
        result["checkpoint_error"] = str(exc)
    result["torch_loaded"] = sys.modules.get("torch") is not None
    result["timm_loaded"] = sys.modules.get("timm") is not None
    result["models_loaded"] = "xnet_edge.models" in sys.modules
    print(json.dumps(result))
""")


def test_onnx_and_tensorrt_paths_never_import_torch(tiny_onnx, tiny_model, fakes, tmp_path):
    plan = tmp_path / "model.plan"
    plan.write_bytes(fakes.fake_plan())
    args = [str(tiny_onnx), str(HERE.parent / "helpers"), str(plan), str(tmp_path)]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["torch_loaded"] and not result["timm_loaded"] and not result["models_loaded"]
    assert result["cli_rc"] == 0 and (tmp_path / "out" / "frame_color.png").is_file()
    assert "torch" in result["checkpoint_error"]  # the checkpoint backend says what is missing
    assert result["graph"] is True
    image = np.random.default_rng(0).integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
    np.testing.assert_allclose(np.array(result["onnx"], np.float32), tiny_model.predict(image), rtol=1e-4, atol=1e-4)
    assert np.array(result["tensorrt"]).shape == (48, 80)
