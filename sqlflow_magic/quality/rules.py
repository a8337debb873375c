"""Checking declared EXPECT rules inside the run's transaction, before commit.

Rules read the rows the run writes; UNIQUE and FRESH read the resulting table, but only
where the run can have changed the answer: UNIQUE looks only at the keys being written,
FRESH at one maximum.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlflow_magic.engine.base import Column, Query
from sqlflow_magic.errors import ModeError, SqlflowError
from sqlflow_magic.observe.redact import redact_mapping
from sqlflow_magic.quality.recommend import age_words
from sqlflow_magic.syntax.names import fold, quote
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import RuleKind, RuleSpec

# Offending rows shown in a message or stored with a result.
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class RuleResult:
    """What one rule found."""

    rule: RuleSpec
    failing_rows: int
    checked_rows: int
    sample: tuple[dict[str, object], ...] = ()
    detail: str = ""  # FRESH: how old the newest value is

    @property
    def passed(self) -> bool:
        """Whether the rule holds."""
        return self.failing_rows == 0

    @property
    def name(self) -> str:
        """The rule as written: ``EXPECT NOT NULL (customer_id)``."""
        return f"EXPECT {self.rule.text}" + (" WARN" if self.rule.warn else "")

    def describe(self) -> str:
        """One line: the rule, how many rows fail, and a few of them."""
        if self.rule.kind is RuleKind.FRESH:
            return f"{self.name}: {self.detail}"
        shown = "; ".join(_row_text(r) for r in self.sample)
        rows = f" — e.g. {shown}" if shown else ""
        if self.rule.kind is RuleKind.UNIQUE:
            return (
                f"{self.name}: {self.failing_rows} rows of the table share a key with others "
                f"(checked the keys of the {self.checked_rows} rows written){rows}"
            )
        return f"{self.name}: {self.failing_rows} of {self.checked_rows} rows fail{rows}"


class QualityCheckFailed(SqlflowError):
    """An ERROR rule failed: the whole run was rolled back."""

    title = "Quality check failed"

    def __init__(self, target: str, results: Sequence[RuleResult]) -> None:
        failing = [r for r in results if not r.passed and not r.rule.warn]
        lines = "\n".join("  " + r.describe() for r in failing)
        super().__init__(
            f"{len(failing)} EXPECT rule(s) failed for {target}; the run was rolled back "
            f"(data, watermark and schema unchanged):\n{lines}",
            hint="fix the data or the query, or mark a rule WARN to record it without "
            "blocking the run",
            table=target,
        )
        self.results = tuple(results)


def check_rule_columns(
    rules: Sequence[RuleSpec], columns: Sequence[Column], source: CellSource, target: str
) -> None:
    """Refuse a rule naming a column the query does not return, pointing at the rule."""
    names = {fold(c.name) for c in columns}
    for rule in rules:
        for column in rule.columns:
            if fold(column) not in names:
                close = difflib.get_close_matches(column, [c.name for c in columns], n=1)
                suggestion = f"did you mean '{close[0]}'? " if close else ""
                raise ModeError(
                    f"no such column for EXPECT {rule.kind.value}: {target}.{column}",
                    hint=f"{suggestion}name a column the query returns",
                    table=target,
                    column=column,
                    **source.where(rule.offset, len("EXPECT")),
                )


def run_rules(
    engine,
    rules: Sequence[RuleSpec],
    written: Query,
    target_sql: str,
    tz_columns: frozenset[str],
    now: dt.datetime,
) -> list[RuleResult]:
    """Check every rule; returns one result per rule, in the order written.

    Args:
        engine: runs the checks (``read(sql, params)``).
        rules: the transform's EXPECT rules.
        written: selects the rows this run writes.
        target_sql: the quoted target table, as it will be after the run.
        tz_columns: lower-cased names of TIMESTAMPTZ columns (FRESH compares in UTC).
        now: the run's clock (naive UTC).
    """
    if not rules:
        return []
    checked = int(engine.read(f"SELECT count(*) FROM ({written.sql})", written.params)[0][0])
    return [_check(engine, r, written, target_sql, tz_columns, now, checked) for r in rules]


def _check(engine, rule, written, target_sql, tz_columns, now, checked) -> RuleResult:
    if rule.kind is RuleKind.FRESH:
        return _fresh(engine, rule, target_sql, tz_columns, now)
    if rule.kind is RuleKind.UNIQUE:
        return _unique(engine, rule, written, target_sql, checked)
    if rule.kind is RuleKind.NOT_NULL:
        failing = " OR ".join(f"{quote(c)} IS NULL" for c in rule.columns)
    else:  # a predicate fails where it is false; NULL passes, as in a CHECK constraint
        failing = f"NOT coalesce(({rule.predicate}), true)"
    count = engine.read(f"SELECT count(*) FROM ({written.sql}) WHERE {failing}", written.params)[0][
        0
    ]
    sample = ()
    if count:
        sample = _sample(engine, f"SELECT * FROM ({written.sql}) WHERE {failing}", written.params)
    return RuleResult(rule, int(count), checked, sample)


def _unique(engine, rule: RuleSpec, written: Query, target_sql: str, checked: int) -> RuleResult:
    cols = ", ".join(quote(c) for c in rule.columns)
    on = " AND ".join(f"t.{quote(c)} = w.{quote(c)}" for c in rule.columns)
    not_null = " AND ".join(f"t.{quote(c)} IS NOT NULL" for c in rule.columns)
    # Only keys this run writes can have become duplicates: a semi join keeps the check
    # proportional to the batch, not the table.
    duplicates = (
        f"SELECT {', '.join('t.' + quote(c) for c in rule.columns)}, count(*) AS copies "
        f"FROM {target_sql} t SEMI JOIN (SELECT DISTINCT {cols} FROM ({written.sql})) w "
        f"ON {on} WHERE {not_null} GROUP BY ALL HAVING count(*) > 1"
    )
    total, keys = engine.read(
        f"SELECT coalesce(sum(copies), 0), count(*) FROM ({duplicates})", written.params
    )[0]
    sample = ()
    if keys:
        sample = _sample(engine, f"{duplicates} ORDER BY copies DESC", written.params)
    # failing rows: every row of the table that shares a key the run wrote
    return RuleResult(rule, int(total), checked, sample)


def _fresh(engine, rule: RuleSpec, target_sql: str, tz_columns, now) -> RuleResult:
    column = rule.columns[0]
    newest = f"max({quote(column)})"
    newest = f"{newest} AT TIME ZONE 'UTC'" if column.lower() in tz_columns else (
        f"CAST({newest} AS TIMESTAMP)")  # fmt: skip
    value, stale = engine.read(
        f"SELECT {newest}, coalesce({newest} < CAST($now AS TIMESTAMP) - CAST($w AS INTERVAL), "
        f"true) FROM {target_sql}",
        {"now": now, "w": rule.within},
    )[0]
    if value is None:
        detail = f"{column} has no values at all (expected within {rule.within})"
    else:
        detail = f"the newest {column} is {value} UTC, {age_words(now - value)} before now"
    return RuleResult(rule, int(bool(stale)), 1, (), detail)


def _sample(engine, sql: str, params) -> tuple[dict[str, object], ...]:
    cursor = engine.con.execute(f"{sql} LIMIT {SAMPLE_ROWS}", params or None)
    names = [d[0] for d in cursor.description]
    return tuple(dict(zip(names, row, strict=True)) for row in cursor.fetchall())


def _row_text(row: dict[str, object]) -> str:
    # Offending rows reach messages and state tables: personal values are redacted first.
    shown = redact_mapping(dict(list(row.items())[:6]))
    return "(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"
