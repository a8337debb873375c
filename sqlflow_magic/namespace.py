"""The user's namespace in SQL: DataFrames queryable by name, ``$name`` bound as parameters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb

from sqlflow_magic.errors import SqlflowError
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import MacroUse

# Objects DuckDB can scan by name: (top-level package, class name) anywhere in the MRO, so
# subclasses count and pandas' move of DataFrame.__module__ (pandas 3) does not matter.
_FRAME_TYPES = {
    ("pandas", "DataFrame"),
    ("polars", "DataFrame"),
    ("polars", "LazyFrame"),
    ("pyarrow", "Table"),
    ("pyarrow", "RecordBatchReader"),
    ("pyarrow", "Dataset"),
}


def is_frame(value: object) -> bool:
    """Whether DuckDB can query ``value`` as a table."""
    if isinstance(value, duckdb.DuckDBPyRelation):
        return True
    return any(
        (cls.__module__.split(".")[0], cls.__name__) in _FRAME_TYPES for cls in type(value).__mro__
    )


def bind_variables(
    uses: tuple[MacroUse, ...], namespace: Mapping[str, object], source: CellSource, base: int
) -> dict[str, object]:
    """Values of the ``$name`` variables a statement uses, to bind as parameters.

    Raises:
        SqlflowError: a ``$name`` with no such variable in the namespace.
    """
    params: dict[str, object] = {}
    for use in uses:
        if not use.is_variable:
            continue
        if use.name.lower().startswith("sqlflow_"):
            raise SqlflowError(
                f"${use.name}: names starting with sqlflow_ are reserved for the window's "
                "own parameters",
                hint="rename the variable",
                **source.where(base + use.offset, use.length),
            )
        if use.name not in namespace:
            raise SqlflowError(
                f"${use.name} names no variable of this notebook",
                hint=f"define it first ({use.name} = ...), or escape a literal $ in a string",
                **source.where(base + use.offset, use.length),
            )
        params[use.name] = namespace[use.name]
    return params


@contextmanager
def frames_registered(
    con: duckdb.DuckDBPyConnection, names: frozenset[str], namespace: Mapping[str, object]
) -> Iterator[list[str]]:
    """Register the namespace's DataFrames that a statement names, for its duration.

    As in plain DuckDB, a table or view of the same name wins over a DataFrame, so a
    frame is registered only when the database has no object of that name.
    """
    wanted = [n for n in names if is_frame(namespace.get(n))]
    if wanted:
        taken = {
            r[0].lower()
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() UNION ALL "
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
        wanted = [n for n in wanted if n.lower() not in taken]
    for name in wanted:
        con.register(name, namespace[name])
    try:
        yield wanted
    finally:
        for name in wanted:
            con.unregister(name)
