"""The quality profile of a relation in seven categories, and what changed between two.

``profile_relation`` profiles the rows a run wrote (a staged batch) or a whole table,
with no configuration: formats, apparent types, references and key candidates are
recognised from names and values. ``compare_profiles`` says in plain language what
changed since a stored profile. The data model and the scoring formulas are in
``sqlflow_magic.quality.model``; the passes over the data in ``measure``; the wording in
``recommend``.

Example:
    >>> import duckdb, datetime as dt
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE t AS SELECT range AS id, "
    ...                 "CASE WHEN range < 3 THEN 'bad' ELSE range || '@x.com' END AS email "
    ...                 "FROM range(100)")
    >>> p = profile_relation(con, "SELECT * FROM t", now=dt.datetime(2024, 1, 1))
    >>> p.score("validity")
    86
    >>> print(p.category("validity").findings[0].message)
    email: 3.0% of values (3 of 100) are not valid email addresses (recognised as email by its name)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb

from sqlflow_magic.engine.base import Column, TableRef
from sqlflow_magic.quality import recommend
from sqlflow_magic.quality.batch import measure_batch
from sqlflow_magic.quality.measure import (
    SHOWN_CHARS,
    ColumnStats,
    Measures,
    Reference,
    describe,
    measure_table,
)
from sqlflow_magic.quality.model import (
    CATEGORIES,
    CategoryScore,
    ColumnProfile,
    Finding,
    Profile,
    RuleOutcome,
    age_score,
    category_scores,
    share_score,
)
from sqlflow_magic.quality.recognised import KindsOfColumns
from sqlflow_magic.state.store import utcnow

__all__ = [
    "CATEGORIES",
    "CategoryScore",
    "ColumnProfile",
    "Finding",
    "Profile",
    "Reference",
    "RuleOutcome",
    "age_score",
    "compare_profiles",
    "profile_relation",
    "share_score",
]


def profile_relation(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    params: Mapping[str, object] | None = None,
    *,
    keys: Sequence[str] = (),
    time_columns: Sequence[str] | None = None,
    rule_results: Sequence[RuleOutcome] = (),
    references: Sequence[Reference] | None = None,
    target: TableRef | None = None,
    now: dt.datetime | None = None,
    full: bool = False,
    kinds: KindsOfColumns | None = None,
    columns: Sequence[Column] | None = None,
) -> Profile:
    """Profile the rows of ``relation_sql`` in the seven quality categories.

    Besides ``DESCRIBE`` and a look at the first 200 rows when text columns must be
    recognised by their values, a run's profile reads the relation with one exact
    aggregate over every row (counts, NULLs, ranges, ordered pairs) and one statement over
    its rows, or over a repeatable sample of about 2,000 of them when the run wrote more
    (spreads and far-out values, blanks, format and type checks, keys and copied rows,
    orphan joins); rarely one more settles what those left open (see
    ``quality.batch``). A whole table's profile reads every value (``quality.measure``).
    ``*_id`` references cost one catalog lookup and a join each (at most three), so a
    run's profile grows with its rows and with the referenced columns, never with its
    target table.

    Args:
        con: the connection to run on; the profile only reads. Run it inside the run's
            transaction, after the write, so referenced tables include the new rows.
        relation_sql: a query whose rows are profiled, e.g. ``SELECT * FROM
            temp.main."sqlflow_batch_…"`` (a run's staged rows) or a whole table.
        params: parameters ``relation_sql`` binds (names starting ``sqlflow_`` are ours).
        keys: the transform's KEY columns: duplicate and NULL keys are reported. Names
            the relation lacks are ignored, as are ``time_columns`` that are not times.
        time_columns: columns whose newest value measures freshness (the INCREMENTAL BY
            column); None takes every DATE/TIMESTAMP column and judges the newest value.
        rule_results: outcomes of the declared EXPECT rules (business rules category).
            Without any, that category scores 100 and suggests rules the data obeys.
        references: orphan checks to make; None finds them by name (``customer_id`` ->
            table ``customers`` or ``customer`` with a ``customer_id`` or ``id`` column),
            at most three; ``()`` makes none.
        target: the table the rows belong to: references are looked up in its database
            (the current database without one) and it is never its own reference.
        now: the reference time for freshness (naive UTC); the clock when None.
        full: the on-demand profile of a table: measure what ``SUMMARIZE`` shows of
            every column (approximate distinct count, min, max) and check every value.
            A run's profile (False) measures only what findings need, and measures
            formats, types, blanks, far-out values, orphans and repeats on a repeatable
            sample of about 2,000 rows when the run wrote more (the findings then say
            "about", and a note says so).
        kinds: what earlier runs recognised the text columns of these rows as, to
            consult and fill (``RecognisedKinds.of``, per target and definition); a
            run's profile then skips reading the values of those columns.
        columns: the relation's columns, when the caller knows them (a staged batch):
            saves binding the relation to learn them.

    Returns:
        The profile, with all seven categories in ``CATEGORIES`` order.

    Raises:
        duckdb.Error: the relation cannot be read.
    """
    now = now or utcnow()
    m = describe(con, relation_sql, params, keys=keys, time_columns=time_columns, now=now,
                 columns=columns)  # fmt: skip
    if full:
        measure_table(con, m, references, target)
    else:
        measure_batch(con, m, references, target, kinds)
    found = recommend.findings(m, rule_results)
    return Profile(
        rows=m.rows,
        columns=tuple(_column_profile(c, m.rows) for c in m.columns),
        categories=category_scores(found, recommend.category_overrides(m)),
        profiled_at=now.replace(microsecond=0),
        full=full,
        notes=_notes(m),
    )


def _notes(m: Measures) -> tuple[str, ...]:
    if not m.rows:
        return ("no rows to profile",)
    if m.sampled:
        return (
            f"formats, types, blanks, far-out values, orphans and repeats were measured on "
            f"a repeatable sample of {m.sample_rows:,} of the {m.rows:,} rows (findings say "
            f"'about'); counts of rows and NULLs, ranges and newest values are exact",
        )
    return ()


def _column_profile(col: ColumnStats, rows: int) -> ColumnProfile:
    return ColumnProfile(
        name=col.name,
        type=col.type,
        nulls=rows - col.non_null,
        blanks=col.blanks,
        # HyperLogLog may overshoot a little; never show more distinct values than values.
        distinct=None if col.distinct is None else min(col.distinct, col.non_null),
        min=_shown(col.min),
        max=_shown(col.max),
        kind=col.kind,
        # A sampled check estimates the invalid values of the whole column.
        invalid=round(col.invalid * col.present / col.checked) if col.checked else 0,
    )


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def compare_profiles(old: Profile, new: Profile) -> list[str]:
    """What changed from ``old`` to ``new``, one plain-language line each.

    Rows, category scores, columns added, dropped or retyped, and findings that
    appeared, disappeared or whose share moved by at least 0.1 percentage point.
    An empty list means nothing worth saying changed. Comparing a run's profile (the
    rows it wrote) with a whole table's says so first and leaves out the row counts,
    which then measure different things.
    """
    lines = []
    if old.full != new.full:
        lines.append(
            "the last profile covered "
            + ("the whole table" if old.full else f"the {old.rows:,} rows one run wrote")
            + ": shares compare, row counts do not"
        )
    elif old.rows != new.rows:
        delta = new.rows - old.rows
        rel = f" ({delta / old.rows:+.1%})" if old.rows else ""
        lines.append(f"rows: {old.rows:,} -> {new.rows:,}{rel}")
    for before, after in zip(old.categories, new.categories, strict=True):
        if before.score != after.score:
            lines.append(
                f"{after.category}: {before.score} -> {after.score} "
                f"({after.score - before.score:+d})"
            )
    old_cols = {c.name.lower(): c for c in old.columns}
    new_cols = {c.name.lower(): c for c in new.columns}
    for key, col in new_cols.items():
        if key not in old_cols:
            lines.append(f"{col.name}: new column ({col.type})")
        elif old_cols[key].type != col.type:
            lines.append(f"{col.name}: type {old_cols[key].type} -> {col.type}")
    lines += [f"{c.name}: column dropped" for k, c in old_cols.items() if k not in new_cols]
    lines += _finding_changes(old.findings, new.findings)
    return lines


def _finding_changes(old: Sequence[Finding], new: Sequence[Finding]) -> list[str]:
    def key(f: Finding) -> tuple[str, str, str]:
        return (f.category, f.check, (f.column or "").lower())

    before = {key(f): f for f in old if f.is_problem}
    after = {key(f): f for f in new if f.is_problem}
    lines = []
    for k, f in after.items():
        was = before.get(k)
        if was is None:
            lines.append(f"new: {f.message}")
        elif f.share is not None and was.share is not None and abs(f.share - was.share) >= 0.001:
            subject = f.column or f.check.replace("_", " ")
            lines.append(
                f"{subject}: {_CHECK_WORDS.get(f.check.split(':')[0], f.check)} "
                f"{recommend.pct(was.share)} -> {recommend.pct(f.share)}"
            )
        elif f.share is None and was.score != f.score:
            lines.append(f"now: {f.message}")
    lines += [f"resolved: {f.message}" for k, f in before.items() if k not in after]
    return lines


# How a share reads in a "what changed" line: "email: invalid format 0.0% -> 3.0%".
_CHECK_WORDS = {
    "nulls": "NULL or blank",
    "type": "values not of its type",
    "nonfinite": "NaN or infinite",
    "outliers": "far out",
    "future": "in the future",
    "orphans": "orphan rows",
    "order": "rows in the wrong order",
    "duplicate_rows": "duplicate rows",
    "duplicate_keys": "repeated keys",
    "repeated_key": "repeated values",
    "format": "invalid",
    "rule": "failing rows",
}
