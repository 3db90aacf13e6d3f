"""Bounds on resource counts that come from users or from files: CPU thread counts.

A thread pool of 100000 threads does not run faster; it hangs the process while
its memory grows. Options and manifests are held to a small multiple of the cores.
Standard library only (the runtime path imports this without numpy or torch).
"""

from __future__ import annotations

import os
from typing import Optional

from .errors import UsageError

#: threads allowed per usable core (oversubscription beyond this only slows things down)
THREADS_PER_CORE = 4


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    """The largest thread count accepted here: :data:`THREADS_PER_CORE` per usable core (at least 8)."""
    return max(8, THREADS_PER_CORE * usable_cores())


def thread_count_problem(value: object, allow_zero: bool = True) -> Optional[str]:
    """Why ``value`` is not an acceptable thread count, or None when it is.

    Args:
        value: the count (0 means "the library's default" when ``allow_zero``).
        allow_zero: accept 0.
    """
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, got {value!r}"
    if value < low:
        return f"must be >= {low}, got {value}"
    if value > max_threads():
        return (f"{value} is too many: at most {max_threads()} on this machine "
                f"({THREADS_PER_CORE} per core, {usable_cores()} cores)")
    return None


def check_threads(value: Optional[int], what: str = "--threads", allow_zero: bool = True) -> Optional[int]:
    """Return ``value`` (None passes) when it is an acceptable thread count.

    Raises:
        UsageError: negative, not a whole number, or above :func:`max_threads`.
    """
    if value is None:
        return None
    problem = thread_count_problem(value, allow_zero)
    if problem:
        raise UsageError(f"{what} {problem}")
    return value
