"""Measuring a relation for its profile in as few statements as DuckDB allows.

Two sets of passes share the measurements defined here: ``measure_table`` for a whole
table on demand (``full=True``, every value checked), below, and
``quality.batch.measure_batch`` for the rows a run wrote, which must cost a small share of
the run and so measures a large batch partly on a repeatable sample. Both start with

1. ``describe``: ``DESCRIBE``, and the kinds that column names give away.

A whole table then takes:

2. One aggregate over every row: per column counts, min/max, mean and spread; declared
   keys; ordered pairs; one cheap test for blanks across all text columns. Most findings
   are decided here, and the aggregate also says which rarer things need a closer look.
   Side by side in the same statement: the first ``SAMPLE_ROWS`` values of the text
   columns no name explains (a ``LIMIT`` reads a row group, not the relation), to
   recognise them by their values, and the catalog lookup for ``*_id`` references.
3. One follow-up query with what pass 2 asked for: far-out values (only columns whose
   min or max lies beyond the fences), blanks (only when some value starts below '!'),
   future times (only columns whose max is past now), exact distinct counts of would-be
   keys; and, as subqueries of the same statement, the format and type checks and a left
   join per ``*_id`` reference.
4. Exact duplicate rows: ruled out by a unique key or would-be key, or counted from a hash
   of every row in the follow-up, or, when a would-be key turns out not unique, in one
   more query.

So a table takes two or three statements besides ``DESCRIBE``. DuckDB spends about a
millisecond planning and starting each, and a tenth of one per expression, so parts that
do not depend on each other share a statement. The rule throughout is to pay for an
expensive expression (``trim``, a regex, a filtered max, a distinct count) only on the
columns and rows that a cheap one (``count_if(c < '!')``, ``max(c)``, an approximate
count) has shown need it.

Identifiers are quoted with ``quote``; values (the reference time, catalog names) are
bound parameters; the only numbers written into SQL text are fences computed here from
DuckDB's own floats and a sample's hash bound.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from sqlflow_magic.engine import parsed
from sqlflow_magic.engine.base import Column, Query, TableRef
from sqlflow_magic.engine.duckdb import DuckDBEngine, as_naive_utc
from sqlflow_magic.quality.formats import (
    FORMATS,
    FUTURE_WORDS,
    KINDS,
    name_words,
    paired_columns,
)
from sqlflow_magic.quality.recognised import KindsOfColumns
from sqlflow_magic.state.store import STATE_SCHEMA
from sqlflow_magic.syntax.names import quote

# Text columns are recognised by their first SAMPLE_ROWS values: 200 tell a column of
# numbers or UUIDs (>= 90% of them) as surely as more would, and cost a fifth to read
# and match in Python.
SAMPLE_ROWS = 200
# A run that wrote more than CHECK_ROWS rows is measured partly on a repeatable sample of
# about that many (quality.batch); a share measured on 2,000 values is within about
# 3 * sqrt(p * (1 - p) / 2000) of the truth (+-0.7 points at 1%), plenty to rank a finding.
CHECK_ROWS = 2_000
# A sample hashes keys so that repeats stay together; it keeps at least this many distinct
# keys (more rows when each key has many), else it is no sample and every row is measured.
SAMPLE_MIN_KEYS = 200
SAMPLE_SEED = 42
# Up to this many rows, a distinct count deduplicates a list of the values (see
# distinct_count).
LIST_DISTINCT_ROWS = 20_000
# A column is taken to hold a format (or a type) when this share of its sample does.
RECOGNISE_SHARE = 0.9
RECOGNISE_MIN_VALUES = 5
# Far-out values: more than FENCE_Z standard deviations from the mean.
FENCE_Z = 4.0
# More far-out values than this share is a long tail, not a few wrong values.
OUTLIER_MAX_SHARE = 0.05
# Key-like columns whose approximate distinct count reaches this share of their values
# get an exact count, as would-be keys (at most MAX_KEY_CHECKS of them).
KEY_DISTINCT_SHARE = 0.97
PRIMARY_DISTINCT_SHARE = 0.85
MAX_KEY_CHECKS = 3
# Joins against referenced tables: at most this many per profile.
MAX_REFERENCE_CHECKS = 3
# A run's profile checks references only into tables of at most this many rows: the
# orphan check reads every key of the referenced table (~5 ms per million on a 2-core
# machine), whatever the batch. %sqlflow quality TABLE checks them all.
RUN_REFERENCE_ROWS = 2_000_000
FUTURE_SLACK = dt.timedelta(days=1)
SHOWN_CHARS = 60

# Names of identifiers: unique keys, references, and the columns whose range means nothing.
KEY_NAME = re.compile(r"(.*_)?(id|key|uuid|guid|no|nr)", re.IGNORECASE)
_NUMERIC = re.compile(
    r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\))"
)
_NESTED = re.compile(r"(STRUCT|MAP|UNION)\(|.*\]$")


@dataclass(frozen=True)
class Reference:
    """A column whose values should exist in another table's column (an orphan check).

    Attributes:
        column: the profiled column (``customer_id``).
        table: the referenced table as quoted SQL (``"memory"."main"."customers"``).
        table_column: the referenced column (``customer_id`` or ``id``).
        label: the table as users name it (``main.customers``).
    """

    column: str
    table: str
    table_column: str
    label: str


@dataclass
class ColumnStats:
    """Raw measurements of one column, filled in by the passes."""

    name: str
    type: str
    family: str  # numeric, time, text, boolean, nested, other
    non_null: int = 0
    maybe_blank: int = 0  # values sorting below '!': an upper bound of the blanks
    blanks: int = 0  # of a sampled batch: an estimate for all its rows
    distinct: int | None = None  # approximate, or estimated from a sample
    exact_distinct: int | None = None
    distinct_checked: int = 0  # the present values exact_distinct was counted among
    min: object = None
    max: object = None
    mean: float | None = None
    spread: float | None = None  # population standard deviation
    kind: str | None = None  # a formats.KINDS name
    kind_by_name: bool = False
    checked: int = 0  # present values the kind's test ran on (all of them, or a sample)
    invalid: int = 0  # of those, the ones that failed
    example: str | None = None  # a failing value, for apparent-type failures only
    nonfinite: int = 0
    outliers: int = 0
    outliers_checked: int = 0  # the values outliers were counted among (all, or a sample)
    fences: tuple[float, float] | None = None
    future: int = 0
    newest: dt.datetime | None = None  # the newest value not in the future, naive UTC

    @property
    def sql(self) -> str:
        """The quoted column."""
        return quote(self.name)

    @property
    def present(self) -> int:
        """Values that are neither NULL nor blank."""
        return self.non_null - self.blanks

    @property
    def sampled(self) -> bool:
        """Whether the kind's test ran on a sample of the present values only."""
        return self.checked < self.present


@dataclass
class PairStats:
    """Rows of a (first, second) pair where first > second, of rows where both are set."""

    first: str
    second: str
    compared: int = 0
    reversed: int = 0


@dataclass
class OrphanStats:
    """Rows whose ``reference.column`` value is missing from the referenced table."""

    reference: Reference
    checked: int = 0  # rows with a value that were looked up (all, or a sample)
    rows: int = 0  # of those, the ones without a match
    values: int = 0  # distinct values among them
    example: object = None


@dataclass(frozen=True)
class Sample:
    """A repeatable sample of a batch: its rows whose hash of ``columns`` is below ``bound``.

    Hashing the rows' own values (the key, where there is one) makes the sample the same
    on every run over the same rows, lets DuckDB skip the other columns of the rows left
    out while it scans (a filter, not a ``USING SAMPLE`` that reads every value), and keeps
    rows with equal ``columns`` together: repeated keys and copied rows stay countable.

    Attributes:
        columns: the quoted columns hashed.
        share: the share of the hash range kept, so of distinct ``columns`` values.
    """

    columns: tuple[str, ...]
    share: float

    @classmethod
    def of(cls, columns: tuple[str, ...], share: float) -> Sample | None:
        """A sample keeping at least ``share``, None when that is every row.

        The share is rounded up to a step of 2 ** (1/4) (at most 19% more rows), so runs
        of about the same size write the same statements, which are then parsed once
        (``engine.parsed``).
        """
        if share >= 1:
            return None
        step = 2 ** (math.ceil(4 * math.log2(share) - 1e-9) / 4)
        return cls(columns, step) if step < 1 else None

    @property
    def where(self) -> str:
        """The filter that keeps the sample's rows."""
        bound = int(self.share * 2**64)
        return f"hash({', '.join(self.columns)}, {SAMPLE_SEED}) < {bound}::UBIGINT"


@dataclass
class Measures:
    """Everything the passes measured; ``recommend`` turns it into findings.

    ``relation`` and ``params`` say what is measured: a FROM item and the parameters it
    binds. Measures of a ``sample`` (see ``quality.batch``) count ``sample_rows`` rows;
    without one they count every row.
    """

    rows: int
    columns: list[ColumnStats]
    relation: str = ""
    params: dict[str, object] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    sample: Sample | None = None
    sample_rows: int = 0  # rows the uniqueness measures saw: all, or the sample's
    distinct_rows: int | None = None  # of sample_rows
    null_keys: int = 0  # of all rows
    approx_keys: int | None = None  # distinct keys, approximately, of all rows
    key_rows: int = 0  # of sample_rows, those with every key set
    distinct_keys: int | None = None  # of key_rows
    pairs: list[PairStats] = field(default_factory=list)
    orphans: list[OrphanStats] = field(default_factory=list)
    freshness_columns: tuple[str, ...] = ()
    now: dt.datetime = dt.datetime(1970, 1, 1)
    maybe_blank: int = 0  # rows where some text value sorts below '!'
    queries: int = 0

    @property
    def sampled(self) -> bool:
        """Whether some measures come from a sample of the rows rather than all of them."""
        return self.sample is not None

    def column(self, name: str) -> ColumnStats:
        """The stats of column ``name`` (case-insensitive)."""
        return next(c for c in self.columns if c.name.lower() == name.lower())


def describe(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    params: Mapping[str, object] | None,
    *,
    keys: Sequence[str],
    time_columns: Sequence[str] | None,
    now: dt.datetime,
    columns: Sequence[Column] | None = None,
) -> Measures:
    """Pass 1: the columns of ``relation_sql`` (unless ``columns`` gives them), and the
    kinds their names say they hold."""
    bound = dict(params or {})
    # A relation binds without running: cheaper than DESCRIBE, with the same type names.
    described = columns or DuckDBEngine(con).query_columns(Query(relation_sql, bound))
    seen: set[str] = set()
    stats = []
    for name, dtype in ((c.name, c.type) for c in described):
        if name.lower() not in seen:  # a repeated name cannot be told apart by reference
            seen.add(name.lower())
            stats.append(ColumnStats(name, dtype, _family(dtype)))
    m = Measures(rows=0, columns=stats, relation=f"({relation_sql}) AS sqlflow_r",
                 params=bound, now=now, queries=0 if columns else 1)  # fmt: skip
    by_lower = {c.name.lower(): c for c in stats}
    m.keys = tuple(by_lower[k.lower()].name for k in keys if k.lower() in by_lower)
    fresh = time_columns if time_columns is not None else [c.name for c in stats]
    m.freshness_columns = tuple(
        by_lower[t.lower()].name
        for t in fresh
        if t.lower() in by_lower and by_lower[t.lower()].family == "time"
    )
    for col in m.columns:
        named = next((f for f in FORMATS if f.names_column(col.name)), None)
        if col.family == "text" and named is not None:
            col.kind, col.kind_by_name = named.name, True
    return m


def measure_table(
    con: duckdb.DuckDBPyConnection,
    m: Measures,
    references: Sequence[Reference] | None,
    target: TableRef | None,
) -> None:
    """Passes 2 to 4 of a whole table: every value of every row."""
    lookup = ReferenceLookup(m, target, references)
    _aggregate(con, m, lookup)
    m.sample_rows = m.rows
    m.key_rows = m.rows - m.null_keys
    if m.rows:
        _follow_up(con, m, lookup.refs[:MAX_REFERENCE_CHECKS])


def _family(dtype: str) -> str:
    upper = dtype.upper()
    if _NESTED.match(upper):
        return "nested"
    if _NUMERIC.fullmatch(upper):
        return "numeric"
    if DuckDBEngine.is_time_type(upper):
        return "time"
    if upper == "VARCHAR" or upper.startswith("VARCHAR("):
        return "text"
    if upper == "BOOLEAN":
        return "boolean"
    return "other"


def is_float(dtype: str) -> bool:
    """Whether ``dtype`` is a binary floating-point type (values may be NaN or infinite)."""
    return dtype.upper() in ("FLOAT", "DOUBLE")


class Select:
    """A SELECT list built with a setter per expression, so results land where they belong."""

    def __init__(self) -> None:
        self.exprs: list[str] = []
        self.setters: list[Callable[[object], None]] = []

    def add(self, expr: str, setter: Callable[[object], None]) -> None:
        """Select ``expr``; its value goes to ``setter``."""
        self.exprs.append(expr)
        self.setters.append(setter)

    def put(self, values: Sequence[object]) -> None:
        """Hand ``values``, in SELECT order, to their setters."""
        for setter, value in zip(self.setters, values, strict=True):
            setter(value)


def setter(obj: object, attr: str, convert: Callable[[object], object] | None = None):
    """A setter of ``obj.attr`` that converts non-NULL values with ``convert``."""

    def put(value: object) -> None:
        setattr(obj, attr, convert(value) if convert is not None and value is not None else value)

    return put


def run_parts(
    con: duckdb.DuckDBPyConnection,
    m: Measures,
    parts: Sequence[tuple[Select, str]],
    params: Mapping[str, object],
) -> None:
    """One statement selecting from every part side by side (each a one-row subquery
    whose columns are its Select's); each value goes to its setter."""
    sql = f"SELECT * FROM {', '.join(part for _, part in parts)}"
    values = list(parsed.run(con, sql, dict(params)).fetchall()[0])
    m.queries += 1
    for q, _ in parts:
        q.put(values[: len(q.setters)])
        del values[: len(q.setters)]


# -- what the text columns hold, and which tables the *_id columns point at ------------


def recognition_part(m: Measures, memo: KindsOfColumns | None = None) -> list[tuple[Select, str]]:
    """The first ``SAMPLE_ROWS`` values of the text columns no name explains, as a part of
    pass 2's statement; the kinds are recognised from them when the values arrive.

    With a ``memo`` (see ``quality.recognised``), columns recognised in an earlier run
    keep that kind and are not read; only a full look (``SAMPLE_ROWS`` rows) goes into
    it, whatever it found, so a smaller batch is looked at again next time.
    """
    unknown = []
    for col in m.columns:
        if col.family != "text" or col.kind is not None:
            continue
        key = (col.name.lower(), col.type)
        if memo is not None and key in memo:
            col.kind = memo[key]
        else:
            unknown.append(col)
    if not unknown:
        return []

    def recognise(lists) -> None:
        lists = lists or [[] for _ in unknown]
        _recognise(unknown, lists)
        if memo is not None and len(lists[0] or ()) >= SAMPLE_ROWS:  # list() keeps NULLs
            for col in unknown:
                memo[(col.name.lower(), col.type)] = col.kind

    q = Select()
    q.setters.append(recognise)
    values = ", ".join(f"list({c.sql})" for c in unknown)
    first = f"SELECT {', '.join(c.sql for c in unknown)} FROM {m.relation} LIMIT {SAMPLE_ROWS}"
    return [(q, f"(SELECT [{values}] FROM ({first}))")]


def _recognise(columns: Sequence[ColumnStats], lists: Sequence[Sequence[object]]) -> None:
    """Recognise each column's kind by its values: the first kind most of them match.

    The values are matched in Python with each kind's pattern, giving up on a kind as
    soon as too many values fail it: cheaper than asking DuckDB to try every regex on
    every value of every column.
    """
    candidates = [f for f in FORMATS if f.by_values]
    for col, column_values in zip(columns, lists, strict=True):
        # list() over no rows is NULL: an empty batch has nothing to recognise
        values = [v for v in column_values or () if isinstance(v, str) and v.strip()]
        if len(values) < RECOGNISE_MIN_VALUES:
            continue
        allowed = len(values) - RECOGNISE_SHARE * len(values)
        for kind in candidates:
            misses = 0
            for value in values:
                misses += not kind.matches(value)
                if misses > allowed:
                    break
            else:
                col.kind = kind.name
                break


# -- a whole table, pass 2: the one aggregate -------------------------------------------


def _aggregate(con: duckdb.DuckDBPyConnection, m: Measures, lookup: ReferenceLookup) -> None:
    # Plain count_if() everywhere: a CASE or FILTER makes DuckDB select rows per
    # expression, which costs more than evaluating a cheap condition on every row.
    q = Select()
    q.add("count(*)", setter(m, "rows", int))
    for col in m.columns:
        c = col.sql
        q.add(f"count({c})", setter(col, "non_null", int))
        q.add(f"approx_count_distinct({c})", setter(col, "distinct", int))
        if col.family != "nested":
            q.add(f"min({c})", setter(col, "min"))
            q.add(f"max({c})", setter(col, "max"))
        if col.family == "numeric" and not KEY_NAME.fullmatch(col.name):
            # Identifiers and codes have no "usual range": a far-out id is just a new id.
            q.add(f"avg(CAST({c} AS DOUBLE))", setter(col, "mean", float))
            q.add(f"stddev_pop(CAST({c} AS DOUBLE))", setter(col, "spread", float))
    text = [c.sql for c in m.columns if c.family == "text"]
    if text:
        # Only a value sorting below '!' (empty, or starting with a space) can be blank:
        # one cheap test across all text columns decides whether pass 3 counts blanks.
        q.add(f"count_if({' OR '.join(t + ' < ' + repr('!') for t in text)})",
              setter(m, "maybe_blank", int))  # fmt: skip
    if m.keys:
        key_sql = [quote(k) for k in m.keys]
        q.add(f"count_if({any_null(key_sql)})", setter(m, "null_keys", int))
        q.add(f"count(DISTINCT {key_value(key_sql)})", setter(m, "distinct_keys", int))
    add_pairs(q, m)
    parts = [(q, f"(SELECT {', '.join(q.exprs)} FROM {m.relation})"), *recognition_part(m)]
    run_parts(con, m, parts + lookup.parts, {**m.params, **lookup.params})
    lookup.resolve(con)


def any_null(key_sql: Sequence[str]) -> str:
    """A condition true when some of the (quoted) key columns is NULL."""
    return " OR ".join(f"{k} IS NULL" for k in key_sql)


def key_value(key_sql: Sequence[str]) -> str:
    """One value per row for its key: the column, or a row of them unless one is NULL."""
    if len(key_sql) == 1:
        return key_sql[0]
    return f"CASE WHEN NOT ({any_null(key_sql)}) THEN ({', '.join(key_sql)}) END"


def add_pairs(q: Select, m: Measures) -> None:
    """Count the rows of each ordered pair of columns, and those in the wrong order."""
    for first, second in paired_columns([c.name for c in m.columns]):
        a, b = m.column(first), m.column(second)
        if a.family != b.family or a.family not in ("numeric", "time"):
            continue
        pair = PairStats(a.name, b.name)
        m.pairs.append(pair)
        q.add(f"count_if({a.sql} IS NOT NULL AND {b.sql} IS NOT NULL)",
              setter(pair, "compared", int))  # fmt: skip
        q.add(f"count_if({a.sql} > {b.sql})", setter(pair, "reversed", int))


def may_be_key(col: ColumnStats) -> bool:
    """Whether the column's name and type let it be an identifier (``id``, ``*_no``)."""
    return col.family in ("numeric", "text", "other") and bool(KEY_NAME.fullmatch(col.name))


# -- a whole table, pass 3: only what pass 2 asked for ----------------------------------


def _follow_up(con: duckdb.DuckDBPyConnection, m: Measures, refs: Sequence[Reference]) -> None:
    """One query for everything pass 2 could not settle, and for the checks of every
    value (formats, types, orphans); none when nothing is left.

    Exact duplicate rows need a hash of every row and an exact distinct count of the
    hashes, the dearest thing in a profile. A unique declared key or would-be key proves
    there are none, so when there is a would-be key it is counted first, and the hashes
    only when it turns out not to be unique (one more query).
    """
    q = Select()
    uses_now = False
    for col in m.columns:
        if col.family == "numeric":
            ask_numeric(q, col)
            col.outliers_checked = col.non_null
        elif col.family == "text" and m.maybe_blank:
            # trim() only on values that start below '!' (CASE evaluates it on those).
            q.add(blank_count(col), setter(col, "blanks", int))
        elif col.family == "time":
            uses_now = ask_time(q, col, m) or uses_now
    keys = _would_be_keys(m)
    for col in keys:
        q.add(f"count(DISTINCT {col.sql})", setter(col, "exact_distinct", int))
        col.distinct_checked = col.non_null
    if m.keys and m.distinct_keys == m.rows:
        m.distinct_rows = m.rows  # a unique declared key: no row can repeat
    elif not keys:
        q.add(distinct_rows(m), setter(m, "distinct_rows", int))
    parts = [f"(SELECT {', '.join(q.exprs)} FROM {m.relation})"] if q.exprs else []
    parts += _ask_kinds(q, m)
    for ref in refs:
        parts.append(ask_orphans(q, m, ref, f"(SELECT {quote(ref.column)} FROM {m.relation})"))
    if parts:
        bound = {**m.params, "sqlflow_now": m.now} if uses_now else m.params
        q.put(con.execute(f"SELECT * FROM {', '.join(parts)}", bound or None).fetchall()[0])
        m.queries += 1
    if m.distinct_rows is None:
        if any(c.exact_distinct == c.non_null == m.rows for c in keys):
            m.distinct_rows = m.rows
        else:
            row = con.execute(f"SELECT {distinct_rows(m)} FROM {m.relation}", m.params or None)
            m.distinct_rows = int(row.fetchall()[0][0])
            m.queries += 1


def blank_count(col: ColumnStats) -> str:
    """Count the column's empty or whitespace-only values; trim() only runs on values that
    start below '!' (a CASE evaluates its THEN on those rows alone)."""
    return f"count(CASE WHEN {col.sql} < '!' AND trim({col.sql}) = '' THEN 1 END)"


def ask_numeric(q: Select, col: ColumnStats) -> None:
    """Count non-finite values when min or max is not a number, else far-out values when
    min or max lies beyond the fences of ``col.mean`` and ``col.spread``."""
    if nonfinite_range(col):
        # NaN sorts above every number and infinities sit at the ends: only then count.
        q.add(f"count_if(NOT isfinite({col.sql}))", setter(col, "nonfinite", int))
        return
    col.fences = fences(col)
    if col.fences is not None and beyond(col, col.fences):
        lo, hi = col.fences
        x = f"CAST({col.sql} AS DOUBLE)"
        q.add(f"count_if({x} < {lo!r} OR {x} > {hi!r})", setter(col, "outliers", int))


def nonfinite_range(col: ColumnStats) -> bool:
    """Whether a float column's min or max is NaN or infinite (so some value is)."""
    low, high = as_float(col.min), as_float(col.max)
    return is_float(col.type) and (low is None or high is None) and col.non_null > 0


def fences(col: ColumnStats) -> tuple[float, float] | None:
    """``FENCE_Z`` standard deviations either side of the mean, when there is a spread."""
    if col.mean is None or col.spread is None or not col.spread > 0:
        return None
    if not (math.isfinite(col.mean) and math.isfinite(col.spread)):
        return None
    return col.mean - FENCE_Z * col.spread, col.mean + FENCE_Z * col.spread


def beyond(col: ColumnStats, bounds: tuple[float, float]) -> bool:
    """Whether the column's min or max lies outside ``bounds``."""
    low, high = as_float(col.min), as_float(col.max)
    return low is not None and high is not None and (low < bounds[0] or high > bounds[1])


def kind_exprs(q: Select, m: Measures, *, blanks: str) -> list[str]:
    """The format and type checks of every column of a known kind, over columns of that
    name; their setters are added to ``q``, in the order of the expressions returned.

    ``blanks`` says what to do with blank values: ``"none"`` there are none (plain counts),
    ``"left_out"`` leave them out of the checks (a CASE each), ``"counted"`` count them as
    present and failing (plain counts, cheaper to plan) for the caller to subtract once it
    has counted blanks: every kind's test fails on a blank value. A regex costs ~150 ns a
    value, the dearest check of a profile, which is why a run's profile checks a sample of
    a large batch (``quality.batch``).
    """
    exprs = []
    for col in checked_columns(m):
        c, kind = col.sql, KINDS[col.kind or ""]
        # A test may be false (not NULL) on NULL, so NULLs are kept out explicitly.
        bad = f"{c} IS NOT NULL AND NOT ({kind.sql(c)})"
        blank = f"({c} < '!' AND trim({c}) = '')"  # trim() only where c < '!' holds
        if blanks == "left_out":
            # CASE, not count_if: trim() then runs only on values that start below '!'.
            bad = f"{bad} AND NOT {blank}"
            exprs += [
                f"count(CASE WHEN {c} IS NOT NULL AND NOT {blank} THEN 1 END)",
                f"count(CASE WHEN {bad} THEN 1 END)",
            ]
        else:
            exprs += [f"count({c})", f"count_if({bad})"]
        q.setters += [setter(col, "checked", int), setter(col, "invalid", int)]
        if kind.is_type:
            # Text that should be a number: one offending value says what to fix. (None for
            # formats: an invalid email or phone number is still personal data.)
            shown = f"{bad} AND NOT {blank}" if blanks == "counted" else bad
            exprs.append(f"left(min(CASE WHEN {shown} THEN {c} END), 30)")
            q.setters.append(setter(col, "example"))
    return exprs


def checked_columns(m: Measures) -> list[ColumnStats]:
    """The columns of a recognised kind that hold some value."""
    return [c for c in m.columns if c.kind is not None and c.non_null]


def _ask_kinds(q: Select, m: Measures) -> list[str]:
    """The format and type checks of a whole table: one subquery part."""
    checked = checked_columns(m)
    if not checked:
        return []
    source = f"(SELECT {', '.join(c.sql for c in checked)} FROM {m.relation}) AS sqlflow_s"
    exprs = kind_exprs(q, m, blanks="left_out" if m.maybe_blank else "none")
    return [f"(SELECT {', '.join(exprs)} FROM {source})"]


def ask_orphans(
    q: Select, m: Measures, ref: Reference, source: str, rows: float | None = None
) -> str:
    """One left join against the referenced table: rows whose value it lacks.

    ``source`` is a FROM item with the profiled column (all rows, or a sample of about
    ``rows``); its setters are added to ``q``. A left join, not NOT EXISTS: DuckDB plans
    it without grouping the relation, about twice as fast, and unmatched rows are never
    multiplied.
    """
    stats = OrphanStats(ref)
    m.orphans.append(stats)
    c, k = f"sqlflow_o.{quote(ref.column)}", f"sqlflow_t.{quote(ref.table_column)}"
    missing = f"CASE WHEN {k} IS NULL THEN {c} END"
    q.setters += [setter(stats, "checked", int), setter(stats, "rows", int),
                  setter(stats, "values", int), setter(stats, "example")]  # fmt: skip
    # LIMIT the relation's exact row count: it filters nothing, but tells the optimizer
    # how small the profiled side is. Its estimate of a filtered sample is far too high,
    # so it would build the join's hash table on the referenced table instead (measured:
    # 37 ms against 9 ms for a 2,500-row sample against 1M customers).
    return (
        f"(SELECT count(*), count_if({k} IS NULL), {distinct_count(missing, rows)}, "
        f"min({missing}) FROM (SELECT * FROM {source} AS sqlflow_l LIMIT {_at_least(m.rows)}) "
        f"AS sqlflow_o LEFT JOIN {ref.table} AS sqlflow_t ON {k} = {c} WHERE {c} IS NOT NULL)"
    )


def distinct_count(expr: str, rows: float | None = None) -> str:
    """Count the distinct non-NULL values of ``expr`` over about ``rows`` rows.

    ``count(DISTINCT ...)`` makes DuckDB plan a grouped aggregate of its own beside the
    others (a shared scan, a hash table): 1-2 ms over a 2,000-row sample, more than the
    values cost. Deduplicating their list is cheaper while the rows are few (``rows`` not
    None and at most ``LIST_DISTINCT_ROWS``).
    """
    if rows is None or rows > LIST_DISTINCT_ROWS:
        return f"count(DISTINCT {expr})"
    return f"coalesce(len(list_distinct(list({expr}))), 0)"


def _at_least(rows: int) -> int:
    # A power of two, so that batches of about the same size write the same statement.
    return 1 << max(int(rows) - 1, 0).bit_length()


def ask_time(q: Select, col: ColumnStats, m: Measures) -> bool:
    """The newest value up to now and the values in the future, when the max is past now;
    returns whether the expressions bind ``$sqlflow_now``."""
    # min and max of a time column come back as date or datetime; the newest as a naive
    # UTC datetime (DATE as its midnight), as the engine reads a window's newest value.
    newest = as_naive_utc(col.max)
    if newest is None:
        return False
    fresh = col.name in m.freshness_columns
    if newest <= m.now:
        col.newest = newest if fresh else None
        return False
    utc = _utc_sql(col)
    if fresh:
        q.add(f"max(CASE WHEN isfinite({col.sql}) AND {utc} <= $sqlflow_now THEN {utc} END)",
              setter(col, "newest", as_naive_utc))  # fmt: skip
    if newest > m.now + FUTURE_SLACK and not FUTURE_WORDS.intersection(name_words(col.name)):
        slack = f"INTERVAL {int(FUTURE_SLACK.total_seconds())} SECOND"
        q.add(f"count_if(isfinite({col.sql}) AND {utc} > $sqlflow_now + {slack})",
              setter(col, "future", int))  # fmt: skip
    return True


def _utc_sql(col: ColumnStats) -> str:
    # Times compare as naive UTC TIMESTAMPs (how sqlflow stores times), so the session's
    # TimeZone moves neither "now" nor the newest value.
    if col.type.upper() == "TIMESTAMP WITH TIME ZONE":
        return f"({col.sql} AT TIME ZONE 'UTC')"
    return f"CAST({col.sql} AS TIMESTAMP)"  # a DATE as its midnight


def as_float(value: object) -> float | None:
    """``value`` as a finite float, or None (NULL, NaN, infinite, not a number)."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def distinct_rows(m: Measures) -> str:
    """Count the distinct rows, by a hash of the whole row."""
    # A 64-bit hash of the whole row: two different rows collide with odds of about
    # rows^2 / 2^65 (3e-6 for 10M rows), so a reported duplicate is a real one.
    return f"count(DISTINCT hash({', '.join(c.sql for c in m.columns)}))"


def primary_candidate(m: Measures) -> ColumnStats | None:
    """The column that looks like the relation's own key: ``id``, else the first ``*_id``."""
    for col in m.columns:
        if name_words(col.name) in (["id"], ["uuid"], ["guid"], ["key"]):
            return col
    return next((c for c in m.columns if KEY_NAME.fullmatch(c.name)), None)


def _would_be_keys(m: Measures) -> list[ColumnStats]:
    """Key-like columns (``id``, ``*_id``, ``*_no``) whose approximate distinct count says
    they may be unique: they get an exact count. The relation's own key candidate is
    counted from a lower share, so a key with a few repeats is caught (HyperLogLog is off
    by a few percent). Declared keys are counted exactly in pass 2; other columns (an email
    per row) are not worth an exact count.
    """
    declared = {k.lower() for k in m.keys}
    primary = primary_candidate(m)
    found = [
        c
        for c in m.columns
        if may_be_key(c)
        and c.name.lower() not in declared
        and c.non_null >= 2
        and c.distinct is not None
        and c.distinct
        >= (PRIMARY_DISTINCT_SHARE if c is primary else KEY_DISTINCT_SHARE) * c.non_null
        and not is_float(c.type)
    ]
    return found[:MAX_KEY_CHECKS]


# -- references -------------------------------------------------------------------------


class ReferenceLookup:
    """Tables that ``*_id`` columns point at, by name: ``customer_id`` -> ``customers``.

    The referenced column is one of the same name or ``id``, of the same kind of type,
    in the target's database (the current one without a target), outside the state
    schema, and never the target itself. ``parts`` finds the tables of those names: pass 2
    adds it to its statement. ``resolve`` then binds each table found (no statement runs)
    for its columns; reading ``duckdb_columns()`` instead would list every column of every
    table, views and system catalogs included (4.8 ms against 2.6 ms, binds included, for
    a four-table database). ``refs`` holds the references found, or the ``given`` ones.
    """

    def __init__(
        self,
        m: Measures,
        target: TableRef | None,
        given: Sequence[Reference] | None = None,
        max_rows: int | None = None,
    ) -> None:
        self.target = target
        self.max_rows = max_rows  # a referenced table larger than this is not checked
        self.refs: list[Reference] = list(given or ())
        self.wanted: dict[str, ColumnStats] = {}
        self.tables: list[Sequence[object]] = []  # (database, schema, table), as found
        if given is not None:
            return
        declared = {k.lower() for k in m.keys}
        for col in m.columns:
            words = name_words(col.name)
            if len(words) >= 2 and words[-1] == "id" and col.name.lower() not in declared:
                for table in _plurals("_".join(words[:-1])):
                    self.wanted.setdefault(table, col)

    @property
    def parts(self) -> list[tuple[Select, str]]:
        """The catalog lookup as a statement part, or none when nothing is looked for."""
        if not self.wanted:
            return []
        q = Select()
        q.setters.append(lambda rows: self.tables.extend(rows or ()))
        # The target's schema first, so an unqualified name resolves as users expect.
        return [(q, (
            "(SELECT list([database_name, schema_name, table_name] "
            "ORDER BY schema_name <> coalesce($sqlflow_schema, current_schema()), "
            "schema_name, table_name) "
            "FROM duckdb_tables() "
            "WHERE database_name = coalesce($sqlflow_catalog, current_database()) "
            "AND schema_name <> $sqlflow_state AND list_contains($sqlflow_tables, "
            "lower(table_name)) AND ($sqlflow_max_rows IS NULL "
            "OR coalesce(estimated_size, 0) <= $sqlflow_max_rows))"
        ))]  # fmt: skip

    @property
    def params(self) -> dict[str, object]:
        """The parameters ``parts`` binds."""
        if not self.wanted:
            return {}
        target = self.target
        return {
            "sqlflow_catalog": target.catalog if target is not None else None,
            "sqlflow_schema": target.schema if target is not None else None,
            "sqlflow_state": STATE_SCHEMA,
            "sqlflow_tables": list(self.wanted),
            "sqlflow_max_rows": self.max_rows,
        }

    def resolve(self, con: duckdb.DuckDBPyConnection) -> None:
        """Turn the tables ``parts`` found into references, binding each for its columns."""
        target = self.target
        mine = None if target is None else tuple(
            p.lower() for p in (target.catalog, target.schema, target.name)
        )  # fmt: skip
        for db, schema, table in self.tables:
            col = self.wanted[table.lower()]
            if any(r.column == col.name for r in self.refs):
                continue  # one reference per column: the first table found wins
            if (db.lower(), schema.lower(), table.lower()) == mine:
                continue
            quoted = ".".join(quote(p) for p in (db, schema, table))
            relation = con.table(quoted)
            types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
            # A column of the same name first, else ``id``; of the same kind of type.
            for name in sorted(types, key=lambda n: (n.lower() != col.name.lower(), n)):
                if name.lower() in ("id", col.name.lower()) and _family(types[name]) == col.family:
                    self.refs.append(Reference(col.name, quoted, name, f"{schema}.{table}"))
                    break


def _plurals(stem: str) -> list[str]:
    """Table names a ``<stem>_id`` column may point at.

    >>> _plurals("category")
    ['category', 'categorys', 'categoryes', 'categories']
    """
    out = [stem, stem + "s", stem + "es"]
    if stem.endswith("y"):
        out.append(stem[:-1] + "ies")
    return out
