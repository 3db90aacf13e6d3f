"""The command line sits on top: library code and benchmark scripts import nothing from ``xnet_edge.cli``
(shared pieces such as ``print_table`` and ``size_arg`` live in the library). Benchmarks may still run
a command through its entry point, ``xnet_edge.cli.main``, as a user would."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# folder on disk -> the package it installs as (benchmarks/ holds scripts, not a package)
FOLDERS = {"xnet_edge": "xnet_edge", "kernels": "xnet_edge.kernels", "calibration": "xnet_edge.calibration",
           "benchmarks": None}


def _imports(path: Path, package: str | None) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import statement in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, module] if module else parts)
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def _cli_imports(folder: str, package: str | None) -> list[str]:
    bad = []
    for path in sorted((REPO / folder).rglob("*.py")):
        rel = path.relative_to(REPO / folder)
        if folder == "xnet_edge" and (rel.parts[0] == "cli" or path.name == "__main__.py"):
            continue  # the CLI itself, and `python -m xnet_edge` / `python -m xnet_edge.ros2`
        here = None
        if package is not None:
            here = ".".join([package, *rel.parent.parts]) if rel.parent.parts else package
        for line, module, names in _imports(path, here):
            if module != "xnet_edge.cli" and not module.startswith("xnet_edge.cli."):
                continue
            if folder == "benchmarks" and module == "xnet_edge.cli" and names == ["main"]:
                continue  # running a command, as a user would
            bad.append(f"{path.relative_to(REPO)}:{line} imports {module} {names}")
    return bad


def test_library_and_benchmarks_do_not_import_cli_helpers():
    bad = [entry for folder, package in FOLDERS.items() for entry in _cli_imports(folder, package)]
    assert bad == []


def test_the_check_sees_relative_and_absolute_imports(tmp_path):
    (tmp_path / "m.py").write_text("from ..cli.common import size_arg\nimport xnet_edge.cli.common\n"
                                   "from xnet_edge.cli import main\nfrom ..tables import print_table\n")
    found = [(m, n) for _, m, n in _imports(tmp_path / "m.py", "xnet_edge.data")]
    assert found == [("xnet_edge.cli.common", ["size_arg"]), ("xnet_edge.cli.common", []),
                     ("xnet_edge.cli", ["main"]), ("xnet_edge.tables", ["print_table"])]
