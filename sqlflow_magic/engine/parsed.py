"""Our own statements, parsed once per kernel instead of once per run.

DuckDB 2.0's parser costs about 13 µs per select-list item (~1 ms per KB of SQL): a run's
fixed statements (the target lookup, the watermark, the run record) spent ~1.8 ms of an
hourly tick parsing, and a batch profile's two statements ~3 ms. Their text is the same on
every run of a target, and a parsed ``duckdb.Statement`` runs again and again with new
parameter values, on any connection of the database, binding afresh each time (so a table
changed since binds as it is now).

Only text this package writes goes through here, never a user's query: a few settings act
while parsing (``integer_division`` turns ``/`` into ``//``, ``preserve_identifier_case``
names result columns), so a statement parsed before a user changes them would keep the old
meaning. Ours has no ``/`` (text with one is parsed every time, to be sure) and reads
results by position.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> [run(con, "SELECT $x + 1", {"x": x}).fetchall() for x in (1, 2)]
    [[(2,)], [(3,)]]
    >>> _parse(con, "SELECT $x + 1") is _parse(con, "SELECT $x + 1")
    True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

import duckdb

# Statements kept, the least recently run dropped first: a few dozen per target.
MAX_STATEMENTS = 512

_statements: OrderedDict[str, duckdb.Statement] = OrderedDict()
_lock = threading.Lock()


def run(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """``con.execute(sql, params)``, parsing ``sql`` only the first time it is run."""
    statement = _parse(con, sql)
    return con.execute(statement if statement is not None else sql, params or None)


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement | None:
    """The parsed statement of ``sql``; None for text that must be parsed on every run."""
    with _lock:
        statement = _statements.get(sql)
        if statement is not None:
            _statements.move_to_end(sql)
            return statement
    if "/" in sql:
        return None
    statements = con.extract_statements(sql)  # a syntax error raises as con.execute would
    if len(statements) != 1:
        return None
    with _lock:
        _statements[sql] = statements[0]
        while len(_statements) > MAX_STATEMENTS:
            _statements.popitem(last=False)
    return statements[0]
