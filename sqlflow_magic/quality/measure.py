"""Measuring a relation for its profile in as few passes as DuckDB allows.

1. ``DESCRIBE``, and a look at the first ``SAMPLE_ROWS`` rows when text columns must be
   recognised by their values (a ``LIMIT`` reads a row group, not the relation).
2. One aggregate over every row: per column counts, min/max, mean and spread; declared
   keys; ordered pairs; one cheap test for blanks across all text columns. Most findings
   are decided here, and the aggregate also says which rarer things need a closer look.
3. One follow-up query with what pass 2 asked for: far-out values (only columns whose
   min or max lies beyond the fences), blanks (only when some value starts below '!'),
   future times (only columns whose max is past now), exact distinct counts of would-be
   keys; and, as subqueries of the same statement, the format and type checks and a left
   join per ``*_id`` reference (on a repeatable sample of a large run, see CHECK_ROWS).
4. Exact duplicate rows: ruled out by a unique key or would-be key, or counted from a hash
   of every row in the follow-up, or, when a would-be key turns out not unique, in one
   more query.

So a relation takes three or four queries besides ``DESCRIBE`` (and a catalog lookup for
references). The rule throughout is to pay for an expensive expression (``trim``, a
regex, a filtered max, a distinct count) only on the columns and rows that a cheap one
(``count_if(c < '!')``, ``max(c)``, an approximate count) has shown need it.

Identifiers are quoted with ``quote``; values (the reference time) are bound parameters;
the only numbers written into SQL text are fences computed here from DuckDB's own floats
and the sample percentage.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from sqlflow_magic.engine.base import TableRef
from sqlflow_magic.engine.duckdb import DuckDBEngine, as_naive_utc
from sqlflow_magic.quality.formats import (
    FORMATS,
    FUTURE_WORDS,
    KINDS,
    name_words,
    paired_columns,
)
from sqlflow_magic.state.store import STATE_SCHEMA
from sqlflow_magic.syntax.names import quote

SAMPLE_ROWS = 1000
# A run's profile checks formats and types on every value up to this many rows, and on a
# seeded Bernoulli sample of about this many rows above it (full=True: every value). The
# seed makes the sample repeatable while DuckDB reads the relation on one thread (up to a
# row group, 122,880 rows); a larger relation read by several threads may vary a little.
CHECK_ROWS = 10_000
SAMPLE_SEED = 42
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
    blanks: int = 0
    distinct: int | None = None
    exact_distinct: int | None = None
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


@dataclass
class Measures:
    """Everything the passes measured; ``recommend`` turns it into findings."""

    rows: int
    columns: list[ColumnStats]
    keys: tuple[str, ...] = ()
    distinct_rows: int | None = None
    null_keys: int = 0
    distinct_keys: int | None = None
    pairs: list[PairStats] = field(default_factory=list)
    orphans: list[OrphanStats] = field(default_factory=list)
    freshness_columns: tuple[str, ...] = ()
    now: dt.datetime = dt.datetime(1970, 1, 1)
    maybe_blank: int = 0  # rows where some text value sorts below '!'
    queries: int = 0

    def column(self, name: str) -> ColumnStats:
        """The stats of column ``name`` (case-insensitive)."""
        return next(c for c in self.columns if c.name.lower() == name.lower())


def measure(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    params: Mapping[str, object] | None,
    *,
    keys: Sequence[str],
    time_columns: Sequence[str] | None,
    references: Sequence[Reference] | None,
    target: TableRef | None,
    now: dt.datetime,
    full: bool,
) -> Measures:
    """Run the passes over ``relation_sql`` and return what they measured."""
    bound = dict(params or {})
    rel = f"({relation_sql}) AS sqlflow_r"
    described = con.execute(f"DESCRIBE {relation_sql}", bound or None).fetchall()
    seen: set[str] = set()
    columns = []
    for name, dtype, *_ in described:
        if name.lower() not in seen:  # a repeated name cannot be told apart by reference
            seen.add(name.lower())
            columns.append(ColumnStats(name, dtype, _family(dtype)))
    m = Measures(rows=0, columns=columns, now=now, queries=1)
    by_lower = {c.name.lower(): c for c in columns}
    m.keys = tuple(by_lower[k.lower()].name for k in keys if k.lower() in by_lower)
    fresh = time_columns if time_columns is not None else [c.name for c in columns]
    m.freshness_columns = tuple(
        by_lower[t.lower()].name
        for t in fresh
        if t.lower() in by_lower and by_lower[t.lower()].family == "time"
    )
    _recognise(con, rel, bound, m)
    _aggregate(con, rel, bound, m, full)
    if m.rows:
        refs = _find_references(con, m, target) if references is None else list(references)
        _follow_up(con, rel, bound, m, refs[:MAX_REFERENCE_CHECKS], full)
    return m


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


def _is_float(dtype: str) -> bool:
    return dtype.upper() in ("FLOAT", "DOUBLE")


class _Select:
    """A SELECT list built with a setter per expression, so results land where they belong."""

    def __init__(self) -> None:
        self.exprs: list[str] = []
        self.setters: list[Callable[[object], None]] = []

    def add(self, expr: str, setter: Callable[[object], None]) -> None:
        self.exprs.append(expr)
        self.setters.append(setter)

    def run(self, con: duckdb.DuckDBPyConnection, from_sql: str, params: dict) -> None:
        row = con.execute(f"SELECT {', '.join(self.exprs)} FROM {from_sql}", params or None)
        self.put(row.fetchall()[0])

    def put(self, values: Sequence[object]) -> None:
        for setter, value in zip(self.setters, values, strict=True):
            setter(value)


def _setter(obj: object, attr: str, convert: Callable[[object], object] | None = None):
    def put(value: object) -> None:
        setattr(obj, attr, convert(value) if convert is not None and value is not None else value)

    return put


# -- pass 1: what the text columns hold -------------------------------------------------


def _recognise(con: duckdb.DuckDBPyConnection, rel: str, params: dict, m: Measures) -> None:
    """Recognise kinds by column name, then by the first ``SAMPLE_ROWS`` values.

    The sample is read into Python and matched with each kind's pattern, giving up on a
    kind as soon as too many values fail it: cheaper than asking DuckDB to try every
    regex on every sampled value of every column.
    """
    unknown = []
    for col in m.columns:
        if col.family != "text":
            continue
        named = next((f for f in FORMATS if f.names_column(col.name)), None)
        if named is not None:
            col.kind, col.kind_by_name = named.name, True
        else:
            unknown.append(col)
    if not unknown:
        return
    sample = con.execute(
        f"SELECT {', '.join(c.sql for c in unknown)} FROM {rel} LIMIT {SAMPLE_ROWS}",
        params or None,
    ).fetchall()
    m.queries += 1
    candidates = [f for f in FORMATS if f.by_values]
    for i, col in enumerate(unknown):
        values = [row[i] for row in sample if row[i] is not None and row[i].strip()]
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


# -- pass 2: the one aggregate ----------------------------------------------------------


def _aggregate(
    con: duckdb.DuckDBPyConnection, rel: str, params: dict, m: Measures, full: bool
) -> None:
    # Plain count_if() everywhere: a CASE or FILTER makes DuckDB select rows per
    # expression, which costs more than evaluating a cheap condition on every row.
    q = _Select()
    q.add("count(*)", _setter(m, "rows", int))
    for col in m.columns:
        c = col.sql
        q.add(f"count({c})", _setter(col, "non_null", int))
        if full or _may_be_key(col):
            q.add(f"approx_count_distinct({c})", _setter(col, "distinct", int))
        if col.family in ("numeric", "time") or (full and col.family != "nested"):
            q.add(f"min({c})", _setter(col, "min"))
            q.add(f"max({c})", _setter(col, "max"))
        if col.family == "numeric" and not KEY_NAME.fullmatch(col.name):
            # Identifiers and codes have no "usual range": a far-out id is just a new id.
            q.add(f"avg(CAST({c} AS DOUBLE))", _setter(col, "mean", float))
            q.add(f"stddev_pop(CAST({c} AS DOUBLE))", _setter(col, "spread", float))
    text = [c.sql for c in m.columns if c.family == "text"]
    if text:
        # Only a value sorting below '!' (empty, or starting with a space) can be blank:
        # one cheap test across all text columns decides whether pass 3 counts blanks.
        q.add(f"count_if({' OR '.join(t + ' < ' + repr('!') for t in text)})",
              _setter(m, "maybe_blank", int))  # fmt: skip
    if m.keys:
        key_sql = [quote(k) for k in m.keys]
        any_null = " OR ".join(f"{k} IS NULL" for k in key_sql)
        q.add(f"count_if({any_null})", _setter(m, "null_keys", int))
        key = key_sql[0]
        if len(key_sql) > 1:
            key = f"CASE WHEN NOT ({any_null}) THEN ({', '.join(key_sql)}) END"
        q.add(f"count(DISTINCT {key})", _setter(m, "distinct_keys", int))
    for first, second in paired_columns([c.name for c in m.columns]):
        a, b = m.column(first), m.column(second)
        if a.family != b.family or a.family not in ("numeric", "time"):
            continue
        pair = PairStats(a.name, b.name)
        m.pairs.append(pair)
        q.add(f"count_if({a.sql} IS NOT NULL AND {b.sql} IS NOT NULL)",
              _setter(pair, "compared", int))  # fmt: skip
        q.add(f"count_if({a.sql} > {b.sql})", _setter(pair, "reversed", int))
    q.run(con, rel, params)
    m.queries += 1


def _may_be_key(col: ColumnStats) -> bool:
    return col.family in ("numeric", "text", "other") and bool(KEY_NAME.fullmatch(col.name))


# -- pass 3: only what pass 2 asked for -------------------------------------------------


def _follow_up(
    con: duckdb.DuckDBPyConnection,
    rel: str,
    params: dict,
    m: Measures,
    refs: Sequence[Reference],
    full: bool,
) -> None:
    """One query for everything pass 2 could not settle, and for the checks that are
    worth a sample in a large run (formats, types, orphans); none when nothing is left.

    Exact duplicate rows need a hash of every row and an exact distinct count of the
    hashes, the dearest thing in a profile. A unique declared key or would-be key proves
    there are none, so when there is a would-be key it is counted first, and the hashes
    only when it turns out not to be unique (one more query).
    """
    q = _Select()
    uses_now = False
    for col in m.columns:
        if col.family == "numeric":
            _ask_numeric(q, col)
        elif col.family == "text" and m.maybe_blank:
            # trim() only on values that start below '!' (CASE evaluates it on those).
            q.add(f"count(CASE WHEN {col.sql} < '!' AND trim({col.sql}) = '' THEN 1 END)",
                  _setter(col, "blanks", int))  # fmt: skip
        elif col.family == "time":
            uses_now = _ask_time(q, col, m) or uses_now
    keys = _would_be_keys(m)
    for col in keys:
        q.add(f"count(DISTINCT {col.sql})", _setter(col, "exact_distinct", int))
    if m.keys and m.distinct_keys == m.rows:
        m.distinct_rows = m.rows  # a unique declared key: no row can repeat
    elif not keys:
        q.add(_distinct_rows(m), _setter(m, "distinct_rows", int))
    parts = [f"(SELECT {', '.join(q.exprs)} FROM {rel})"] if q.exprs else []
    sample = None if full or m.rows <= CHECK_ROWS else 100.0 * CHECK_ROWS / m.rows
    parts += _ask_kinds(q, m, rel, sample)
    parts += _ask_orphans(q, m, rel, sample, refs)
    if parts:
        bound = {**params, "sqlflow_now": m.now} if uses_now else params
        q.put(con.execute(f"SELECT * FROM {', '.join(parts)}", bound or None).fetchall()[0])
        m.queries += 1
    if m.distinct_rows is None:
        if any(c.exact_distinct == c.non_null == m.rows for c in keys):
            m.distinct_rows = m.rows
        else:
            row = con.execute(f"SELECT {_distinct_rows(m)} FROM {rel}", params or None)
            m.distinct_rows = int(row.fetchall()[0][0])
            m.queries += 1


def _ask_numeric(q: _Select, col: ColumnStats) -> None:
    low, high = _as_float(col.min), _as_float(col.max)
    if _is_float(col.type) and (low is None or high is None) and col.non_null:
        # NaN sorts above every number and infinities sit at the ends: only then count.
        q.add(f"count_if(NOT isfinite({col.sql}))", _setter(col, "nonfinite", int))
        return
    if col.mean is None or col.spread is None or not col.spread > 0 or low is None:
        return
    if not (math.isfinite(col.mean) and math.isfinite(col.spread)) or high is None:
        return
    lo, hi = col.mean - FENCE_Z * col.spread, col.mean + FENCE_Z * col.spread
    col.fences = (lo, hi)
    if low < lo or high > hi:
        x = f"CAST({col.sql} AS DOUBLE)"
        q.add(f"count_if({x} < {lo!r} OR {x} > {hi!r})", _setter(col, "outliers", int))


def _sampled(columns: Sequence[str], rel: str, percent: float | None) -> str:
    """A subquery of ``columns`` of every row, or of a repeatable Bernoulli sample."""
    source = f"SELECT {', '.join(columns)} FROM {rel}"
    if percent is not None:
        source += f" USING SAMPLE {percent:.6f} PERCENT (bernoulli, {SAMPLE_SEED})"
    return f"({source}) AS sqlflow_s"


def _ask_kinds(q: _Select, m: Measures, rel: str, percent: float | None) -> list[str]:
    """The format and type checks: one subquery part, its setters added to ``q``.

    A regex costs ~150 ns a value, the dearest check of a run's profile, so a run that
    wrote more than ``CHECK_ROWS`` rows has them checked on a repeatable Bernoulli sample
    of about that many (``percent``): a share measured on 10,000 values is within a few
    tenths of a percent of the truth. ``None`` checks every value.
    """
    checked = [c for c in m.columns if c.kind is not None and c.non_null]
    if not checked:
        return []
    exprs = []
    for col in checked:
        c, kind = col.sql, KINDS[col.kind or ""]
        # A test may be false (not NULL) on NULL, so NULLs are kept out explicitly.
        bad = f"{c} IS NOT NULL AND NOT ({kind.sql(c)})"
        if m.maybe_blank:
            # CASE, not count_if: trim() then runs only on values that start below '!'.
            present = f"{c} IS NOT NULL AND NOT ({c} < '!' AND trim({c}) = '')"
            bad = f"{bad} AND NOT ({c} < '!' AND trim({c}) = '')"
            exprs += [
                f"count(CASE WHEN {present} THEN 1 END)",
                f"count(CASE WHEN {bad} THEN 1 END)",
            ]
        else:  # pass 2 saw no value that could be blank: plain counts are cheaper
            exprs += [f"count({c})", f"count_if({bad})"]
        q.setters += [_setter(col, "checked", int), _setter(col, "invalid", int)]
        if kind.is_type:
            # Text that should be a number: one offending value says what to fix. (None for
            # formats: an invalid email or phone number is still personal data.)
            exprs.append(f"left(min(CASE WHEN {bad} THEN {c} END), 30)")
            q.setters.append(_setter(col, "example"))
    return [f"(SELECT {', '.join(exprs)} FROM {_sampled([c.sql for c in checked], rel, percent)})"]


def _ask_orphans(
    q: _Select, m: Measures, rel: str, percent: float | None, refs: Sequence[Reference]
) -> list[str]:
    """One left join per reference: rows whose value the referenced table lacks.

    A left join, not NOT EXISTS: DuckDB plans it without grouping the relation, about
    twice as fast, and unmatched rows are never multiplied by it. The join's cost grows
    with the referenced table, so a large run joins the same sample as ``_ask_kinds``.
    """
    parts = []
    for ref in refs:
        stats = OrphanStats(ref)
        m.orphans.append(stats)
        c, k = f"sqlflow_s.{quote(ref.column)}", f"sqlflow_t.{quote(ref.table_column)}"
        missing = f"CASE WHEN {k} IS NULL THEN {c} END"
        parts.append(
            f"(SELECT count(*), count_if({k} IS NULL), count(DISTINCT {missing}), "
            f"min({missing}) FROM {_sampled([quote(ref.column)], rel, percent)} "
            f"LEFT JOIN {ref.table} AS sqlflow_t ON {k} = {c} WHERE {c} IS NOT NULL)"
        )
        q.setters += [_setter(stats, "checked", int), _setter(stats, "rows", int),
                      _setter(stats, "values", int), _setter(stats, "example")]  # fmt: skip
    return parts


def _ask_time(q: _Select, col: ColumnStats, m: Measures) -> bool:
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
              _setter(col, "newest", as_naive_utc))  # fmt: skip
    if newest > m.now + FUTURE_SLACK and not FUTURE_WORDS.intersection(name_words(col.name)):
        slack = f"INTERVAL {int(FUTURE_SLACK.total_seconds())} SECOND"
        q.add(f"count_if(isfinite({col.sql}) AND {utc} > $sqlflow_now + {slack})",
              _setter(col, "future", int))  # fmt: skip
    return True


def _utc_sql(col: ColumnStats) -> str:
    # Times compare as naive UTC TIMESTAMPs (how sqlflow stores times), so the session's
    # TimeZone moves neither "now" nor the newest value.
    if col.type.upper() == "TIMESTAMP WITH TIME ZONE":
        return f"({col.sql} AT TIME ZONE 'UTC')"
    return f"CAST({col.sql} AS TIMESTAMP)"  # a DATE as its midnight


def _as_float(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _distinct_rows(m: Measures) -> str:
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
        if _may_be_key(c)
        and c.name.lower() not in declared
        and c.non_null >= 2
        and c.distinct is not None
        and c.distinct
        >= (PRIMARY_DISTINCT_SHARE if c is primary else KEY_DISTINCT_SHARE) * c.non_null
        and not _is_float(c.type)
    ]
    return found[:MAX_KEY_CHECKS]


# -- references -------------------------------------------------------------------------


def _find_references(
    con: duckdb.DuckDBPyConnection, m: Measures, target: TableRef | None
) -> list[Reference]:
    """Tables that ``*_id`` columns point at, by name: ``customer_id`` -> ``customers``.

    The referenced column is one of the same name or ``id``, of the same kind of type,
    in the target's database (the current one without a target), outside the state
    schema, and never the target itself.
    """
    declared = {k.lower() for k in m.keys}
    wanted: dict[str, ColumnStats] = {}
    for col in m.columns:
        words = name_words(col.name)
        if len(words) >= 2 and words[-1] == "id" and col.name.lower() not in declared:
            for table in _plurals("_".join(words[:-1])):
                wanted.setdefault(table, col)
    if not wanted:
        return []
    rows = con.execute(
        "SELECT database_name, schema_name, table_name, column_name, data_type "
        "FROM duckdb_columns() WHERE database_name = coalesce($c, current_database()) "
        "AND schema_name <> $state AND list_contains($tables, lower(table_name)) "
        "AND list_contains($columns, lower(column_name)) "
        "ORDER BY schema_name <> coalesce($s, current_schema()), schema_name, table_name, "
        "lower(column_name) = 'id'",
        {
            "c": target.catalog if target is not None else None,
            "s": target.schema if target is not None else None,
            "state": STATE_SCHEMA,
            "tables": list(wanted),
            "columns": ["id", *{c.name.lower() for c in wanted.values()}],
        },
    ).fetchall()
    m.queries += 1
    refs: list[Reference] = []
    for db, schema, table, column, dtype in rows:
        col = wanted[table.lower()]
        if column.lower() not in ("id", col.name.lower()) or _family(dtype) != col.family:
            continue
        if target is not None and (db.lower(), schema.lower(), table.lower()) == (
            target.catalog.lower(),
            target.schema.lower(),
            target.name.lower(),
        ):
            continue
        if any(r.column == col.name for r in refs):
            continue  # one reference per column; a column of the same name sorts first
        refs.append(
            Reference(
                col.name,
                ".".join(quote(p) for p in (db, schema, table)),
                column,
                f"{schema}.{table}",
            )  # fmt: skip
        )
    return refs


def _plurals(stem: str) -> list[str]:
    """Table names a ``<stem>_id`` column may point at.

    >>> _plurals("category")
    ['category', 'categorys', 'categoryes', 'categories']
    """
    out = [stem, stem + "s", stem + "es"]
    if stem.endswith("y"):
        out.append(stem[:-1] + "ies")
    return out
