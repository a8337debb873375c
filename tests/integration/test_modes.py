"""Each mode against expectations computed with plain DuckDB SQL on the same data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest


def rows(con, sql):
    return con.execute(sql).fetchall()


def same_rows(con, actual: str, expected: str) -> bool:
    """Multiset equality of two queries' results, computed by DuckDB itself."""
    diff = rows(
        con,
        f"SELECT count(*) FROM ((({actual}) EXCEPT ALL ({expected})) "
        f"UNION ALL (({expected}) EXCEPT ALL ({actual})))",
    )
    return diff[0][0] == 0


@pytest.fixture
def orders(con):
    con.execute(
        "CREATE TABLE orders AS SELECT range AS order_id, range % 7 AS customer_id, "
        "(range * 13 % 100)::DECIMAL(10,2) AS amount, DATE '2025-01-01' + (range % 30)::INT "
        "AS order_date FROM range(1000)"
    )
    return "orders"


def test_replace_creates_then_becomes_exactly_the_query_result(sql, con, orders):
    query = "SELECT order_date, sum(amount) AS total FROM orders GROUP BY order_date"
    first = sql(f"CREATE TABLE daily MODE REPLACE AS {query}")
    assert same_rows(con, "SELECT * FROM daily", query)
    assert first["inserted"] == 30
    assert first["deleted"] == 0
    con.execute("DELETE FROM orders WHERE order_date > DATE '2025-01-20'")
    second = sql(f"CREATE TABLE daily MODE REPLACE AS {query}")
    assert same_rows(con, "SELECT * FROM daily", query)
    assert (second["inserted"], second["deleted"]) == (20, 30)


def test_replace_takes_the_new_shape(sql, con, orders):
    sql("CREATE TABLE t MODE REPLACE AS SELECT order_id, amount FROM orders")
    sql("CREATE TABLE t MODE REPLACE AS SELECT order_id::VARCHAR AS k FROM orders LIMIT 3")
    assert rows(con, "SELECT column_name, data_type FROM duckdb_columns() "
                     "WHERE table_name = 't'") == [("k", "VARCHAR")]  # fmt: skip


@pytest.mark.parametrize("name", ["quote", "duckdb", "parsed"])
def test_a_target_named_like_a_python_object_of_ours_is_a_plain_new_table(sql, con, name):
    # Probing for a missing table makes DuckDB look for a Python object of that name
    # among the caller's globals, which are ours: it must still count as missing.
    sql(f"CREATE TABLE {name} MODE APPEND AS SELECT 1 AS x")
    sql(f"CREATE TABLE {name} MODE APPEND AS SELECT 2 AS x")
    assert rows(con, f"SELECT x FROM {name} ORDER BY x") == [(1,), (2,)]


def test_append_inserts_every_row_each_run(sql, con, orders):
    sql("CREATE TABLE log MODE APPEND AS SELECT * FROM orders WHERE order_id < 10")
    result = sql("CREATE TABLE log MODE APPEND AS SELECT * FROM orders WHERE order_id < 25")
    assert result["inserted"] == 25
    expected = (
        "SELECT * FROM orders WHERE order_id < 10 UNION ALL "
        "SELECT * FROM orders WHERE order_id < 25"
    )
    assert same_rows(con, "SELECT * FROM log", expected)


def test_append_matches_columns_by_name_and_adds_new_ones(sql, con):
    sql("CREATE TABLE log MODE APPEND AS SELECT 1 AS a, 'x' AS b")
    sql("CREATE TABLE log MODE APPEND AS SELECT 'y' AS b, 2 AS a, 3.5 AS c")
    sql("CREATE TABLE log MODE APPEND AS SELECT 3 AS a")
    assert rows(con, "SELECT a, b, c FROM log ORDER BY a") == [
        (1, "x", None), (2, "y", 3.5), (3, None, None),
    ]  # fmt: skip


def test_upsert_updates_existing_keys_inserts_new_and_leaves_the_rest(sql, con):
    con.execute("CREATE TABLE v1 AS SELECT range AS id, 'v1' AS status, range * 10 AS score "
                "FROM range(100)")  # fmt: skip
    con.execute("CREATE TABLE v2 AS SELECT range AS id, 'v2' AS status, range * 11 AS score "
                "FROM range(90, 120)")  # fmt: skip
    sql("CREATE TABLE profiles MODE UPSERT KEY (id) AS SELECT * FROM v1")
    result = sql("CREATE TABLE profiles MODE UPSERT KEY (id) AS SELECT * FROM v2")
    expected = "SELECT * FROM v1 WHERE id NOT IN (SELECT id FROM v2) UNION ALL SELECT * FROM v2"
    assert same_rows(con, "SELECT * FROM profiles", expected)
    inserted = rows(con, "SELECT count(*) FROM v2 WHERE id NOT IN (SELECT id FROM v1)")[0][0]
    assert (result["inserted"], result["updated"]) == (inserted, 30 - inserted)


def test_upsert_with_composite_key_and_a_column_the_batch_lacks(sql, con):
    sql(
        "CREATE TABLE p MODE UPSERT KEY (region, id) AS "
        "SELECT * FROM (VALUES ('eu', 1, 'a', 10), ('us', 1, 'b', 20)) v(region, id, name, n)"
    )
    sql(
        "CREATE TABLE p MODE UPSERT KEY (region, id) AS "
        "SELECT * FROM (VALUES ('us', 1, 'B'), ('us', 2, 'C')) v(region, id, name)"
    )
    assert rows(con, "SELECT * FROM p ORDER BY region, id") == [
        ("eu", 1, "a", 10), ("us", 1, "B", 20), ("us", 2, "C", None),
    ]  # fmt: skip


def _events(con, start: str, hours: int, per_hour: int = 4, table: str = "events"):
    con.execute(
        f"INSERT INTO {table} SELECT TIMESTAMP '{start}' + INTERVAL (range * 60 // $n) MINUTE, "
        "['cpu', 'mem'][range % 2 + 1], (range % 11)::DOUBLE FROM range($total)",
        {"n": per_hour, "total": hours * per_hour},
    )


HOURLY = (
    "CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS "
    "SELECT date_trunc('hour', ts) AS hour, metric, avg(v) AS avg_v, count(*) AS n "
    "FROM events WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL"
)
EXPECTED_HOURLY = (
    "SELECT date_trunc('hour', ts) AS hour, metric, avg(v) AS avg_v, count(*) AS n "
    "FROM events WHERE ts <= TIMESTAMP '{end}' GROUP BY ALL"
)


@pytest.fixture
def events(con):
    con.execute("CREATE TABLE events (ts TIMESTAMP, metric VARCHAR, v DOUBLE)")
    return "events"


def watermark(con, target="main.hourly"):
    found = rows(con, f"SELECT watermark FROM sqlflow.watermarks WHERE target = '{target}'")
    return found[0][0] if found else None


def test_incremental_first_run_takes_everything_up_to_end(sql, con, events):
    _events(con, "2025-03-01 00:00", hours=6)
    end = "2025-03-01 04:30:00"
    result = sql(HOURLY, f"--end '{end}'")
    assert same_rows(con, "SELECT * FROM hourly", EXPECTED_HOURLY.format(end=end))
    assert result["window_start"] == "-infinity"
    assert watermark(con) == dt.datetime(2025, 3, 1, 4)


def test_incremental_recomputes_the_window_with_late_rows(sql, con, events):
    _events(con, "2025-03-01 00:00", hours=6)
    sql(HOURLY, "--end '2025-03-01 04:30:00'")
    # late rows for 03:00 (within the 2-hour lookback of the 04:00 watermark) and new hours
    _events(con, "2025-03-01 03:00", hours=1, per_hour=3)
    _events(con, "2025-03-01 06:00", hours=3)
    end = "2025-03-01 08:59:59"
    result = sql(HOURLY, f"--end '{end}'")
    assert same_rows(con, "SELECT * FROM hourly", EXPECTED_HOURLY.format(end=end))
    # window (02:00, end]: the 02:00 bucket stays; 03:00 .. 08:00 are rewritten
    assert result["window_start"] == "2025-03-01 02:00:00"
    assert watermark(con) == dt.datetime(2025, 3, 1, 8)
    before = EXPECTED_HOURLY.format(end="2025-03-01 04:30:00")
    deleted = rows(
        con, f"SELECT count(*) FROM ({before}) WHERE hour > TIMESTAMP '2025-03-01 02:00'"
    )
    assert result["deleted"] == deleted[0][0]


def test_incremental_leaves_out_rows_outside_the_window_and_says_how_many(sql, con, events):
    _events(con, "2025-03-01 00:00", hours=4)
    sql(HOURLY, "--end '2025-03-01 03:59:59'")
    # without the macros the query returns every hour; the engine keeps only the window
    result = sql(
        "CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '1 hour' AS "
        "SELECT date_trunc('hour', ts) AS hour, metric, avg(v) AS avg_v, count(*) AS n "
        "FROM events GROUP BY ALL",
        "--end '2025-03-01 03:59:59'",
    )
    # window (02:00, 03:59:59]: only the 03:00 buckets (2 metrics) are inside
    assert (result["rows_in"], result["left_out"]) == (8, 6)
    assert same_rows(con, "SELECT * FROM hourly",
                     EXPECTED_HOURLY.format(end="2025-03-01 03:59:59"))  # fmt: skip


def test_incremental_row_level_query_reports_rows_left_out_too(sql, con, events):
    # a query that does not summarise is not staged: its rows outside the window are
    # counted by a pass of their own
    _events(con, "2025-03-01 00:00", hours=4)
    sql("CREATE TABLE raw MODE INCREMENTAL BY ts AS SELECT * FROM events",
        "--end '2025-03-01 01:59:59'")  # fmt: skip
    result = sql("CREATE TABLE raw MODE INCREMENTAL BY ts AS SELECT * FROM events",
                 "--end '2025-03-01 02:59:59'")  # fmt: skip
    inside = rows(con, "SELECT count(*) FROM events WHERE ts > (SELECT max(ts) FROM events "
                  "WHERE ts <= TIMESTAMP '2025-03-01 01:59:59') "
                  "AND ts <= TIMESTAMP '2025-03-01 02:59:59'")[0][0]  # fmt: skip
    total = rows(con, "SELECT count(*) FROM events")[0][0]
    assert (result["rows_in"], result["inserted"], result["left_out"]) == (
        total, inside, total - inside,
    )  # fmt: skip
    expected = "SELECT * FROM events WHERE ts <= TIMESTAMP '2025-03-01 02:59:59'"
    assert same_rows(con, "SELECT * FROM raw", expected)


def test_incremental_query_may_use_one_bound_only(sql, con, events):
    # only the parameters the query uses are bound (DuckDB refuses any other)
    _events(con, "2025-03-01 00:00", hours=4)
    for macro in ("ts > @start_dt", "ts <= @end_dt", "CAST(ts AS DATE) >= @start_date"):
        sql(f"CREATE TABLE raw MODE INCREMENTAL BY ts AS SELECT * FROM events WHERE {macro}",
            "--end '2025-03-01 01:59:59'")  # fmt: skip
        assert rows(con, "SELECT count(*) FROM raw")[0][0] == 8
        con.execute("DROP TABLE raw")
        con.execute("DELETE FROM sqlflow.watermarks")


def test_incremental_without_macros_tells_the_user(sql, events, capsys):
    sql("CREATE TABLE raw MODE INCREMENTAL BY ts AS SELECT * FROM events")
    assert "@start_dt" in capsys.readouterr().out


def test_incremental_watermark_never_moves_back_on_backfill(sql, con, events):
    _events(con, "2025-03-01 00:00", hours=6)
    sql(HOURLY, "--end '2025-03-01 05:59:59'")
    con.execute("UPDATE events SET v = v + 100 WHERE ts < TIMESTAMP '2025-03-01 02:00'")
    result = sql(HOURLY, "--start '2025-02-28 23:00:00' --end '2025-03-01 01:59:59'")
    assert result["window_start"] == "2025-02-28 23:00:00"
    assert watermark(con) == dt.datetime(2025, 3, 1, 5)
    assert same_rows(con, "SELECT * FROM hourly",
                     EXPECTED_HOURLY.format(end="2025-03-01 05:59:59"))  # fmt: skip


def test_incremental_query_reading_its_own_target_sees_it_without_the_window(sql, con):
    # ids new to the target: a query that skips ids the target holds already. Rows of
    # the window being recomputed must not count as "already there", or a late re-run
    # would drop them.
    con.execute("CREATE TABLE src AS SELECT range AS id, TIMESTAMP '2025-01-01' + "
                "INTERVAL (range) HOUR AS ts FROM range(10)")  # fmt: skip
    cell = (
        "CREATE TABLE firsts MODE INCREMENTAL BY ts LOOKBACK '3 hours' AS "
        "SELECT id, ts FROM src WHERE ts > @start_dt AND ts <= @end_dt "
        "AND id NOT IN (SELECT id FROM firsts)"
    )
    con.execute("CREATE TABLE firsts (id BIGINT, ts TIMESTAMP)")
    sql(cell, "--end '2025-01-01 05:00:00'")
    result = sql(cell, "--end '2025-01-01 09:00:00'")
    # window (02:00, 09:00]: ids 3..9, including 3..5 which the first run wrote
    assert rows(con, "SELECT id FROM firsts ORDER BY id") == [(i,) for i in range(10)]
    assert (result["deleted"], result["inserted"]) == (3, 7)
    # the same when the query summarises (its result is staged, after the delete)
    summarised = cell.replace("firsts", "firsts2").replace(
        "SELECT id, ts FROM src", "SELECT DISTINCT id, ts FROM src"
    )
    con.execute("CREATE TABLE firsts2 (id BIGINT, ts TIMESTAMP)")
    sql(summarised, "--end '2025-01-01 05:00:00'")
    sql(summarised, "--end '2025-01-01 09:00:00'")
    assert rows(con, "SELECT id FROM firsts2 ORDER BY id") == [(i,) for i in range(10)]


def test_a_plain_statement_that_edits_the_state_makes_the_next_run_record_it_again(sql, con):
    cell = "CREATE TABLE t MODE APPEND AS SELECT 1 AS a"
    sql(cell)
    sql(cell)  # the definition is unchanged and remembered: nothing to record
    sql("DELETE FROM sqlflow.transforms")
    sql(cell)
    assert rows(con, "SELECT target, mode FROM sqlflow.transforms") == [("main.t", "APPEND")]


def test_a_query_that_is_not_a_select_is_refused_and_runs_nothing(sql, con):
    from sqlflow_magic.errors import DatabaseError

    con.execute("CREATE TABLE y (a INTEGER)")
    with pytest.raises(DatabaseError):
        sql("CREATE TABLE t MODE APPEND AS WITH s AS (SELECT 1 AS a) INSERT INTO y FROM s")
    assert rows(con, "SELECT count(*) FROM y") == [(0,)]
    assert rows(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'") == [(0,)]


def test_incremental_on_dates_and_timestamptz(sql, con):
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute("CREATE TABLE e AS SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + "
                "INTERVAL (range) HOUR AS ts, range AS v FROM range(72)")  # fmt: skip
    sql("CREATE TABLE daily MODE INCREMENTAL BY d AS SELECT ts::DATE AS d, sum(v) AS s "
        "FROM e GROUP BY ALL", "--end '2025-01-02 12:00:00'")  # fmt: skip
    sql("CREATE TABLE raw MODE INCREMENTAL BY ts AS SELECT * FROM e", "--end '2025-01-02 00:00:00'")
    # TIMESTAMPTZ bounds are UTC instants, whatever the session TimeZone says
    assert rows(con, "SELECT count(*) FROM raw")[0][0] == 25
    assert watermark(con, "main.raw") == dt.datetime(2025, 1, 2, 0, 0)
    assert watermark(con, "main.daily") is not None


def test_reset_makes_the_next_run_full(ip, sql, con, events):
    _events(con, "2025-03-01 00:00", hours=3)
    sql(HOURLY, "--end '2025-03-01 02:59:59'")
    ip.run_line_magic("sqlflow", "reset hourly")
    assert watermark(con) is None
    con.execute("UPDATE events SET v = -1")
    result = sql(HOURLY, "--end '2025-03-01 02:59:59'")
    assert result["window_start"] == "-infinity"
    assert same_rows(con, "SELECT * FROM hourly",
                     EXPECTED_HOURLY.format(end="2025-03-01 02:59:59"))  # fmt: skip


def test_dry_run_changes_nothing_and_prints_the_sql(sql, con, events, capsys):
    _events(con, "2025-03-01 00:00", hours=3)
    sql(HOURLY, "--dry-run --end '2025-03-01 02:59:59'")
    out = capsys.readouterr().out
    assert "CREATE TABLE" in out
    assert "sqlflow_end" in out
    assert rows(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'hourly'") == [(0,)]
    assert rows(con, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'sqlflow'") == [
        (0,)
    ]


def test_dataframes_and_variables_from_the_namespace(ip, sql, con):
    ip.user_ns["people"] = pd.DataFrame({"id": [1, 2, 3], "name": ["ann", "bob", "cy"]})
    ip.user_ns["min_id"] = 2
    ip.user_ns["who"] = "x'); DROP TABLE people; --"
    sql("CREATE TABLE p MODE REPLACE AS SELECT *, $who AS note FROM people WHERE id >= $min_id")
    assert rows(con, "SELECT id, note FROM p ORDER BY id") == [
        (2, "x'); DROP TABLE people; --"), (3, "x'); DROP TABLE people; --"),
    ]  # fmt: skip
    value = sql("SELECT count(*) AS n FROM people", "-o counted")
    assert ip.user_ns["counted"].equals(value)
    assert value.loc[0, "n"] == 3


def test_a_table_wins_over_a_dataframe_of_the_same_name(ip, sql, con):
    con.execute("CREATE TABLE people AS SELECT 42 AS id")
    ip.user_ns["people"] = pd.DataFrame({"id": [1]})
    assert sql("SELECT id FROM people").loc[0, "id"] == 42


def test_qualified_and_quoted_targets(sql, con):
    con.execute('CREATE SCHEMA "sales data"')
    sql('CREATE TABLE "sales data"."Daily Totals" MODE REPLACE AS SELECT 1 AS "order id"')
    assert rows(con, 'SELECT "order id" FROM "sales data"."Daily Totals"') == [(1,)]
    assert rows(con, "SELECT target FROM sqlflow.transforms") == [("sales data.Daily Totals",)]


def test_the_cell_value_is_the_last_statement_that_returns_rows(sql):
    value = sql(
        "CREATE TABLE a AS SELECT 1 AS x; SELECT x + 1 AS y FROM a; INSERT INTO a VALUES (5)"
    )
    assert list(value["y"]) == [2]


def test_observers_hear_each_run_start_and_end(ip, sql):
    from sqlflow_magic.magic import active_magics

    heard = []
    events = active_magics().events
    events.subscribe(heard.append)
    try:
        sql("CREATE TABLE t MODE APPEND AS SELECT 1 AS a")
        with pytest.raises(Exception, match="duplicate"):
            sql("CREATE TABLE u MODE UPSERT KEY (a) AS SELECT 1 AS a UNION ALL SELECT 1")
    finally:
        events.unsubscribe(heard.append)
    assert [(e.target, e.status) for e in heard] == [
        ("main.t", "started"), ("main.t", "success"), ("main.u", "started"), ("main.u", "failed"),
    ]  # fmt: skip
    assert heard[1].rows_inserted == 1
    assert heard[3].error_type == "ModeError"
    assert heard[0].run_id == heard[1].run_id


def test_use_moves_where_unqualified_targets_land(sql, con):
    sql("CREATE TABLE t MODE REPLACE AS SELECT 1 AS a")
    sql("CREATE SCHEMA other; USE other")
    sql("CREATE TABLE t MODE REPLACE AS SELECT 2 AS a")
    sql("USE main")
    assert con.execute("SELECT a FROM main.t").fetchall() == [(1,)]
    assert con.execute("SELECT a FROM other.t").fetchall() == [(2,)]
