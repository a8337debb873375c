"""engine.parsed: our statements are parsed once, and run exactly as their text would."""

from __future__ import annotations

import threading

import duckdb
import pytest

from sqlflow_magic.engine import parsed


@pytest.fixture
def con():
    with duckdb.connect() as c:
        c.execute("CREATE TABLE t AS SELECT range AS a FROM range(5)")
        yield c


def test_a_statement_is_parsed_once_and_binds_new_values_each_run(con):
    sql = "SELECT count(*) FROM t WHERE a >= $lo"
    assert [parsed.run(con, sql, {"lo": lo}).fetchall() for lo in (0, 3)] == [[(5,)], [(2,)]]
    assert parsed._parse(con, sql) is parsed._parse(con, sql)


def test_a_parsed_statement_binds_the_tables_as_they_are_now(con):
    sql = "SELECT * FROM t ORDER BY ALL LIMIT 1"
    assert parsed.run(con, sql).fetchall() == [(0,)]
    con.execute("ALTER TABLE t ADD COLUMN b VARCHAR DEFAULT 'x'")
    assert parsed.run(con, sql).fetchall() == [(0, "x")]
    con.execute("DROP TABLE t")
    with pytest.raises(duckdb.CatalogException):
        parsed.run(con, sql)


def test_text_a_setting_could_change_is_parsed_every_time(con):
    # integer_division acts while parsing: '/' must mean what the setting says now.
    sql = "SELECT 7 / 2"
    assert parsed.run(con, sql).fetchall() == [(3.5,)]
    con.execute("SET integer_division = true")
    assert parsed.run(con, sql).fetchall() == [(3,)]
    assert parsed._parse(con, sql) is None


def test_a_syntax_error_raises_as_execute_would(con):
    with pytest.raises(duckdb.ParserException):
        parsed.run(con, "SELEC 1")


def test_several_statements_run_as_text(con):
    assert parsed._parse(con, "SELECT 1; SELECT 2") is None
    assert parsed.run(con, "CREATE TABLE u (x INT); INSERT INTO u VALUES (1)") is not None
    assert con.execute("SELECT * FROM u").fetchall() == [(1,)]


def test_the_least_recently_run_statements_are_dropped(con, monkeypatch):
    monkeypatch.setattr(parsed, "MAX_STATEMENTS", 2)
    monkeypatch.setattr(parsed, "_statements", type(parsed._statements)())
    first = parsed._parse(con, "SELECT 1")
    parsed._parse(con, "SELECT 2")
    parsed._parse(con, "SELECT 1")  # now the most recent
    parsed._parse(con, "SELECT 3")
    assert list(parsed._statements) == ["SELECT 1", "SELECT 3"]
    assert parsed._parse(con, "SELECT 1") is first


def test_threads_share_parsed_statements_on_their_own_cursors(con):
    sql = "SELECT count(*) FROM t WHERE a < $n"
    failures = []

    def count(n: int) -> None:
        cursor = con.cursor()
        for _ in range(200):
            got = parsed.run(cursor, sql, {"n": n}).fetchall()
            if got != [(n,)]:
                failures.append((n, got))

    threads = [threading.Thread(target=count, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
