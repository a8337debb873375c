"""Positions in a cell: offsets to line/column and highlighted excerpts for errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellSource:
    """The SQL body of a cell and how its lines map to the cell the user sees.

    Args:
        text: the cell body (everything after the ``%%sqlflow`` line).
        first_line: the cell line number of the body's first line; 2 in a notebook,
            where the ``%%sqlflow`` line is line 1.
    """

    text: str
    first_line: int = 2

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) in the cell of a 0-based body offset."""
        line = self.text.count("\n", 0, offset) + self.first_line
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def excerpt(self, offset: int, length: int = 1) -> str:
        """The source line holding ``offset``, with carets under ``length`` characters."""
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        end = len(self.text) if end < 0 else end
        line_text = self.text[start:end]
        width = max(1, min(length, end - offset))
        return f"{line_text}\n{' ' * (offset - start)}{'^' * width}"

    def where(self, offset: int, length: int = 1) -> dict[str, object]:
        """Keyword arguments locating an error at ``offset`` (for SqlflowError)."""
        line, col = self.line_col(offset)
        return {"line": line, "col": col, "excerpt": self.excerpt(offset, length)}
