"""Plain column listings for the command line (``models list``, ``plugins list``).

A rich table fits a narrow terminal by cutting cells short with an ellipsis, and the cells it
cuts are the names users type next. Here every column is as wide as its longest cell, and the
long free text of a row (a task, a load error) goes on its own indented line below it.
"""

from __future__ import annotations

from collections.abc import Sequence

import click


def listing(
    header: Sequence[str], rows: Sequence[Sequence[str]], details: Sequence[str] = ()
) -> str:
    """``rows`` under ``header`` in left-aligned columns; ``details[i]``, when given and not
    empty, is printed indented under row ``i``. Styles vanish when output is not a terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    lines = [click.style(line(header).rstrip(), bold=True)]
    for index, cells in enumerate(rows):
        lines.append(line(cells).rstrip())
        detail = details[index] if index < len(details) else ""
        if detail:
            lines.append(click.style("    " + " ".join(detail.split()), dim=True))
    return "\n".join(lines)


def size_text(size_bytes: float) -> str:
    """A file size as people read it: ``812 B``, ``2.4 MB``, ``1.3 GB`` (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size_bytes < 1000 or unit == "GB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1000
    raise AssertionError("unreachable")
