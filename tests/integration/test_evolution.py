"""Schema evolution (SPEC section 6): fits, widenings and refusals, each recorded or refused."""

from __future__ import annotations

import pytest

from sqlflow_magic.errors import SchemaConflictError


def column_type(con, table: str, column: str) -> str:
    return con.execute(
        "SELECT data_type FROM duckdb_columns() WHERE table_name = $t AND column_name = $c",
        {"t": table, "c": column},
    ).fetchone()[0]


def one(type_name: str) -> str:
    """A literal of ``type_name`` (1, or a date for time types)."""
    return f"CAST('2024-01-01' AS {type_name})" if type_name in ("DATE", "TIMESTAMP") else (
        f"CAST(1 AS {type_name})")  # fmt: skip


def changes(con) -> list[tuple]:
    return con.execute(
        "SELECT column_name, change, old_type, new_type FROM sqlflow.schema_changes ORDER BY ALL"
    ).fetchall()


WIDENINGS = [
    # (table type, query type, value that needs the wider type, expected new type)
    ("INTEGER", "BIGINT", "5000000000", "BIGINT"),
    ("BIGINT", "HUGEINT", "170141183460469231731687303715884105727", "HUGEINT"),
    ("SMALLINT", "INTEGER", "70000", "INTEGER"),
    ("FLOAT", "DOUBLE", "0.1", "DOUBLE"),
    ("INTEGER", "DOUBLE", "2.5", "DOUBLE"),
    ("DECIMAL(10,2)", "DECIMAL(14,2)", "123456789012.34", "DECIMAL(14,2)"),
    ("DECIMAL(10,2)", "DECIMAL(12,4)", "12345678.1234", "DECIMAL(12,4)"),
    ("INTEGER", "DECIMAL(18,2)", "1.25", "DECIMAL(18,2)"),
    ("DATE", "TIMESTAMP", "'2025-01-01 10:30:00'", "TIMESTAMP"),
]


@pytest.mark.parametrize(("table_type", "query_type", "value", "new_type"), WIDENINGS)
def test_a_wider_query_type_widens_the_column_in_place(
    sql, con, table_type, query_type, value, new_type
):
    sql(f"CREATE TABLE t MODE APPEND AS SELECT 1 AS id, {one(table_type)} AS v")
    result = sql(
        f"CREATE TABLE t MODE APPEND AS SELECT 2 AS id, CAST({value} AS {query_type}) AS v"
    )
    assert column_type(con, "t", "v") == new_type
    # the old row kept its value, the new one is stored exactly
    expected = con.execute(
        f"SELECT CAST({one(table_type)} AS {new_type}), CAST({value} AS {new_type})"
    ).fetchone()
    assert tuple(r[0] for r in con.execute("SELECT v FROM t ORDER BY id").fetchall()) == expected
    assert changes(con) == [("v", "widen", table_type, new_type)]
    assert result["schema_changes"] == f"widened v {table_type} -> {new_type}"


FITS = [
    ("BIGINT", "INTEGER"), ("DOUBLE", "INTEGER"), ("TIMESTAMP", "DATE"),
    ("DECIMAL(18,4)", "DECIMAL(10,2)"), ("HUGEINT", "BIGINT"),
]  # fmt: skip


@pytest.mark.parametrize(("table_type", "query_type"), FITS)
def test_a_type_that_fits_is_stored_in_the_table_type(sql, con, table_type, query_type):
    sql(f"CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 1 AS id, {one(table_type)} AS v")
    sql(f"CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 2 AS id, {one(query_type)} AS v")
    assert column_type(con, "t", "v") == table_type
    assert changes(con) == []
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2


REFUSALS = [
    ("VARCHAR", "INTEGER", "v"), ("INTEGER", "VARCHAR", "v"), ("DECIMAL(18,2)", "DOUBLE", "v"),
    ("DOUBLE", "DECIMAL(18,2)", "v"), ("TIMESTAMP", "VARCHAR", "v"), ("INTEGER", "BOOLEAN", "v"),
]  # fmt: skip


@pytest.mark.parametrize(("table_type", "query_type", "column"), REFUSALS)
def test_a_lossy_change_is_refused_and_nothing_changes(sql, con, table_type, query_type, column):
    sql(f"CREATE TABLE t MODE APPEND AS SELECT 1 AS id, {one(table_type)} AS v")
    before = con.execute("SELECT * FROM t").fetchall()
    with pytest.raises(SchemaConflictError) as info:
        sql(f"CREATE TABLE t MODE APPEND AS SELECT 2 AS id, 3 AS extra, "
            f"{one(query_type)} AS v")  # fmt: skip
    err = info.value
    assert err.column == column
    assert table_type in err.message
    assert query_type in err.message
    assert "CAST" in err.hint
    assert "%sqlflow reset" in err.hint
    assert con.execute("SELECT * FROM t").fetchall() == before
    assert column_type(con, "t", "v") == table_type
    # the new column of the refused run was not added either
    assert (
        con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 't'").fetchone()[0]
        == 2
    )


def test_a_key_column_that_cannot_be_stored_is_refused_as_a_key(sql):
    sql("CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 1 AS id, 'a' AS v")
    with pytest.raises(SchemaConflictError, match="key column main.t.id"):
        sql("CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 'x1' AS id, 'b' AS v")


def test_new_columns_are_added_and_dropped_ones_get_null(sql, con):
    sql("CREATE TABLE t MODE INCREMENTAL BY ts AS SELECT TIMESTAMP '2025-01-01' AS ts, 1 AS a, "
        "'x' AS gone", "--end '2025-01-02'")  # fmt: skip
    sql("CREATE TABLE t MODE INCREMENTAL BY ts AS SELECT TIMESTAMP '2025-01-01 12:00' AS ts, "
        "2 AS a, 2.5 AS added", "--end '2025-01-02'")  # fmt: skip
    assert con.execute("SELECT a, gone, added FROM t ORDER BY ts").fetchall() == [
        (1, "x", None), (2, None, 2.5),
    ]  # fmt: skip
    assert changes(con) == [("added", "add", None, "DECIMAL(2,1)")]


def test_replace_simply_takes_the_new_shape_and_records_nothing(sql, con):
    sql("CREATE TABLE t MODE REPLACE AS SELECT 1 AS a")
    sql("CREATE TABLE t MODE REPLACE AS SELECT 'x' AS a, 2 AS b")
    assert column_type(con, "t", "a") == "VARCHAR"
    assert changes(con) == []


def test_changes_are_recorded_with_their_run_and_shown_in_history(ip, sql, con):
    sql("CREATE TABLE t MODE APPEND AS SELECT 1 AS id, 1::INTEGER AS v")
    result = sql("CREATE TABLE t MODE APPEND AS SELECT 2 AS id, 2::BIGINT AS v, 'n' AS note")
    run_id = result["run_id"]
    assert con.execute("SELECT DISTINCT run_id FROM sqlflow.schema_changes").fetchall() == [
        (run_id,)
    ]
    ip.run_line_magic("config", "SqlflowMagics.rich_tables = False")
    history = ip.run_line_magic("sqlflow", "history t")
    assert history.frame.loc[0, "schema_changes"] == (
        "added note VARCHAR; widened v INTEGER -> BIGINT"
    )
