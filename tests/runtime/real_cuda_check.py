"""Every cudart call of the project, through NVIDIA's real cuda-python argument parsing.

Run as a script (``python real_cuda_check.py``) in a process whose ``sys.path`` holds the
cuda-python release under test (the test sets PYTHONPATH). The fake device of
``trt_fakes`` stands in for the GPU, but each call is first made on the real binding
with the same arguments: a wrong arity or type raises TypeError there. Prints one JSON
line with what was checked; exits non-zero on any refused call.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def _fakes():
    sys.path.insert(0, str(HERE.parent / "helpers"))  # run as a script: the suite's tests/helpers
    from suite_helpers import load_module

    return load_module(HERE / "trt_fakes.py")


def project_cudart_names(real) -> set[str]:
    """cudart functions the project's sources name (``cudaXxx`` identifiers that are callables)."""
    names = set()
    for path in (REPO / "xnet_edge").rglob("*.py"):
        names |= set(re.findall(r"\b(cuda[A-Z]\w+)\b", path.read_text()))
    return {n for n in names if callable(getattr(real, n, None)) and not isinstance(getattr(real, n), type)}


def main() -> int:
    warnings.simplefilter("ignore")
    from xnet_edge.cuda_import import cuda_versions, require_cudart
    from xnet_edge.runtime.cuda_mem import CudaDriverError, open_cuda_memory

    real = require_cudart()
    report = {"module": real.__name__, "bindings_cuda": cuda_versions(real)["bindings_cuda"]}
    # 1. the real binding on this GPU-less machine: a one-line driver error, never a TypeError
    try:
        open_cuda_memory("cuda-python")
        report["open"] = "opened"
    except CudaDriverError as exc:
        report["open"] = str(exc)

    # 2. every call the project makes, checked by the real parser, on the fake device
    fakes = _fakes()
    gpu = fakes.FakeGPU()
    modules: dict = {}
    fakes.install(modules, gpu, real=real)
    rt = modules["cuda.bindings.runtime"]
    sys.modules.update({k: v for k, v in modules.items() if v is not None})
    sys.modules[real.__name__] = rt  # the project imports the binding by its real name

    from xnet_edge.bench.benchmark import enable_spin_wait
    from xnet_edge.bench.memory import cuda_used_mb
    from xnet_edge.engine.trt_calibrator import make_entropy_calibrator
    from xnet_edge.platform import gpu_device as platform_gpu
    from xnet_edge.platform import machine_info
    from xnet_edge.runtime.backend_trt import TensorRTBackend
    from xnet_edge.runtime.timing import HookList

    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "model.plan"
        plan.write_bytes(fakes.fake_plan())
        backend = TensorRTBackend(plan, cuda_graph=True, cuda_api="cuda-python")
        batch = np.ones((2, 3, 64, 96), np.float32)
        times = []
        hooks = HookList([lambda stage, s: times.append(stage)])
        out = backend.run(batch, hooks)
        np.testing.assert_allclose(out, fakes.reference_network(batch))
        assert backend.uses_cuda_graph, "graph capture did not complete"
        backend.run(np.ones((1, 3, 64, 96), np.float32), hooks)  # re-capture: destroys the old graph
        backend.close()
        calib = make_entropy_calibrator(Path(tmp) / "c.cache", [batch], batch_shape=batch.shape)
        calib.get_batch(["image"])
        calib.close()
    enable_spin_wait()
    cuda_used_mb()
    machine_info()
    cuda_versions(rt)
    platform_gpu()
    missing = project_cudart_names(real) - set(rt.calls)
    report.update(calls=sorted(set(rt.calls)), missing=sorted(missing), refused=rt.calls_refused)
    print(json.dumps(report))
    return 1 if missing or rt.calls_refused else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # noqa: BLE001 - the test reads one JSON line either way
        import traceback

        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)
