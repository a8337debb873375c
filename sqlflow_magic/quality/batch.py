"""Measuring the rows a run wrote: one exact pass, then one pass over a repeatable sample.

A run's profile runs inside the run's transaction, so it must cost a small share of the
run (issue 3: a 1% batch of a 10M-row table). DuckDB spends about as long planning an
expression as a small batch takes to evaluate it, and a regex costs ~150 ns a value, so
there are three statements and only the expressions a finding needs. After
``measure.describe`` (pass 1):

2. Exact, over every row: the row count and each column's non-NULL count (free where
   DuckDB's statistics know a column has no NULL), min and max of numbers and times
   (ranges, the newest value, whether a float holds NaN), ordered pairs, NULL keys; side
   by side, the first values of text columns no name explains and the catalog lookup.
   Nothing here needs a distinct count or a look at text values: over a 10M-row batch
   those two (an approximate distinct count of the key, one test for blanks) were half
   of this pass, and the sample answers both as well.
3. One statement over the rows themselves when the run wrote at most ``CHECK_ROWS``, else
   over a repeatable ``Sample`` of about that many: the mean and spread of each measure
   and the values far outside them, the format and type checks, whether some text value
   may be blank, distinct keys and would-be keys, copied rows, and a left join per
   ``*_id`` reference. Seldom twice: when the key the sample hashes turns out to repeat
   so much that the sample holds too few of its values (see ``wider_sample``).
4. Rarely, one more statement for what pass 3 leaves open: blanks per column (only when
   some value may be blank), NaN counts, future times and the newest value up to now (only
   when a max is past now), far-out values a sample missed although min or max lie beyond
   its fences, and copied rows among more than ``LIST_DISTINCT_ROWS`` rows when no key
   proved them distinct.

Measures taken on a sample keep their sample's counts (``checked``, ``outliers_checked``,
``distinct_checked``, ``sample_rows``, ``key_rows``); ``recommend`` shows them as "about
x% of values (n of m checked, a sample of N)", and the profile notes the sample.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import duckdb

from sqlflow_magic.engine.base import TableRef
from sqlflow_magic.quality.measure import (
    CHECK_ROWS,
    KEY_NAME,
    LIST_DISTINCT_ROWS,
    MAX_KEY_CHECKS,
    MAX_REFERENCE_CHECKS,
    PRIMARY_DISTINCT_SHARE,
    RUN_REFERENCE_ROWS,
    SAMPLE_MIN_KEYS,
    ColumnStats,
    Measures,
    Reference,
    ReferenceLookup,
    Sample,
    Select,
    add_pairs,
    any_null,
    ask_orphans,
    ask_time,
    beyond,
    blank_count,
    distinct_count,
    distinct_rows,
    fences,
    is_float,
    key_value,
    kind_exprs,
    may_be_key,
    nonfinite_range,
    primary_candidate,
    recognition_part,
    run_parts,
    setter,
)
from sqlflow_magic.quality.recognised import KindsOfColumns
from sqlflow_magic.syntax.names import quote


def measure_batch(
    con: duckdb.DuckDBPyConnection,
    m: Measures,
    references: Sequence[Reference] | None,
    target: TableRef | None,
    kinds: KindsOfColumns | None = None,
) -> None:
    """Passes 2 to 4 over the rows of ``m.relation``; see the module docstring."""
    lookup = ReferenceLookup(m, target, references, max_rows=RUN_REFERENCE_ROWS)
    _count_exactly(con, m, lookup, kinds)
    if not m.rows:
        return
    refs = lookup.refs[:MAX_REFERENCE_CHECKS]
    m.sample = choose_sample(m)
    before = _Snapshot(m)
    _measure_rows(con, m, refs)
    wider = wider_sample(m)
    if wider is not m.sample:
        # The distinct values the first sample counted stay the estimate of their column.
        learned, queries = {c.name: c.distinct for c in m.columns}, m.queries
        before.restore(m)
        m.sample, m.queries = wider, queries
        _measure_rows(con, m, refs)
        for col in m.columns:
            col.distinct = learned[col.name] if col.distinct is None else col.distinct
    _settle(con, m)


def choose_sample(m: Measures) -> Sample | None:
    """None when the batch is small enough to measure whole; else the rows to measure.

    The sample hashes the declared key, else the column that looks like the key (repeats
    of it then stay countable) unless its NULLs alone make it less than
    ``PRIMARY_DISTINCT_SHARE`` distinct, else the columns of numbers, times and booleans
    (cheap to hash; copied rows still agree on them), else every one. It keeps
    ``CHECK_ROWS`` rows or up to a fifth more (``Sample.of``); ``wider_sample`` says,
    once pass 3 has seen it, whether the hashed key repeats too much for that.
    """
    if m.rows <= CHECK_ROWS:
        return None
    share = CHECK_ROWS / m.rows
    if m.keys:
        return Sample.of(tuple(quote(k) for k in m.keys), share)
    primary = _hashable_primary(m)
    if primary is not None and primary.non_null >= PRIMARY_DISTINCT_SHARE * m.rows:
        return Sample.of((primary.sql,), share)
    return Sample.of(_plain_columns(m), share)


def wider_sample(m: Measures) -> Sample | None:
    """The sample pass 3 should have measured: ``m.sample`` itself, or a better one when
    the key it hashes repeats too much.

    A sample hashed on a key keeps all rows of a key or none, so each key with many rows
    makes it lumpier. With a declared key, it must hold at least ``SAMPLE_MIN_KEYS``
    distinct keys: fewer, and the share grows to keep that many (every row, when that
    takes them all). A would-be key must be ``PRIMARY_DISTINCT_SHARE`` distinct over the
    batch, estimated from the sample's distinct values; else the plain columns are hashed.
    Both are rare (a declared key is usually unique, the column named like the key too),
    and then worth a second pass 3 rather than an approximate distinct count of every row
    in pass 2, which each run would pay.
    """
    sample = m.sample
    if sample is None:
        return None
    if m.keys:
        if m.distinct_keys is None or m.distinct_keys >= SAMPLE_MIN_KEYS:
            return sample
        return Sample.of(sample.columns, SAMPLE_MIN_KEYS * sample.share / max(m.distinct_keys, 1))
    primary = _hashable_primary(m)
    if primary is None or sample.columns != (primary.sql,) or primary.exact_distinct is None:
        return sample
    distinct = round(primary.exact_distinct / sample.share)
    plain = Sample.of(_plain_columns(m), sample.share)
    # (The plain columns may be that key alone: nothing better to hash then.)
    return sample if distinct >= PRIMARY_DISTINCT_SHARE * m.rows or plain == sample else plain


def _plain_columns(m: Measures) -> tuple[str, ...]:
    plain = [c.sql for c in m.columns if c.family in ("numeric", "time", "boolean")]
    return tuple(plain or [c.sql for c in m.columns])


class _Snapshot:
    """The measures as pass 2 left them, to measure pass 3 again from there."""

    def __init__(self, m: Measures) -> None:
        self.measures = copy.copy(m.__dict__)
        self.orphans = list(m.orphans)
        self.columns = [(col, copy.copy(col.__dict__)) for col in m.columns]

    def restore(self, m: Measures) -> None:
        """Put back every measure pass 3 set, in the same objects."""
        m.__dict__.update(self.measures)
        m.orphans = list(self.orphans)
        for col, before in self.columns:
            col.__dict__.update(before)


def _is_measure(col: ColumnStats) -> bool:
    # Identifiers and codes have no "usual range": a far-out id is just a new id.
    return col.family == "numeric" and not KEY_NAME.fullmatch(col.name)


def _hashable_primary(m: Measures) -> ColumnStats | None:
    primary = primary_candidate(m)
    if primary is None or not may_be_key(primary) or is_float(primary.type):
        return None
    return primary


# -- pass 2: exact, over every row ------------------------------------------------------


def _count_exactly(
    con: duckdb.DuckDBPyConnection,
    m: Measures,
    lookup: ReferenceLookup,
    kinds: KindsOfColumns | None,
) -> None:
    """Pass 2, with what pass 3 needs besides: the first values of text columns no name
    explains (to recognise their kind) and the catalog's referenced tables."""
    q = Select()
    q.add("count(*)", setter(m, "rows", int))
    for col in m.columns:
        q.add(f"count({col.sql})", setter(col, "non_null", int))
        if col.family in ("numeric", "time"):
            q.add(f"min({col.sql})", setter(col, "min"))
            q.add(f"max({col.sql})", setter(col, "max"))
    if m.keys:
        key_sql = [quote(k) for k in m.keys]
        q.add(f"count_if({any_null(key_sql)})", setter(m, "null_keys", int))
    add_pairs(q, m)
    parts = [
        (q, f"(SELECT {', '.join(q.exprs)} FROM {m.relation})"),
        *recognition_part(m, kinds),
    ]
    run_parts(con, m, parts + lookup.parts, {**m.params, **lookup.params})
    lookup.resolve(con)


# -- pass 3: the rows, or a sample of them ----------------------------------------------


def _source(m: Measures, columns: Sequence[str] = ("*",)) -> str:
    """The rows pass 3 measures, all of them or the sample's, with ``columns``."""
    where = f" WHERE {m.sample.where}" if m.sample is not None else ""
    return f"SELECT {', '.join(columns)} FROM {m.relation}{where}"


def _measure_rows(con: duckdb.DuckDBPyConnection, m: Measures, refs: Sequence[Reference]) -> None:
    """One statement: the rows' part below and a left join per reference, side by side."""
    measures = [_Values(col) for col in _measures(m)]
    parts = [_rows_part(m, measures)]
    for ref in refs:
        q = Select()
        source = f"({_source(m, [quote(ref.column)])})"
        parts.append((q, ask_orphans(q, m, ref, source, _rows_measured(m))))
    run_parts(con, m, parts, m.params)
    for found in measures:
        found.count()
    _after_rows(m)


def _rows_part(m: Measures, values: Sequence[_Values]) -> tuple[Select, str]:
    q = Select()
    q.add("count(*)", setter(m, "sample_rows", int))
    if m.keys:
        key_sql = [quote(k) for k in m.keys]
        q.add(f"count_if(NOT ({any_null(key_sql)}))", setter(m, "key_rows", int))
        q.add(_distinct_count(m, key_value(key_sql)), setter(m, "distinct_keys", int))
    for col in _counted_keys(m):
        q.add(f"count({col.sql})", setter(col, "distinct_checked", int))
        q.add(_distinct_count(m, col.sql), setter(col, "exact_distinct", int))
    for found in values:
        found.select(q)
    text = [c.sql for c in m.columns if c.family == "text"]
    if text:
        # Only a value sorting below '!' (empty, or starting with a space) can be blank:
        # one cheap test across the text columns says whether pass 4 counts blanks. Over
        # these rows, not every row: pass 4 counts blanks among these rows anyway.
        q.add(f"count_if({' OR '.join(t + ' < ' + repr('!') for t in text)})",
              setter(m, "maybe_blank", int))  # fmt: skip
    rows = _rows_measured(m)
    if rows <= LIST_DISTINCT_ROWS:
        # Copied rows, by a hash of each whole row: over a few thousand rows a list of the
        # hashes costs less than pass 4's statement would (skipped unless a key proved
        # every row distinct, see _after_rows).
        every = ", ".join(c.sql for c in m.columns)
        q.add(distinct_count(f"hash({every})", rows), setter(m, "distinct_rows", int))
    # A blank value fails every kind's test: pass 4 takes blanks back out when the test
    # above finds any (seldom), which costs less than telling them apart here.
    q.exprs += kind_exprs(q, m, blanks="counted")
    return q, f"(SELECT {', '.join(q.exprs)} FROM ({_source(m)}) AS sqlflow_s)"


def _distinct_count(m: Measures, expr: str) -> str:
    """The distinct non-NULL values of ``expr`` among pass 3's rows."""
    return distinct_count(expr, _rows_measured(m))


def _rows_measured(m: Measures) -> float:
    return m.rows if m.sample is None else m.sample.share * m.rows


def _counted_keys(m: Measures) -> list[ColumnStats]:
    """Key-like columns whose distinct values pass 3 counts (on a sample: the hashed one,
    whose repeats the sample keeps together; no other column's would be)."""
    declared = {k.lower() for k in m.keys}
    if m.sample is not None:
        primary = _hashable_primary(m)
        if primary is None or primary.name.lower() in declared:
            return []
        return [primary] if m.sample.columns == (primary.sql,) else []
    primary = primary_candidate(m)
    found = [
        c
        for c in m.columns
        if may_be_key(c) and c.name.lower() not in declared and not is_float(c.type)
    ]
    found.sort(key=lambda c: c is not primary)
    return found[:MAX_KEY_CHECKS]


def _measures(m: Measures) -> list[ColumnStats]:
    """Numbers with a usual range (no NaN or infinity) whose far-out values are counted."""
    return [c for c in m.columns if _is_measure(c) and c.non_null and not nonfinite_range(c)]


class _Values:
    """A measure's values in pass 3's rows, counted against its fences by Python.

    The mean and spread over every row (``avg``, ``stddev_pop``) were the dearest part of
    the exact pass; over pass 3's rows they cost next to nothing, and fences from a sample
    are as good a yardstick. The values come back as a list so that the far-out ones can
    be counted in the same statement that measures the fences.
    """

    def __init__(self, col: ColumnStats) -> None:
        self.col, self.values = col, []

    def select(self, q: Select) -> None:
        """Add the mean, spread and values of the column to ``q``."""
        x = f"CAST({self.col.sql} AS DOUBLE)"
        q.add(f"avg({x})", setter(self.col, "mean", float))
        q.add(f"stddev_pop({x})", setter(self.col, "spread", float))
        q.add(f"list({x})", setter(self, "values"))

    def count(self) -> None:
        """Far-out values, counted when the column's min or max lies beyond its fences."""
        col = self.col
        col.fences = fences(col)
        values = [v for v in self.values or () if v is not None]
        if col.fences is not None and beyond(col, col.fences) and values:
            lo, hi = col.fences
            col.outliers = sum(1 for v in values if v < lo or v > hi)
            col.outliers_checked = len(values)


def _after_rows(m: Measures) -> None:
    """What pass 3's counts say about the whole batch."""
    share = m.sample.share if m.sample is not None else 1.0
    for col in m.columns:
        if col.exact_distinct is not None:
            # A sample keeps each value of the hashed column with probability ``share``.
            col.distinct = round(col.exact_distinct / share)
    if m.keys and m.distinct_keys is not None and len(m.keys) == 1:
        m.column(m.keys[0]).distinct = round(m.distinct_keys / share)
    # A key that is unique in every row measured proves that no row repeats; without one,
    # whole rows are hashed: by pass 3 over a few thousand rows, else by pass 4.
    if m.distinct_keys == m.sample_rows or any(
        c.exact_distinct == c.distinct_checked == m.sample_rows for c in m.columns
    ):
        m.distinct_rows = m.sample_rows


# -- pass 4: what pass 3 left open ------------------------------------------------------


def _settle(con: duckdb.DuckDBPyConnection, m: Measures) -> None:
    """Exact counts over every row, and per-column blanks or copied rows over pass 3's
    rows, in one statement; none when nothing is open."""
    exact, uses_now = Select(), False
    for col in m.columns:
        if col.family == "numeric" and nonfinite_range(col):
            exact.add(f"count_if(NOT isfinite({col.sql}))", setter(col, "nonfinite", int))
        elif col.family == "numeric" and _missed_outliers(m, col) and col.fences is not None:
            lo, hi = col.fences
            x = f"CAST({col.sql} AS DOUBLE)"
            exact.add(f"count_if({x} < {lo!r} OR {x} > {hi!r})", setter(col, "outliers", int))
            col.outliers_checked = col.non_null
        elif col.family == "time":
            uses_now = ask_time(exact, col, m) or uses_now
    rows, blanks = Select(), []
    if m.maybe_blank:
        for col in (c for c in m.columns if c.family == "text"):
            found = _Blanks(col)
            blanks.append(found)
            rows.add(f"count({col.sql})", setter(found, "among", int))
            rows.add(blank_count(col), setter(found, "blanks", int))
    if m.distinct_rows is None:
        rows.add(distinct_rows(m), setter(m, "distinct_rows", int))
    parts = [(q, f"(SELECT {', '.join(q.exprs)} FROM {source})")
             for q, source in ((exact, m.relation), (rows, f"({_source(m)}) AS sqlflow_s"))
             if q.exprs]  # fmt: skip
    if not parts:
        return
    run_parts(con, m, parts, {**m.params, "sqlflow_now": m.now} if uses_now else m.params)
    for found in blanks:
        found.settle()


def _missed_outliers(m: Measures, col: ColumnStats) -> bool:
    """Whether a sample found no far-out value although min or max lies beyond its fences:
    the few there are get counted over every row."""
    return m.sampled and not col.outliers and col.fences is not None and beyond(col, col.fences)


class _Blanks:
    """Blank values of a column among the non-NULL values pass 3 measured."""

    def __init__(self, col: ColumnStats) -> None:
        self.col, self.among, self.blanks = col, 0, 0

    def settle(self) -> None:
        """Take the blanks out of the kind's check (pass 3 counted them as failing), and
        set the column's blanks: as counted, or estimated for every row from a sample."""
        col = self.col
        if col.kind is not None and col.checked:
            col.checked -= self.blanks
            col.invalid -= self.blanks
        if self.among:
            col.blanks = round(self.blanks * col.non_null / self.among)
