"""Properties of %%sqlflow, checked against independent recomputations (hypothesis).

- UPSERT KEY (id) over random batches equals "last write per key wins", computed here in
  Python; batches with a duplicate or NULL key are refused and change nothing.
- INCREMENTAL BY hour over random event batches (late rows inside the LOOKBACK, --end
  advancing) equals the same hourly aggregate recomputed over every event up to the last
  end, and the watermark equals max(hour) in the target.
- Random identifiers as table names and KEY columns are refused with SqlflowError or
  create exactly that table or column, and never run anything else.
- Random values bound with $name are compared as values, never executed.

Each example runs on a fresh in-memory database of the session's shell (a
function-scoped fixture would be shared by all of a test's examples).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shlex
import string

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from sqlflow_magic.errors import SqlflowError
from sqlflow_magic.magic import active_magics

# Each test stays well under 30 s on a busy 2-core machine.
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SENTINEL_ROWS = [(1, "keep me"), (2, "'; DROP TABLE sentinel; --")]


def _fresh(shell):
    """A new in-memory database for one example; returns the magic's connection."""
    shell.run_line_magic("sqlflow", "connect :memory:")
    return active_magics().session.connection()


def _cell(shell, cell: str, line: str = ""):
    return shell.run_cell_magic("sqlflow", line, cell)


def _plant_sentinel(con) -> None:
    con.execute("CREATE TABLE sentinel (id INTEGER, name VARCHAR)")
    con.executemany("INSERT INTO sentinel VALUES (?, ?)", SENTINEL_ROWS)


def _user_tables(con) -> set[tuple[str, str]]:
    """(schema, table) of every table outside sqlflow's own state schema."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name <> 'sqlflow'"
    ).fetchall()
    views = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
    ).fetchall()
    return set(rows) | set(views)


def _assert_sentinel_intact(con) -> None:
    assert con.execute("SELECT id, name FROM sentinel ORDER BY id").fetchall() == SENTINEL_ROWS


@pytest.fixture(autouse=True)
def _clean_namespace(shell):
    yield
    for name in ("batch", "v"):
        shell.user_ns.pop(name, None)
    shell.run_line_magic("sqlflow", "connect :memory:")


# -- UPSERT: last write per key wins -------------------------------------------------------

_KEY = st.integers(-1, 12).map(lambda i: None if i < 0 else i)  # NULL now and then
_UPSERT_ROW = st.tuples(
    _KEY,
    st.one_of(st.none(), st.text(max_size=6)),
    st.integers(-(2**40), 2**40),
    st.integers(0, 10 * 24 * 3600),  # updated_at offset: batches may carry older rows
)
_UPSERT_CELL = """
CREATE TABLE customers MODE UPSERT KEY (id) AS
SELECT CAST(id AS BIGINT) AS id, CAST(name AS VARCHAR) AS name,
       CAST(amount AS BIGINT) AS amount, CAST(updated_at AS TIMESTAMP) AS updated_at
FROM batch
"""
_T0 = dt.datetime(2025, 3, 1)


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([r[0] for r in rows], dtype="Int64"),
            "name": pd.Series([r[1] for r in rows], dtype=object),
            "amount": pd.array([r[2] for r in rows], dtype="Int64"),
            "updated_at": pd.Series(
                [_T0 + dt.timedelta(seconds=r[3]) for r in rows], dtype="datetime64[us]"
            ),
        }
    )


@settings(SETTINGS, max_examples=50)
@given(batches=st.lists(st.lists(_UPSERT_ROW, max_size=8), min_size=1, max_size=6))
def test_upsert_batches_equal_last_write_per_key(shell, batches):
    con = _fresh(shell)
    expected: dict[int, tuple] | None = None  # None: the table does not exist yet
    for rows in batches:
        ids = [r[0] for r in rows]
        refused = None in ids or len(set(ids)) != len(ids)
        shell.user_ns["batch"] = _frame(rows)
        if refused:
            with pytest.raises(SqlflowError):
                _cell(shell, _UPSERT_CELL)
        else:
            _cell(shell, _UPSERT_CELL)
            existing = {k for k in ids if expected is not None and k in expected}
            inserted, updated = con.execute(
                "SELECT rows_inserted, rows_updated FROM sqlflow.runs "
                "WHERE status = 'success' ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
            assert (inserted, updated) == (len(ids) - len(existing), len(existing))
            expected = dict(expected or {})
            for key, name, amount, offset in rows:
                expected[key] = (key, name, amount, _T0 + dt.timedelta(seconds=offset))
        # After every batch, accepted or refused, the table is the recompute so far.
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'customers'"
        ).fetchone()[0]
        assert bool(exists) == (expected is not None)
        if expected is not None:
            got = con.execute(
                "SELECT id, name, amount, updated_at FROM customers ORDER BY id"
            ).fetchall()
            assert got == [expected[k] for k in sorted(expected)]
    runs = dict(con.execute("SELECT status, count(*) FROM sqlflow.runs GROUP BY ALL").fetchall())
    assert runs.get("success", 0) == sum(
        1 for b in batches
        if None not in [r[0] for r in b] and len({r[0] for r in b}) == len(b)
    )  # fmt: skip


# -- INCREMENTAL: the hourly aggregate equals a full recompute -----------------------------

_HOUR = dt.timedelta(hours=1)
_INCREMENTAL_CELL = """
CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '{lookback} hours' AS
SELECT date_trunc('hour', ts) AS hour, metric, count(*) AS n, sum(value) AS total
FROM events
WHERE ts > @start_dt AND ts <= @end_dt
GROUP BY ALL
"""


def _hour(ts: dt.datetime) -> dt.datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _minutes(draw, lo: dt.datetime, hi: dt.datetime, n_max: int) -> list[dt.datetime]:
    """Up to n_max whole-minute moments in [lo, hi]."""
    span = int((hi - lo).total_seconds() // 60)
    offsets = draw(st.lists(st.integers(0, span), max_size=n_max))
    return [lo + dt.timedelta(minutes=m) for m in offsets]


@settings(SETTINGS, max_examples=40)
@given(data=st.data(), lookback=st.integers(1, 4), steps=st.integers(1, 5))
def test_incremental_batches_equal_full_recompute(shell, data, lookback, steps):
    draw = data.draw
    con = _fresh(shell)
    con.execute("CREATE TABLE events (ts TIMESTAMP, metric VARCHAR, value BIGINT)")
    events: list[tuple[dt.datetime, str, int]] = []
    end: dt.datetime | None = None
    watermark: dt.datetime | None = None  # computed here: max hour committed so far

    def new_events(times):
        metrics = draw(st.lists(st.sampled_from(["a", "b"]), min_size=len(times),
                                max_size=len(times)))  # fmt: skip
        values = draw(st.lists(st.integers(-50, 50), min_size=len(times), max_size=len(times)))
        return list(zip(times, metrics, values, strict=True))

    for _ in range(steps):
        batch = []
        if end is not None:
            # Late rows: at or before the last end, in an hour the next window recomputes,
            # i.e. hour > watermark - LOOKBACK (the window is (watermark - LOOKBACK, end]).
            oldest = watermark - (lookback - 1) * _HOUR if watermark else _T0 - 12 * _HOUR
            batch += new_events(_minutes(draw, oldest, end, 4))
        previous = end or _T0
        end = previous + dt.timedelta(minutes=draw(st.integers(0, 8 * 60)))
        # On-time rows up to the new end, and some from the future (left out for now).
        batch += new_events(_minutes(draw, previous, end + 3 * _HOUR, 8))
        if batch:
            con.executemany("INSERT INTO events VALUES (?, ?, ?)", batch)
        events += batch

        _cell(shell, _INCREMENTAL_CELL.format(lookback=lookback),
              f"--end {shlex.quote(str(end))}")  # fmt: skip

        before = watermark
        known = [_hour(ts) for ts, _, _ in events if ts <= end]
        if known:
            watermark = max([watermark or known[0], *known])
        recorded = con.execute(
            "SELECT watermark_before, watermark_after, window_end FROM sqlflow.runs "
            "WHERE status = 'success' ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        assert recorded == (before, watermark, end)

    expected: dict[tuple, list[int]] = {}
    for ts, metric, value in events:
        if ts <= end:
            agg = expected.setdefault((_hour(ts), metric), [0, 0])
            agg[0] += 1
            agg[1] += value
    got = con.execute("SELECT hour, metric, n, total FROM hourly ORDER BY ALL").fetchall()
    assert got == sorted((h, m, n, total) for (h, m), (n, total) in expected.items())

    stored = con.execute(
        "SELECT watermark FROM sqlflow.watermarks WHERE target = 'main.hourly'"
    ).fetchall()
    newest = con.execute("SELECT max(hour) FROM hourly").fetchone()[0]
    assert [w[0] for w in stored] == ([newest] if newest is not None else [])
    assert newest == watermark


# -- INCREMENTAL, row level: equal a full recompute, and the rows left out are counted ------

_ROWS_CELL = """
CREATE TABLE raw MODE INCREMENTAL BY ts LOOKBACK '{lookback} hours' AS
SELECT ts, metric, value FROM events
WHERE ts > @start_dt
"""


@settings(SETTINGS, max_examples=30)
@given(data=st.data(), lookback=st.integers(1, 4), steps=st.integers(1, 5))
def test_incremental_rows_equal_full_recompute_and_count_what_they_leave_out(
    shell, data, lookback, steps
):
    # A row-level query is not staged: its rows outside the window (here the future ones,
    # since it has no upper bound) are counted by a pass of their own.
    draw = data.draw
    con = _fresh(shell)
    con.execute("CREATE TABLE events (ts TIMESTAMP, metric VARCHAR, value BIGINT)")
    events: list[tuple[dt.datetime, str, int]] = []
    end: dt.datetime | None = None
    watermark: dt.datetime | None = None

    for _ in range(steps):
        times = []
        if end is not None and watermark is not None:
            # late rows inside the next window (watermark - LOOKBACK, end]
            times += _minutes(draw, watermark - lookback * _HOUR + dt.timedelta(minutes=1),
                              end, 4)  # fmt: skip
        previous = end or _T0
        end = previous + dt.timedelta(minutes=draw(st.integers(0, 8 * 60)))
        times += _minutes(draw, previous, end + 3 * _HOUR, 8)
        batch = [(t, draw(st.sampled_from(["a", "b"])), draw(st.integers(-50, 50)))
                 for t in times]  # fmt: skip
        if batch:
            con.executemany("INSERT INTO events VALUES (?, ?, ?)", batch)
        events += batch

        start = watermark - lookback * _HOUR if watermark is not None else None
        result = _cell(shell, _ROWS_CELL.format(lookback=lookback),
                       f"--end {shlex.quote(str(end))}")  # fmt: skip
        returned = [ts for ts, _, _ in events if start is None or ts > start]
        assert result["rows_in"] == len(returned)
        assert result["left_out"] == sum(ts > end for ts in returned)
        written = [ts for ts in returned if ts <= end]
        if written:
            watermark = max([watermark or written[0], *written])

    got = con.execute("SELECT ts, metric, value FROM raw ORDER BY ALL").fetchall()
    assert got == sorted(e for e in events if e[0] <= end)
    stored = con.execute("SELECT watermark FROM sqlflow.watermarks").fetchall()
    assert [w[0] for w in stored] == ([watermark] if watermark is not None else [])


# -- identifiers: refused, or exactly that name --------------------------------------------

NASTY_NAMES = [
    "x; DROP TABLE sentinel",
    "x; DROP TABLE sentinel; --",
    'sentinel"; DROP TABLE sentinel; --',
    "'; DROP TABLE sentinel; --",
    "x) AS SELECT 1; DROP TABLE sentinel; --",
    "x /* comment */",
    "x -- comment",
    "select", "table", "from", "group", "mode", "MODE", "AS", "key", "by", "lookback",
    "sqlflow", "main", "temp", "memory", "t1", "_", "a$b", "$v", "@start_dt",
    "", " ", "  x", "x ", "a b", 'a"b', '"', '""', "'", "a.b", "a..b", ".",
    "é", "Ωmega", "表", "日本語のテーブル", "🦆", "ｆｕｌｌｗｉｄｔｈ", "x\ny", "x\ty", "x\x00y",
    "x" * 255, "x" * 256,
]  # fmt: skip
_NAMES = st.one_of(st.sampled_from(NASTY_NAMES), st.text(max_size=24))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_sentinel(con, name: str) -> bool:
    return bool(con.execute("SELECT lower($n) = 'sentinel'", {"n": name}).fetchone()[0])


def _duckdb_creates(sql: str) -> list[tuple[str, str, str]] | None:
    """What plain DuckDB makes of one CREATE statement: (schema, table, column) rows.

    None when the text is not exactly one statement or DuckDB refuses it. This is the
    oracle for unquoted names, which mean what DuckDB reads (comments, spaces).
    """
    with duckdb.connect(":memory:") as scratch:
        try:
            if len(scratch.extract_statements(sql)) != 1:
                return None
            scratch.execute(sql)
        except duckdb.Error:
            return None
        return scratch.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY table_name, column_index"
        ).fetchall()


@functools.cache
def _type_function_keywords() -> frozenset[str]:
    with duckdb.connect(":memory:") as scratch:
        rows = scratch.execute(
            "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'type_function'"
        ).fetchall()
    return frozenset(r[0] for r in rows)


@settings(SETTINGS, max_examples=50)
@given(name=_NAMES, quoted=st.booleans())
def test_identifier_as_table_name(shell, name, quoted):
    con = _fresh(shell)
    assume(not _is_sentinel(con, name))  # naming the sentinel would rightly replace it
    # Known bug, see test_unquoted_type_function_keyword_is_refused_as_table_name.
    assume(quoted or name.lower() not in _type_function_keywords())
    _plant_sentinel(con)
    written = _quoted(name) if quoted else name
    oracle = _duckdb_creates(f"CREATE TABLE {written} (answer INTEGER)")
    try:
        _cell(shell, f"CREATE TABLE {written} MODE REPLACE AS SELECT 42 AS answer")
    except SqlflowError:
        event("refused")
        assert _user_tables(con) == {("main", "sentinel")}
    else:
        event("created")
        assert oracle is not None, "accepted a name plain DuckDB refuses"
        ((schema, table, _),) = oracle
        if quoted:
            assert (schema, table) == ("main", name)
        assert _user_tables(con) == {("main", "sentinel"), (schema, table)}
        rows = con.execute(f"SELECT * FROM {_quoted(schema)}.{_quoted(table)}").fetchall()
        assert rows == [(42,)]
    _assert_sentinel_intact(con)


# Regression: 'type_function' keywords were accepted as unquoted table names.
@pytest.mark.parametrize("name", ["by", "left", "join"])
def test_unquoted_type_function_keyword_is_refused_as_table_name(shell, name):
    con = _fresh(shell)
    assert _duckdb_creates(f"CREATE TABLE {name} (answer INTEGER)") is None
    with pytest.raises(SqlflowError):
        _cell(shell, f"CREATE TABLE {name} MODE REPLACE AS SELECT 42 AS answer")
    assert _user_tables(con) == set()


@settings(SETTINGS, max_examples=50)
@given(name=_NAMES, quoted=st.booleans())
def test_identifier_as_key_column(shell, name, quoted):
    con = _fresh(shell)
    _plant_sentinel(con)
    column = _quoted(name) if quoted else name
    oracle = _duckdb_creates(f"CREATE TABLE t AS SELECT 7 AS {column}, 'first' AS v")
    cell = "CREATE TABLE t MODE UPSERT KEY ({c}) AS SELECT 7 AS {c}, '{v}' AS v"
    try:
        _cell(shell, cell.format(c=column, v="first"))
    except SqlflowError:
        event("refused")
        assert _user_tables(con) == {("main", "sentinel")}
    else:
        event("created")
        assert oracle is not None, "accepted a column name plain DuckDB refuses"
        if quoted:
            assert [c for _, _, c in oracle] == [name, "v"]
        columns = con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE table_name = 't' ORDER BY column_index"
        ).fetchall()
        assert columns == oracle
        # The second run merges on that key: the row is updated, not duplicated.
        _cell(shell, cell.format(c=column, v="second"))
        assert con.execute("SELECT * FROM t").fetchall() == [(7, "second")]
        assert _user_tables(con) == {("main", "sentinel"), ("main", "t")}
    _assert_sentinel_intact(con)


_CASE_VARIANTS = {
    "same": lambda s: s, "upper": str.upper, "lower": str.lower,
    "swapcase": str.swapcase, "title": str.title,
}  # fmt: skip


def _duckdb_same_table(a: str, b: str) -> bool:
    """Whether plain DuckDB reads the quoted names a and b as one table."""
    with duckdb.connect(":memory:") as scratch:
        scratch.execute(f"CREATE TABLE {_quoted(a)} (c INTEGER)")
        try:
            scratch.execute(f"CREATE TABLE {_quoted(b)} (c INTEGER)")
        except duckdb.CatalogException:
            return True
        return False


def _check_case_variant(shell, name: str, variant: str) -> None:
    """A transform into variant(name) writes the table DuckDB means by it, and no other."""
    con = _fresh(shell)
    other = _CASE_VARIANTS[variant](name)
    try:
        con.execute(f"CREATE TABLE {_quoted(name)} AS SELECT 'untouched' AS keep")
    except duckdb.Error:
        assume(False)  # not a name DuckDB takes: nothing to confuse it with
    same = _duckdb_same_table(name, other)
    try:
        _cell(shell, f"CREATE TABLE {_quoted(other)} MODE REPLACE AS SELECT 42 AS answer")
    except SqlflowError:
        _event_if_in_hypothesis("refused")
        assert con.execute(f"SELECT * FROM {_quoted(name)}").fetchall() == [("untouched",)]
        assert _user_tables(con) == {("main", name)}
        return
    _event_if_in_hypothesis("same table" if same else "another table")
    if same:
        assert _user_tables(con) == {("main", name)}
        assert con.execute(f"SELECT * FROM {_quoted(name)}").fetchall() == [(42,)]
    else:
        assert con.execute(f"SELECT * FROM {_quoted(name)}").fetchall() == [("untouched",)]
        assert _user_tables(con) == {("main", name), ("main", other)}
        assert con.execute(f"SELECT * FROM {_quoted(other)}").fetchall() == [(42,)]


def _event_if_in_hypothesis(label: str) -> None:
    # _check_case_variant also runs from plain parametrized tests, outside hypothesis.
    with contextlib.suppress(InvalidArgument):
        event(label)


def _folds_like_duckdb(name: str) -> bool:
    # DuckDB folds only ASCII letters; test_unicode_case_variant_is_another_table covers
    # the names where Unicode folding would disagree with it.
    return all(ch.isascii() or (ch.lower() == ch and ch.upper() == ch) for ch in name)


@SETTINGS
@given(
    name=st.one_of(
        st.sampled_from(NASTY_NAMES).filter(_folds_like_duckdb),
        st.text(string.ascii_letters + string.digits + " _;'\".-表🦆", max_size=12),
    ),
    variant=st.sampled_from(sorted(_CASE_VARIANTS)),
)
def test_case_variant_of_a_name_addresses_the_table_duckdb_means(shell, name, variant):
    _check_case_variant(shell, name, variant)


# Regression: names were matched with Unicode lower(); DuckDB folds only ASCII.
@pytest.mark.parametrize(
    ("name", "variant"), [("Ä", "lower"), ("straße", "upper"), ("Ωmega", "swapcase")]
)
def test_unicode_case_variant_is_another_table(shell, name, variant):
    _check_case_variant(shell, name, variant)


# -- $name values: bound, never executed -------------------------------------------------

NASTY_VALUES = [
    "'; DROP TABLE sentinel; --",
    "x'; DROP TABLE sentinel; SELECT '",
    '"; DROP TABLE sentinel; --',
    "1; DROP TABLE sentinel",
    "1 OR 1=1",
    "' OR '1'='1",
    "$v",
    "@start_dt",
    "'",
    "''",
    "\\",
    "NULL",
    "",
    "keep me",
    "); DROP TABLE sentinel; --",
    "/* */ SELECT 1",
    "é 表 🦆",
    "a\x00b",
    "line\nbreak",
]
_VALUES = st.one_of(st.sampled_from(NASTY_VALUES), st.text(max_size=40))


@settings(SETTINGS, max_examples=40)
@given(value=_VALUES)
def test_variable_values_are_bound_not_executed(shell, value):
    con = _fresh(shell)
    _plant_sentinel(con)
    shell.user_ns["v"] = value

    got = _cell(shell, "SELECT $v AS v, $v = $v AS same, length($v) AS n")
    assert got["v"].tolist() == [value]
    assert got["same"].tolist() == [True]
    assert got["n"].tolist() == [len(value)]

    matches = _cell(shell, "SELECT id FROM sentinel WHERE name = $v ORDER BY id")
    assert matches["id"].tolist() == [i for i, name in SENTINEL_ROWS if name == value]

    # In transforms: REPLACE runs the query as is, UPSERT stages it, INCREMENTAL also swaps
    # @macros around the $name in the text.
    _cell(shell, "CREATE TABLE t MODE REPLACE AS SELECT $v AS v, 1 AS one")
    assert con.execute("SELECT v, one FROM t").fetchall() == [(value, 1)]
    _cell(shell, "CREATE TABLE u MODE UPSERT KEY (k) AS SELECT 1 AS k, $v AS v")
    assert con.execute("SELECT k, v FROM u").fetchall() == [(1, value)]
    _cell(
        shell,
        "CREATE TABLE w MODE INCREMENTAL BY ts LOOKBACK '1 hour' AS\n"
        "SELECT * FROM (SELECT TIMESTAMP '2025-03-01 10:00' AS ts, $v AS v, $v = $v AS same)\n"
        "WHERE ts > @start_dt AND ts <= @end_dt AND v = $v",
        "--end '2025-03-02 00:00:00'",
    )
    assert con.execute("SELECT v, same FROM w").fetchall() == [(value, True)]
    assert _user_tables(con) == {("main", n) for n in ("sentinel", "t", "u", "w")}
    _assert_sentinel_intact(con)


@SETTINGS
@given(value=st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False)))
def test_numeric_variables_keep_their_value(shell, value):
    _fresh(shell)
    shell.user_ns["v"] = value
    got = _cell(shell, "SELECT $v AS v, $v = $v AS same")
    assert got["v"].tolist() == [value]
    assert got["same"].tolist() == [True]
