"""``xnet-edge`` command line.

Each sub-command lives in a module ``xnet_edge/cli/cmd_<name>.py`` that defines
``register(subparsers)``; modules are discovered, so adding a command touches
no shared file. Command modules keep heavy imports inside their handlers, so
``xnet-edge --help`` stays fast.

Errors: an :class:`~xnet_edge.errors.XnetEdgeError` prints one line and exits
with its ``exit_code`` (2 for usage errors, 1 for runtime failures); so do argument
errors (one line, exit 2), file system errors (the path and the cause, exit 1), running out
of memory (exit 1) and a missing optional package (exit 1, naming the extra to install).
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


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (not the whole usage block), exit code 2.

    Sub-command parsers inherit the class, so ``xnet-edge infer --format bogus`` prints
    ``xnet-edge infer: error: ... (see: xnet-edge infer --help)``.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered sub-command."""
    parser = OneLineParser(prog=PROG, description="×Net depth models from PyTorch to robots.")
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
    except ImportError as exc:  # an optional package this command needs is missing
        from .._deps import missing_dependency

        missing = missing_dependency(exc)
        if missing is None:
            raise
        print(f"{PROG}: error: {missing}", file=sys.stderr)
        return missing.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the command reads or writes: name it and the cause, no traceback
        from ..io_utils import describe_os_error

        print(f"{PROG}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: error: out of memory; use a smaller input size, batch or dataset", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
