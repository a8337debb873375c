"""Every bad input: a clear message (what, where, how to fix) and nothing changed.

Each case runs after a successful run of the target, then asserts the target's rows, its
watermark and its successful run records are exactly as they were.
"""

from __future__ import annotations

import pytest

from sqlflow_magic.errors import (
    DatabaseError,
    ModeError,
    SchemaConflictError,
    SqlflowError,
    SqlflowSyntaxError,
    WatermarkError,
)

SETUP = """
CREATE TABLE src AS SELECT range AS id, 'n' || range AS name,
    TIMESTAMP '2025-01-01' + INTERVAL (range) HOUR AS ts, range::INTEGER AS qty FROM range(50);
"""
GOOD = {
    "up": "CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id, name, qty FROM src",
    "inc": "CREATE TABLE inc MODE INCREMENTAL BY ts LOOKBACK '1 hour' AS "
    "SELECT ts, id, qty FROM src WHERE ts > @start_dt AND ts <= @end_dt",
}
END = "--end '2025-01-02 12:00:00'"


def snapshot(con, target: str):
    """Rows, watermark and successful runs of a target, read with plain SQL."""
    return (
        con.execute(f"SELECT * FROM {target} ORDER BY ALL").fetchall(),
        con.execute(
            f"SELECT watermark FROM sqlflow.watermarks WHERE target = 'main.{target}'"
        ).fetchall(),  # fmt: skip
        con.execute(
            f"SELECT run_id, rows_inserted FROM sqlflow.runs WHERE target = "
            f"'main.{target}' AND status = 'success' ORDER BY ALL"
        ).fetchall(),  # fmt: skip
        con.execute(
            f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = "
            f"'{target}' ORDER BY column_index"
        ).fetchall(),  # fmt: skip
    )


@pytest.fixture
def ready(sql, con):
    con.execute(SETUP)
    sql(GOOD["up"])
    sql(GOOD["inc"], END)
    return {name: snapshot(con, name) for name in GOOD}


CASES = [
    # (target, cell, line option, error type, fragment of message or hint, (line, col) or None)
    ("up", "CREATE TABLE up MODE AS SELECT 1", "", SqlflowSyntaxError, "MODE needs a mode",
     (2, 22)),
    ("up", "CREATE TABLE up MODE MERGE AS SELECT 1", "", SqlflowSyntaxError, "unknown mode",
     (2, 22)),
    ("up", "CREATE TABLE up MODE UPSERT AS SELECT * FROM src", "", SqlflowSyntaxError,
     "needs KEY", (2, 22)),
    ("up", "CREATE TABLE up MODE UPSERT KEY (idd) AS SELECT id, name, qty FROM src", "",
     ModeError, "did you mean 'id'", (2, 34)),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY tss AS SELECT ts, id, qty FROM src", END,
     ModeError, "no such column for BY", (2, 38)),
    ("up", "CREATE TABLE up; DROP TABLE src MODE REPLACE AS SELECT 1", "", DatabaseError,
     "", None),
    ("up", 'CREATE TABLE "" MODE REPLACE AS SELECT 1', "", SqlflowSyntaxError, "empty",
     (2, 14)),
    ("up", "CREATE TABLE from MODE REPLACE AS SELECT 1", "", SqlflowSyntaxError,
     "reserved word", (2, 14)),
    ("up", "CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id % 10 AS id, name, qty FROM src",
     "", ModeError, "duplicate keys: (0) x5", None),
    ("up", "CREATE TABLE up MODE UPSERT KEY (id) AS "
     "SELECT CASE WHEN id = 7 THEN NULL ELSE id END AS id, name, qty FROM src", "", ModeError,
     "NULL keys", None),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY ts LOOKBACK 'two hours' AS "
     "SELECT ts, id, qty FROM src", END, WatermarkError, "not an interval", (2, 50)),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY id AS SELECT ts, id, qty FROM src", END,
     WatermarkError, "not a DATE or TIMESTAMP", (2, 38)),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY hour LOOKBACK '10 minutes' AS "
     "SELECT date_trunc('hour', ts) AS hour, sum(qty) AS q FROM src GROUP BY ALL", END,
     WatermarkError, "shorter than one bucket", (2, 52)),
    # fails half-way: the error() call fires on a row in the middle of the batch
    ("up", "CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id, "
     "CASE WHEN id = 30 THEN error('boom at 30') ELSE name END AS name, qty FROM src", "",
     DatabaseError, "boom at 30", None),
    # (id 45 is inside this backfill's window: rows outside it may never be computed,
    # since DuckDB pushes the window's filter into the query)
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY ts AS SELECT ts, id, "
     "CAST(CASE WHEN id = 45 THEN 'x' ELSE qty::VARCHAR END AS INTEGER) AS qty FROM src",
     "--start '2025-01-02' --end '2025-01-03'", DatabaseError, "Conversion", None),
    # the same for a query that summarises (its result is staged after the window's delete)
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY ts AS SELECT ts, id, "
     "sum(CASE WHEN id = 45 THEN error('boom at 45') ELSE qty END) AS qty FROM src "
     "GROUP BY ts, id", "--start '2025-01-02' --end '2025-01-03'", DatabaseError, "boom at 45",
     None),
    ("up", "CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id, name, 'many' AS qty FROM src",
     "", SchemaConflictError, "qty is INTEGER in the table but the query returns VARCHAR", None),
    ("up", "CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id::VARCHAR AS id, name, qty FROM src",
     "", SchemaConflictError, "key column", None),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY ts AS SELECT ts, id, qty FROM src",
     "--start '2025-01-03' --end '2025-01-02'", WatermarkError, "is empty", None),
    ("inc", "CREATE TABLE inc MODE INCREMENTAL BY ts AS SELECT ts, id, qty FROM src",
     "--end 'yesterday-ish'", WatermarkError, "not a timestamp", None),
    ("up", "CREATE TABLE up MODE REPLACE AS SELECT id FROM src WHERE qty > $missing", "",
     SqlflowError, "names no variable", (2, 64)),
    ("up", "CREATE TABLE up MODE REPLACE AS SELECT $sqlflow_end AS a", "", SqlflowError,
     "reserved for the window", (2, 40)),
    ("up", "CREATE TABLE up MODE REPLACE AS SELECT 1 AS a, 2 AS a", "", ModeError,
     "more than once", None),
    ("up", "CREATE TABLE up MODE APPEND AS SELECT * FROM no_such_table", "", DatabaseError,
     "no_such_table", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "cell", "line", "error", "fragment", "position"),
    CASES,
    ids=[c[1][:60] for c in CASES],
)
def test_bad_input_is_explained_and_changes_nothing(
    ready, sql, con, target, cell, line, error, fragment, position
):
    with pytest.raises(error) as info:
        sql(cell, line)
    err = info.value
    text = str(err)
    assert fragment in text
    assert err.hint, "every error says how to fix it"
    if position is not None:
        assert (err.line, err.col) == position
        assert "^" in err.excerpt
    assert snapshot(con, target) == ready[target]
    for other, before in ready.items():
        assert snapshot(con, other) == before


def test_a_failed_run_is_recorded_after_the_rollback(ready, sql, con):
    with pytest.raises(ModeError):
        sql("CREATE TABLE up MODE UPSERT KEY (id) AS SELECT 1 AS id UNION ALL SELECT 1")
    status, error = con.execute(
        "SELECT status, error FROM sqlflow.runs WHERE target = 'main.up' "
        "ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    assert status == "failed"
    assert "duplicate keys" in error


def test_errors_render_briefly_in_a_notebook(ready, sql):
    with pytest.raises(SqlflowSyntaxError) as info:
        sql("SELECT 1;\nCREATE TABLE t MODE UPSERT AS SELECT 1")
    lines = info.value._render_traceback_()
    assert len(lines) <= 5
    assert "line 3, column 21" in lines[0]
    assert "needs KEY" in lines[0]


def test_a_transform_cannot_write_into_the_state_schema(ready, sql):
    with pytest.raises(ModeError, match="state tables"):
        sql("CREATE TABLE sqlflow.runs MODE REPLACE AS SELECT 1 AS x")


def test_a_target_that_is_a_view_is_refused(ready, sql, con):
    con.execute("CREATE VIEW v AS SELECT 1 AS x")
    with pytest.raises(ModeError, match="is a view"):
        sql("CREATE TABLE v MODE APPEND AS SELECT 1 AS x")


@pytest.mark.parametrize("name", ["quote", "duckdb", "nosuch"])
def test_a_missing_source_table_is_named_whatever_its_name(ready, sql, name):
    # DuckDB looks for a Python object of a missing table's name in the calling code,
    # which is sqlflow's; finding one of its functions must still read as a missing table.
    with pytest.raises(DatabaseError) as info:
        sql(f"CREATE TABLE t MODE REPLACE AS SELECT * FROM {name}")
    assert f"Table with name {name} does not exist" in info.value.message
    assert "replacement scan" not in str(info.value)


def test_a_missing_schema_says_how_to_create_it(ready, sql):
    with pytest.raises(ModeError, match="CREATE SCHEMA"):
        sql("CREATE TABLE nowhere.t MODE REPLACE AS SELECT 1 AS x")


def test_line_magic_usage_errors(ip):
    with pytest.raises(SqlflowError, match="unknown command"):
        ip.run_line_magic("sqlflow", "stats")
    with pytest.raises(SqlflowError, match="not a sqlflow transform"):
        ip.run_line_magic("sqlflow", "reset src")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("log /nonexistent/dir/x.jsonl", "cannot open the run log"),
        ("serve-metrics abc", "PORT"),
        ("quality", "needs one TABLE"),
        ("quality no_such_table", "no table no_such_table"),
        ("connect /nonexistent/dir/x.duckdb", "cannot open"),
        ("alert remove nope", "no alert named"),
        ("history a b", "at most one TABLE"),
        ("metrics --bad", "--prometheus"),
    ],
)
def test_line_magic_bad_input_is_explained_and_keeps_the_database(ip, con, line, fragment):
    con.execute("CREATE TABLE keep AS SELECT 1 AS a")
    with pytest.raises(SqlflowError) as info:
        ip.run_line_magic("sqlflow", line)
    assert fragment in str(info.value)
    assert info.value.hint
    # still connected to the same database, with its data
    from sqlflow_magic.magic import active_magics

    assert active_magics().session.connection().execute("SELECT a FROM keep").fetchall() == [(1,)]


def test_a_temp_table_in_the_way_of_the_staged_batch_is_named(ready, sql, con):
    con.execute("CREATE TEMP TABLE sqlflow_batch AS SELECT 42 AS mine")
    with pytest.raises(ModeError, match="temp.main.sqlflow_batch already exists") as info:
        sql("CREATE TABLE up MODE UPSERT KEY (id) AS SELECT id, 'x' AS name, qty FROM src")
    assert "DROP TABLE temp.main.sqlflow_batch" in info.value.hint
    assert snapshot(con, "up") == ready["up"]
    assert con.execute("SELECT * FROM temp.main.sqlflow_batch").fetchall() == [(42,)]


def test_a_users_temp_table_never_gets_in_the_way_of_telling_appended_rows(
    ip, sql, con, monkeypatch
):
    from sqlflow_magic.engine import duckdb as engine_module

    # The probe runs once per process: make this run the first.
    monkeypatch.setattr(engine_module, "_FIRST_APPENDED_ROWID", engine_module._UNKNOWN)
    con.execute("CREATE TEMP TABLE sqlflow_rowid_probe (x INTEGER)")
    sql("CREATE TABLE a MODE APPEND AS SELECT 1 AS id")
    result = sql("CREATE TABLE a MODE APPEND EXPECT NOT NULL (id) AS SELECT 2 AS id")
    assert result["rules"] == "1 passed"
    assert con.execute("SELECT id FROM a ORDER BY id").fetchall() == [(1,), (2,)]
    assert engine_module._FIRST_APPENDED_ROWID >= 2**40  # learnt again, despite the table
