"""Plain-text tables for terminals and logs (the CLI, the demo summary, benchmark scripts)."""

from __future__ import annotations

import sys
from typing import Optional, TextIO


def print_table(rows: list[dict], columns: list[str], file: Optional[TextIO] = None) -> None:
    """Print ``rows`` as an aligned plain-text table with the given column order.

    Args:
        rows: one dict per row; a missing key prints as an empty cell.
        columns: the keys to print, in order (also the header).
        file: where to print (default: standard output).
    """
    file = file or sys.stdout
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)), file=file)
