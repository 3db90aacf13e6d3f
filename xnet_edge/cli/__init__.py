"""``xnet-edge`` command line.

Each sub-command lives in a module ``xnet_edge/cli/cmd_<name>.py`` that defines
``register(subparsers)``; modules are discovered, so adding a command touches
no shared file. Command modules keep heavy imports inside their handlers, so
``xnet-edge --help`` stays fast.

Errors: an :class:`~xnet_edge.errors.XnetEdgeError` prints one line and exits
with its ``exit_code`` (2 for usage errors, 1 for runtime failures).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Optional, Sequence

from .._version import __version__
from ..errors import XnetEdgeError

PROG = "xnet-edge"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(prog=PROG, description="×Net depth models from PyTorch to robots.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except XnetEdgeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
