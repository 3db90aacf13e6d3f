"""Checkpoints that ship with the package, and the ``"demo"`` / ``"demo:MODEL"`` specs that name them.

Only the standard library runs here: the runtime path recognizes a demo spec
(and routes it to the PyTorch backend) without importing torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from .errors import UsageError

#: The model a bare ``"demo"`` names (``load_checkpoint("demo")``, ``xnet-edge infer demo``, ``make demo``).
DEMO_MODEL = "xnet_lite0"
#: Folder of checkpoints that ship with the package (``checkpoint="demo"``).
BUNDLED_CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
_SUFFIX = "_demo.safetensors"


def is_demo(spec: Union[str, os.PathLike]) -> bool:
    """True for ``"demo"`` and ``"demo:MODEL"`` (a string check, never a file lookup)."""
    text = str(spec)
    return text == "demo" or text.startswith("demo:")


def bundled_demo_models() -> list[str]:
    """Names of the models whose demo checkpoint ships with the package."""
    return sorted(p.name.removesuffix(_SUFFIX) for p in BUNDLED_CHECKPOINTS.glob(f"*{_SUFFIX}"))


def demo_model_name(spec: str, bundled: Optional[list[str]] = None) -> str:
    """The model a ``"demo"`` / ``"demo:MODEL"`` spec names.

    Args:
        spec: "demo" (:data:`DEMO_MODEL`, or the only bundled model) or "demo:MODEL".
        bundled: model names with a bundled demo checkpoint (default: :func:`bundled_demo_models`).

    Raises:
        UsageError: no demo checkpoint ships for the model (or none at all).
    """
    bundled = bundled_demo_models() if bundled is None else bundled
    name = spec.split(":", 1)[1] if ":" in spec else None
    if name is None:
        if DEMO_MODEL in bundled:
            name = DEMO_MODEL
        elif len(bundled) == 1:
            name = bundled[0]
        else:
            raise UsageError(f"'demo' is ambiguous or unavailable; bundled demo checkpoints: "
                             f"{', '.join(bundled) or 'none'} (use demo:MODEL)")
    if name not in bundled:
        raise UsageError(f"no demo checkpoint ships for {name!r}; demo checkpoints exist for: "
                         f"{', '.join(bundled) or 'none'}")
    return name


def demo_checkpoint(spec: str = "demo") -> Path:
    """The bundled checkpoint file a ``"demo"`` / ``"demo:MODEL"`` spec names.

    Raises:
        UsageError: see :func:`demo_model_name`.
    """
    return BUNDLED_CHECKPOINTS / f"{demo_model_name(spec)}{_SUFFIX}"
