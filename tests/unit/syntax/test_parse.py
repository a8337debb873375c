"""Parsing cells: table-driven (cell, expected spec) and (cell, error line, col) cases."""

from __future__ import annotations

import pytest

from sqlflow_magic.errors import SqlflowSyntaxError
from sqlflow_magic.syntax.parse import parse_cell
from sqlflow_magic.syntax.spec import Mode, PlainStatement, TableName, TransformSpec


def only_transform(cell: str) -> TransformSpec:
    (statement,) = parse_cell(cell)
    assert isinstance(statement, TransformSpec)
    return statement


@pytest.mark.parametrize(
    ("cell", "target", "mode", "keys", "time_column", "lookback", "query"),
    [
        ("CREATE TABLE t MODE REPLACE AS SELECT 1", TableName("t"), Mode.REPLACE, (), None,
         None, "SELECT 1"),
        ("create table s.t mode append as select * from e", TableName("t", "s"), Mode.APPEND,
         (), None, None, "select * from e"),
        ('CREATE TABLE "my db"."sch"."a b" MODE REPLACE AS SELECT 1',
         TableName("a b", "sch", "my db"), Mode.REPLACE, (), None, None, "SELECT 1"),
        ("CREATE TABLE c MODE UPSERT KEY (id, \"Region Code\") AS SELECT * FROM u",
         TableName("c"), Mode.UPSERT, ("id", "Region Code"), None, None, "SELECT * FROM u"),
        ("CREATE TABLE h MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS\nSELECT 1 AS hour",
         TableName("h"), Mode.INCREMENTAL, (), "hour", "2 hours", "SELECT 1 AS hour"),
        ("CREATE TABLE h MODE Incremental BY d AS SELECT d FROM x", TableName("h"),
         Mode.INCREMENTAL, (), "d", None, "SELECT d FROM x"),
        # a table may be called mode; keywords are matched by position, not by text
        ("CREATE TABLE mode MODE REPLACE AS SELECT 'MODE UPSERT' AS x", TableName("mode"),
         Mode.REPLACE, (), None, None, "SELECT 'MODE UPSERT' AS x"),
    ],
)  # fmt: skip
def test_transform_headers(cell, target, mode, keys, time_column, lookback, query):
    spec = only_transform(cell)
    assert (spec.target, spec.mode, spec.keys, spec.time_column, spec.lookback) == (
        target, mode, keys, time_column, lookback,
    )  # fmt: skip
    assert spec.query.text == query


@pytest.mark.parametrize(
    "cell",
    [
        "CREATE TABLE t AS SELECT 1",
        "CREATE TABLE t (mode INTEGER)",
        "CREATE OR REPLACE TABLE t AS SELECT 'x MODE REPLACE' AS mode",
        "SELECT * FROM t WHERE mode = 'REPLACE'",
        "-- CREATE TABLE t MODE REPLACE AS SELECT 1\nSELECT 1",
        "INSERT INTO t SELECT 1",
    ],
)
def test_everything_else_is_plain_sql(cell):
    statements = parse_cell(cell)
    assert all(isinstance(s, PlainStatement) for s in statements)


def test_split_respects_strings_comments_and_quoted_names():
    cell = (
        "SELECT ';' AS a; -- a comment; with a semicolon\n"
        "CREATE TABLE \"x;y\" MODE REPLACE AS SELECT 'a;b' AS s /* ; */;\n"
        "SELECT 2"
    )
    statements = parse_cell(cell)
    assert [type(s).__name__ for s in statements] == [
        "PlainStatement", "TransformSpec", "PlainStatement",
    ]  # fmt: skip
    assert statements[0].text == "SELECT ';' AS a"
    assert statements[1].target == TableName("x;y")
    assert statements[1].query.text == "SELECT 'a;b' AS s"
    assert statements[2].line == 4  # cell lines count the %%sqlflow line


def test_macros_and_variables_are_found_at_token_positions():
    spec = only_transform(
        "CREATE TABLE h MODE INCREMENTAL BY hour AS SELECT '@start_dt' AS s, hour FROM e "
        "WHERE ts > @start_dt AND ts <= @END_DT AND v > $limit -- @end_date"
    )
    found = [(m.name, m.is_variable, spec.query.text[m.offset : m.offset + m.length])
             for m in spec.query.macros]  # fmt: skip
    assert found == [
        ("start_dt", False, "@start_dt"),
        ("end_dt", False, "@END_DT"),
        ("limit", True, "$limit"),
    ]


def test_plain_statement_records_variables_and_whether_it_returns_rows():
    select, create = parse_cell("SELECT * FROM t WHERE a = $x; CREATE TABLE u AS SELECT 1")
    assert [v.name for v in select.variables] == ["x"]
    assert select.returns_rows
    assert not create.returns_rows


@pytest.mark.parametrize(
    ("cell", "line", "col", "fragment"),
    [
        ("CREATE TABLE t MODE UPSERT AS SELECT 1", 2, 21, "needs KEY"),
        ("CREATE TABLE t MODE\n  MERGE AS SELECT 1", 3, 3, "unknown mode 'MERGE'"),
        ("CREATE TABLE t MODE AS SELECT 1", 2, 21, "MODE needs a mode"),
        ("CREATE TABLE t MODE INCREMENTAL AS SELECT 1", 2, 21, "needs BY"),
        ("CREATE TABLE t MODE REPLACE KEY (a) AS SELECT 1", 2, 29, "KEY belongs to MODE UPSERT"),
        ("CREATE TABLE t MODE UPSERT KEY (a) LOOKBACK '1 hour' AS SELECT 1", 2, 36,
         "LOOKBACK belongs to MODE INCREMENTAL"),
        ("CREATE TABLE t MODE INCREMENTAL BY d LOOKBACK 2 AS SELECT 1", 2, 47,
         "LOOKBACK needs a quoted interval"),
        ("CREATE TABLE t MODE UPSERT KEY () AS SELECT 1", 2, 33, "at least one column"),
        ("CREATE TABLE t MODE UPSERT KEY (a, a) AS SELECT 1", 2, 36, "appears twice"),
        ("CREATE TABLE t MODE UPSERT KEY (a b) AS SELECT 1", 2, 35, "expected ',' or ')'"),
        ("CREATE TABLE select MODE REPLACE AS SELECT 1", 2, 14, "not a valid table name"),
        ('CREATE TABLE "" MODE REPLACE AS SELECT 1', 2, 14, "name is empty"),
        ("CREATE TABLE t MODE REPLACE AS", 2, 31, "AS needs a query"),
        ("CREATE TABLE MODE REPLACE AS SELECT 1", 2, 14, "needs a table name"),
        ("CREATE TABLE t MODE REPLACE SELECT 1", 2, 29, "expected AS"),
        ("SELECT 1;\n\n  CREATE TABLE t MODE APPEND AS SELECT @start_dt", 4, 40,
         "only defined in MODE INCREMENTAL"),
        ("CREATE TABLE t MODE UPSERT KEY (order) AS SELECT 1", 2, 33, "reserved word"),
    ],
)  # fmt: skip
def test_errors_point_at_line_and_column(cell, line, col, fragment):
    with pytest.raises(SqlflowSyntaxError) as info:
        parse_cell(cell)
    err = info.value
    assert fragment in err.message + (err.hint or "")
    assert (err.line, err.col) == (line, col)
    assert "^" in err.excerpt
    assert err.hint


def test_error_excerpt_has_caret_under_the_offending_token():
    with pytest.raises(SqlflowSyntaxError) as info:
        parse_cell("CREATE TABLE t MODE UPSRT KEY (id) AS SELECT 1")
    text, carets = info.value.excerpt.splitlines()
    assert text[carets.index("^") : carets.index("^") + carets.count("^")] == "UPSRT"
    assert "did you mean UPSERT" in info.value.hint


def test_unterminated_string_is_a_syntax_error():
    with pytest.raises(SqlflowSyntaxError, match="cannot read the cell"):
        parse_cell("SELECT 'abc")


@pytest.mark.parametrize(
    ("query", "summarises"),
    [
        ("SELECT date_trunc('hour', ts) AS h, count(*) FROM e GROUP BY ALL", True),
        ("SELECT DISTINCT a FROM t", True),
        ("SELECT a, count(DISTINCT b) FROM t GROUP BY a", True),
        ("SELECT * FROM e WHERE ts > @start_dt", False),
        # only the outermost query counts: a grouped subquery still feeds every row
        ("SELECT e.* FROM e JOIN (SELECT k FROM t GROUP BY k) USING (k)", False),
        ("SELECT count(DISTINCT b) OVER (PARTITION BY a) FROM t", False),
        ("SELECT 'GROUP BY' AS s, \"distinct\" FROM t", False),
    ],
)
def test_a_query_that_summarises_is_recognised(query, summarises):
    (spec,) = parse_cell(f"CREATE TABLE x MODE INCREMENTAL BY ts AS {query}")
    assert spec.query.summarises is summarises
