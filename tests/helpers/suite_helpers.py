"""What the whole test suite imports: ``from suite_helpers import load_module``.

pytest runs with ``--import-mode=importlib``, so neither ``tests/`` nor ``benchmarks/`` is on
``sys.path``: the helper files beside the tests (fakes, captured samples, engine-folder
builders) and the benchmark scripts under test are loaded from their paths. Only this folder
is put on ``sys.path`` (``pythonpath`` in pytest.ini): the area folders of ``tests/`` would
otherwise shadow packages of the same name (``kernels``, ``data``, ``models``). Scripts the
tests run in a subprocess add this folder to their ``sys.path`` themselves.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Union

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent


def load_module(path: Union[str, os.PathLike], name: Optional[str] = None) -> ModuleType:
    """Import a Python file once; later calls with the same name return the same module.

    The module is in ``sys.modules`` while it runs (dataclasses and pickling look it up there).

    Args:
        path: the file; a relative path is taken from ``tests/``.
        name: its ``sys.modules`` name (default: ``xnet_edge_tests_`` + the path from the
            repository root, e.g. ``xnet_edge_tests_tests_runtime_trt_fakes``).

    Returns:
        The module.
    """
    path = Path(path)
    path = (path if path.is_absolute() else TESTS / path).resolve()
    if name is None:
        name = "_".join(("xnet_edge_tests", *path.relative_to(REPO).with_suffix("").parts))
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def load_benchmark(script: str) -> ModuleType:
    """``benchmarks/<script>.py`` as a module (see :func:`load_module`)."""
    return load_module(REPO / "benchmarks" / f"{script}.py")
