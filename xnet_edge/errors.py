"""Exception hierarchy: every error xnet-edge raises on purpose derives from XnetEdgeError.

The CLI turns these into one-line messages and an exit code (2 for usage errors,
1 for runtime failures) instead of a traceback.
"""

from __future__ import annotations


class XnetEdgeError(Exception):
    """Root of all xnet-edge errors."""

    exit_code = 1


class UsageError(XnetEdgeError, ValueError):
    """The user asked for something invalid (bad name, size, flag or path)."""

    exit_code = 2


class InputSizeError(UsageError):
    """An input size the model cannot take; the message names a valid one."""


class CheckpointError(XnetEdgeError):
    """A checkpoint is missing, corrupt, tampered with or does not fit the model."""

    exit_code = 2


class MissingDependencyError(XnetEdgeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Args:
        module: the import name that failed (``"tensorrt"``).
        extra: the setup.py extra that provides it (``"trt"``), or None.
        hint: extra advice, e.g. where the package comes from on a Jetson.
        feature: what needs it (``"xnet-edge export"``); default "this feature".
    """

    def __init__(self, module: str, extra: str | None = None, hint: str | None = None, *,
                 feature: str | None = None):
        self.module = module
        self.extra = extra
        msg = f"'{module}' is required for {feature or 'this feature'} but is not installed"
        if extra:
            msg += f": pip install 'xnet-edge[{extra}]'"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class ContractError(UsageError):
    """A model file does not follow the xnet-edge ONNX contract (names, shapes or metadata)."""


class OutputError(XnetEdgeError):
    """An output cannot be written (read-only or full disk, no permission, a folder in the way)."""
