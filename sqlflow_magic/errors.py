"""The error tree users see: what went wrong, where, and how to fix it.

Every error carries structured fields (``line``, ``col``, ``table``, ``column``) so tests
assert on fields, and renders briefly in a notebook through ``_render_traceback_``
instead of a long traceback.
"""

from __future__ import annotations

import re


class SqlflowError(Exception):
    """Base of every error sqlflow_magic raises on purpose.

    Args:
        message: what went wrong, in one sentence.
        hint: how to fix it.
        line: 1-based line in the cell (the ``%%sqlflow`` line is line 1), when known.
        col: 1-based column of the offending text, when known.
        excerpt: the offending source line with a caret under the column.
        table: the target table, when the error concerns one.
        column: the column concerned, when one is.
    """

    title = "sqlflow error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        line: int | None = None,
        col: int | None = None,
        excerpt: str | None = None,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line
        self.col = col
        self.excerpt = excerpt
        self.table = table
        self.column = column

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The message as the few lines a user reads."""
        where = f" (line {self.line}, column {self.col})" if self.line is not None else ""
        out = [f"{self.title}{where}: {self.message}"]
        if self.excerpt:
            out.extend("    " + part for part in self.excerpt.splitlines())
        if self.hint:
            out.append(f"How to fix: {self.hint}")
        return out

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback (see IPython's InteractiveShell
        # showtraceback); the full chain stays available on __cause__.
        red, reset = "\x1b[31m", "\x1b[0m"
        first, *rest = self.lines()
        return [red + first + reset, *rest]


class SqlflowSyntaxError(SqlflowError):
    """A malformed transform header or an invalid name in it."""

    title = "Syntax error"


class ModeError(SqlflowError):
    """A transform that parses but cannot run as written (missing key column, bad batch)."""

    title = "Transform error"


class SchemaConflictError(ModeError):
    """The query's columns cannot be stored in the existing table without losing values."""

    title = "Schema conflict"


class WatermarkError(SqlflowError):
    """A bad INCREMENTAL window: time column type, LOOKBACK, --start/--end."""

    title = "Incremental window error"


class DatabaseError(SqlflowError):
    """DuckDB refused a statement; the DuckDB exception is kept as ``__cause__``."""

    title = "Database error"


class UsageError(SqlflowError):
    """A line magic called with bad arguments."""

    title = "Usage error"


# A table that does not exist makes DuckDB's replacement scan look for a Python object of
# that name in the calling code, which is sqlflow's: a name like ``quote`` then finds one
# of its functions, and DuckDB says so instead of naming the missing table.
_FOUND_OUR_OBJECT = re.compile(
    r'Invalid Input Error: Python Object "(?P<name>[^"]+)" of type "[^"]*" found on line '
    r'"[^"]*" not suitable for replacement scans\.(\s*Make sure that "[^"]*" is either[^\n]*)?'
)


def _missing_table(text: str) -> str:
    found = _FOUND_OUR_OBJECT.search(text)
    if found is None:
        return text
    return (
        text[: found.start()]
        + f"Catalog Error: Table with name {found['name']} does not exist (nor a DataFrame "
        "of that name in the notebook)" + text[found.end() :]
    )


def database_error(err: Exception, line: int, what: str, hint: str) -> DatabaseError:
    """A DuckDB exception as a short DatabaseError, pointing at the cell line it names.

    DuckDB reports ``LINE n:`` relative to the statement it ran and draws a caret under
    the offending text; both are kept, the line shifted to count from the cell's top.
    """
    from sqlflow_magic.observe.redact import redact_text

    # DuckDB quotes the value it choked on; personal data must not reach the message.
    lines = [redact_text(ln) for ln in _missing_table(str(err)).splitlines() if ln.strip()]
    excerpt = None
    for i, text in enumerate(lines):
        found = re.match(r"LINE (\d+):", text)
        if found:
            line += int(found[1]) - 1
            excerpt = "\n".join(lines[i : i + 2])
            lines = lines[:i]
            break
    return DatabaseError(
        f"{what}{' '.join(lines[:3])}", hint=hint, line=line, col=1, excerpt=excerpt
    )
