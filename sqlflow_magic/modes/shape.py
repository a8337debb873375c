"""Fitting a query's columns into an existing table (SPEC section 6, first part).

A new column is added; a type that fits losslessly in the table's column is stored in
the table's type; a column the query no longer returns stays and gets NULL; anything
else is refused with the column, both types and the way out.
"""

from __future__ import annotations

import re

from sqlflow_magic.engine.base import Column, Engine, TableRef
from sqlflow_magic.errors import SchemaConflictError

_INT_DIGITS = {
    "TINYINT": 3,
    "SMALLINT": 5,
    "INTEGER": 10,
    "BIGINT": 19,
    "HUGEINT": 39,
    "UTINYINT": 3,
    "USMALLINT": 5,
    "UINTEGER": 10,
    "UBIGINT": 20,
    "UHUGEINT": 39,
}
_SIGNED = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"]
_UNSIGNED = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"]
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def fits_losslessly(query_type: str, table_type: str) -> bool:
    """Whether every value of ``query_type`` is stored exactly in a ``table_type`` column.

    >>> fits_losslessly("INTEGER", "BIGINT"), fits_losslessly("VARCHAR", "INTEGER")
    (True, False)
    """
    q, t = query_type.upper(), table_type.upper()
    if q == t or q == "NULL":
        return True
    if q in _INT_DIGITS:
        if t in ("DOUBLE", "FLOAT") and (t == "DOUBLE" or _INT_DIGITS[q] <= 5):
            return True
        for family in (_SIGNED, _UNSIGNED):
            if q in family and t in family:
                return family.index(q) <= family.index(t)
        if q in _UNSIGNED and t in _SIGNED:
            return _INT_DIGITS[q] < _INT_DIGITS[t]
        dec = _DECIMAL.fullmatch(t)
        return bool(dec) and int(dec[1]) - int(dec[2]) >= _INT_DIGITS[q]
    if q == "FLOAT" and t == "DOUBLE":
        return True
    if q == "DATE" and t in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return True
    qd, td = _DECIMAL.fullmatch(q), _DECIMAL.fullmatch(t)
    if qd and td:
        return int(td[2]) >= int(qd[2]) and int(td[1]) - int(td[2]) >= int(qd[1]) - int(qd[2])
    return False


def reconcile_shape(
    engine: Engine, table: TableRef, columns: tuple[Column, ...], keys: tuple[str, ...] = ()
) -> list[Column]:
    """Make ``table`` ready to receive ``columns``; returns the columns it added.

    Raises:
        SchemaConflictError: a query column whose values the table cannot hold.
    """
    existing = {c.name.lower(): c for c in engine.table_columns(table)}
    added = []
    for col in columns:
        have = existing.get(col.name.lower())
        if have is None:
            engine.add_column(table, col)
            added.append(col)
        elif not fits_losslessly(col.type, have.type):
            role = "key column" if col.name.lower() in {k.lower() for k in keys} else "column"
            raise SchemaConflictError(
                f"{role} {table.key}.{have.name} is {have.type} in the table but the query "
                f"returns {col.type}",
                hint=(
                    f"cast it in the query (CAST({col.name} AS {have.type})), or run "
                    f"%sqlflow reset {table.key} and rebuild with MODE REPLACE to change the type"
                ),
                table=table.key,
                column=have.name,
            )
    return added
