"""What :class:`~xnet_edge.engine.build_options.BuildOptions` and :class:`~xnet_edge.runtime.runtime_options.RuntimeOptions`
share: keyword arguments forwarded into the options object, unknown names refused, and the
checks on whole numbers whose messages name the command-line flag.

Standard library only: the runtime imports this without numpy.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Mapping, Optional, TypeVar

from .errors import UsageError

T = TypeVar("T", bound="OptionsMixin")


class OptionsMixin:
    """Mixed into the frozen option dataclasses."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def merged(cls: type[T], options: Optional[T], overrides: Mapping[str, Any], what: str) -> T:
        """``options`` (defaults when None) with ``overrides`` applied and validated again.

        The one way keyword arguments of ``build_engine``, ``make_bundle`` and ``Runtime`` reach
        their options object, so a keyword always means the field of the same name.

        Args:
            options: an instance of this class, or None.
            overrides: field names to values.
            what: the caller, for messages (``"Runtime"``).

        Raises:
            UsageError: ``options`` is not an instance of this class, or an unknown name.
        """
        if options is None:
            options = cls()
        elif not isinstance(options, cls):
            raise UsageError(f"{what} takes options={cls.__name__}(...), not a {type(options).__name__}")
        if not overrides:
            return options
        return options.replace(_what=what, **overrides)

    def _set(self, name: str, value: Any) -> None:
        """Store a normalized value while ``__post_init__`` runs (the dataclasses are frozen)."""
        object.__setattr__(self, name, value)

    def replace(self: T, _what: Optional[str] = None, **changes: Any) -> T:
        """A copy with ``changes`` applied (validated like a new instance).

        Raises:
            UsageError: an unknown option name, naming the known ones; or an invalid value.
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise UsageError(f"unknown {_what or type(self).__name__} option(s): {', '.join(unknown)}; "
                             f"{type(self).__name__} has {', '.join(self.field_names())}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def whole_number(value: Any, flag: str, low: int) -> int:
    """``value`` as an int when it is a whole number >= ``low`` (bools are not numbers here).

    Raises:
        UsageError: naming ``flag``.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise UsageError(f"{flag} must be a whole number, got {value!r}") from None
    if number < low:
        raise UsageError(f"{flag} must be at least {low}, got {number}")
    return number
