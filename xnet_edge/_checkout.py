"""A plain checkout on ``PYTHONPATH`` works like an install: ``xnet_edge.kernels`` and ``xnet_edge.calibration``.

``setup.py`` installs the repository's top-level ``kernels/`` and ``calibration/`` folders as
sub-packages of ``xnet_edge``. A checkout used without installing it has them beside the
package folder instead, where ``import xnet_edge.kernels`` would not find them. When nothing else
provides those names (an install, editable or not, does), :func:`map_checkout_packages` adds an
import finder that serves them from the checkout's folders.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Optional

#: top-level folders of the repository that install as ``xnet_edge.<name>``
MAPPED_FOLDERS = ("kernels", "calibration")


class CheckoutFinder(importlib.abc.MetaPathFinder):
    """Finds ``xnet_edge.<name>`` packages in the checkout's top-level ``<name>/`` folders."""

    def __init__(self, folders: dict[str, Path]):
        self.folders = folders

    def find_spec(self, fullname: str, path=None, target=None) -> Optional[importlib.machinery.ModuleSpec]:
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


def map_checkout_packages(package: str, package_dir: Path) -> None:
    """Serve ``package.kernels`` / ``package.calibration`` from a checkout when they are not installed.

    Args:
        package: the package's import name (``"xnet_edge"``).
        package_dir: its folder; the checkout is its parent (the folder with ``setup.py``).
    """
    root = package_dir.parent
    if not (root / "setup.py").is_file():
        return
    folders = {f"{package}.{name}": root / name for name in MAPPED_FOLDERS if (root / name / "__init__.py").is_file()}
    missing = {name: folder for name, folder in folders.items() if importlib.util.find_spec(name) is None}
    if missing:
        sys.meta_path.append(CheckoutFinder(missing))
