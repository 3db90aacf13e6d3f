"""Every module imports with the heavy optional dependencies blocked (Polygraphy-style)."""

import json
import subprocess
import sys
import textwrap

BLOCKED = ["tensorrt", "pycuda", "cuda", "triton", "onnxruntime", "rosbags", "rclpy"]

SCRIPT = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    for name in {blocked!r}:
        sys.modules[name] = None  # makes `import name` raise ImportError
    names = []
    # kernels/ and calibration/ are mapped into xnet_edge at install time, not nested on disk
    for root in ("xnet_edge", "xnet_edge.kernels", "xnet_edge.calibration"):
        package = importlib.import_module(root)
        names.append(root)
        names += [i.name for i in pkgutil.walk_packages(package.__path__, root + ".")
                  if not i.name.endswith("__main__")]
    failed = {{}}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = repr(exc)
    loaded = sorted(m for m in {blocked!r} if sys.modules.get(m) is not None)
    print(json.dumps({{"modules": names, "failed": failed, "loaded": loaded}}))
""")


def _run(blocked):
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=blocked)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_module_imports_with_heavy_deps_blocked():
    result = _run(BLOCKED)
    assert len(result["modules"]) > 10
    assert result["failed"] == {}
    assert result["loaded"] == []


def test_import_xnet_edge_needs_only_numpy():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['timm'] = None\n"
            "import xnet_edge, xnet_edge.preprocess, xnet_edge.errors\n"
            "print(xnet_edge.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_missing_dependency_names_the_extra():
    code = ("import sys; sys.modules['tensorrt'] = None\n"
            "from xnet_edge._deps import require\n"
            "from xnet_edge.errors import MissingDependencyError\n"
            "try:\n    require('tensorrt')\nexcept MissingDependencyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'xnet-edge[trt]'" in out.stdout


def test_pytorch_side_names_the_torch_extra():
    code = ("import sys\nfor m in ('torch', 'timm'): sys.modules[m] = None\n"
            "from xnet_edge._deps import require, require_extra\n"
            "from xnet_edge.errors import MissingDependencyError\n"
            "for call in (lambda: require('torch'), lambda: require('timm'),\n"
            "             lambda: require_extra('torch', 'xnet-edge export')):\n"
            "    try:\n        call()\n    except MissingDependencyError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and all("pip install 'xnet-edge[torch]'" in line for line in lines), out
    assert lines[2].startswith("'torch' is required for xnet-edge export")
