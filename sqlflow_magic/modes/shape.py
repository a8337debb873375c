"""Fitting a query's columns into an existing table (SPEC section 6, schema evolution).

For each query column, against the table's column of the same name:
- missing from the table: the column is added;
- a type the table's column holds losslessly (INTEGER into BIGINT, DATE into TIMESTAMP):
  stored in the table's type, nothing changes;
- a wider type (BIGINT into an INTEGER column, DOUBLE into FLOAT, more DECIMAL digits):
  the table's column is widened in place, to the narrowest type that holds both;
- anything that would lose values or meaning (text into numbers or back, DOUBLE into a
  DECIMAL column): refused, naming the column, both types and the way out.
A table column the query no longer returns stays and receives NULL. Every change is
returned so the run can record it, and happens inside the run's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlflow_magic.engine.base import Column, Engine, TableRef
from sqlflow_magic.errors import SchemaConflictError

_INT_DIGITS = {
    "TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19, "HUGEINT": 39,
    "UTINYINT": 3, "USMALLINT": 5, "UINTEGER": 10, "UBIGINT": 20, "UHUGEINT": 39,
}  # fmt: skip
_SIGNED = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"]
_UNSIGNED = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"]
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_MAX_DECIMAL_WIDTH = 38


@dataclass(frozen=True)
class SchemaChange:
    """One change a run made to its table's shape."""

    column: str
    change: str  # 'add' or 'widen'
    old_type: str | None
    new_type: str

    def to_column(self) -> Column:
        """The column as it is after the change."""
        return Column(self.column, self.new_type)

    def describe(self) -> str:
        """``added amount DOUBLE`` / ``widened qty INTEGER -> BIGINT``."""
        if self.change == "add":
            return f"added {self.column} {self.new_type}"
        return f"widened {self.column} {self.old_type} -> {self.new_type}"


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


def widened_type(table_type: str, query_type: str) -> str | None:
    """The narrowest type holding every value of both, when widening is lossless; else None.

    >>> widened_type("INTEGER", "BIGINT"), widened_type("DECIMAL(10,2)", "DECIMAL(12,4)")
    ('BIGINT', 'DECIMAL(12,4)')
    >>> widened_type("VARCHAR", "INTEGER") is None, widened_type("DECIMAL(18,2)", "DOUBLE")
    (True, None)
    """
    t, q = table_type.upper(), query_type.upper()
    if fits_losslessly(t, q):
        return q
    digits_and_scale = [_digits_and_scale(x) for x in (t, q)]
    if all(digits_and_scale):
        (td, ts), (qd, qs) = digits_and_scale  # type: ignore[misc]
        scale, digits = max(ts, qs), max(td, qd)
        if digits + scale <= _MAX_DECIMAL_WIDTH:
            return f"DECIMAL({digits + scale},{scale})"
    return None


def _digits_and_scale(type_name: str) -> tuple[int, int] | None:
    """(integer digits, scale) of a DECIMAL or an integer type, else None."""
    dec = _DECIMAL.fullmatch(type_name)
    if dec:
        return int(dec[1]) - int(dec[2]), int(dec[2])
    if type_name in _INT_DIGITS and type_name not in ("HUGEINT", "UHUGEINT"):
        return _INT_DIGITS[type_name], 0
    return None


def reconcile_shape(
    engine: Engine,
    table: TableRef,
    columns: tuple[Column, ...],
    keys: tuple[str, ...] = (),
    existing_columns: tuple[Column, ...] = (),
) -> list[SchemaChange]:
    """Make ``table`` ready to receive ``columns``; returns the changes made.

    ``existing_columns`` are the table's columns when the caller has read them already.

    Raises:
        SchemaConflictError: a query column whose values the table cannot hold, even
            widened; nothing is changed.
    """
    existing = {c.name.lower(): c for c in existing_columns or engine.table_columns(table)}
    key_names = {k.lower() for k in keys}
    planned: list[SchemaChange] = []
    for col in columns:
        have = existing.get(col.name.lower())
        if have is None:
            planned.append(SchemaChange(col.name, "add", None, col.type))
        elif not fits_losslessly(col.type, have.type):
            wider = widened_type(have.type, col.type)
            if wider is None:
                raise _conflict(table, have, col, col.name.lower() in key_names)
            planned.append(SchemaChange(have.name, "widen", have.type, wider))
    for change in planned:  # only once every column is known to fit
        if change.change == "add":
            engine.add_column(table, Column(change.column, change.new_type))
        else:
            engine.widen_column(table, Column(change.column, change.new_type))
    return planned


def _conflict(table: TableRef, have: Column, col: Column, is_key: bool) -> SchemaConflictError:
    role = "key column" if is_key else "column"
    return SchemaConflictError(
        f"{role} {table.key}.{have.name} is {have.type} in the table but the query returns "
        f"{col.type}, which it cannot hold without losing values or meaning",
        hint=(
            f"cast it in the query (CAST({col.name} AS {have.type}) AS {col.name}), or run "
            f"%sqlflow reset {table.key} and rebuild the table with MODE REPLACE to change its type"
        ),
        table=table.key,
        column=have.name,
    )
