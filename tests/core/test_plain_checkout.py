"""A checkout used without installing it (PYTHONPATH=.) imports like an install."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import xnet_edge, xnet_edge.kernels, xnet_edge.calibration
from xnet_edge.calibration.trt_cache import read_trt_cache
from xnet_edge.kernels.reference import bridge_reference
print(xnet_edge.__file__)
print(xnet_edge.kernels.__file__)
print(xnet_edge.calibration.__file__)
print(sys.modules[read_trt_cache.__module__].__file__)
"""


def test_plain_checkout_finds_kernels_and_calibration():
    # -S: no site processing, so the editable install's import hook is not loaded; the
    # dependencies (torch, numpy) stay importable through PYTHONPATH.
    site_dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *site_dirs]))
    done = subprocess.run([sys.executable, "-S", "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(ROOT / "xnet_edge" / "__init__.py"), str(ROOT / "kernels" / "__init__.py"),
                                   str(ROOT / "calibration" / "__init__.py"),
                                   str(ROOT / "calibration" / "trt_cache.py")]
