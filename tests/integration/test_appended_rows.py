"""The rows an APPEND run wrote, told apart in the target without staging the batch.

Rules and the profile read the rows a run writes. DuckDB numbers the rows an open
transaction appends from a constant far above any committed row (engine.duckdb
``appended_rows``); these tests pin that down against expectations from plain SQL, on the
shapes a target can have: rows deleted before, a column added in the same transaction,
an append larger than a row group, several tables appended to at once.
"""

from __future__ import annotations

import duckdb
import pytest

from sqlflow_magic.engine import duckdb as engine_module
from sqlflow_magic.engine.base import TableRef
from sqlflow_magic.engine.duckdb import DuckDBEngine
from sqlflow_magic.quality.rules import QualityCheckFailed


@pytest.fixture
def db(tmp_path):
    with duckdb.connect(str(tmp_path / "t.duckdb")) as c:
        c.execute("CREATE TABLE t AS SELECT range AS id, range % 7 AS v FROM range(300000)")
        c.execute("DELETE FROM t WHERE id % 1000 = 0")
        c.execute("CHECKPOINT")
        yield c


def _target(con) -> TableRef:
    return TableRef(con.execute("SELECT current_database()").fetchone()[0], "main", "t", True)


@pytest.mark.parametrize("added", [1, 5, 250_000])
def test_exactly_the_rows_this_transaction_appended(db, added):
    engine = DuckDBEngine(db)
    with engine.transaction():
        written = engine.appended_rows(_target(db), ["id"])
        assert written is not None
        db.execute("ALTER TABLE t ADD COLUMN note VARCHAR")
        db.execute(f"INSERT INTO t (id, v) SELECT 1000000 + range, 1 FROM range({added})")
        db.execute("DELETE FROM t WHERE id = 1000000")  # a row of this batch, gone again
        got = db.execute(f"SELECT count(*), min(id), max(id) FROM ({written.sql})").fetchone()
        expected = db.execute(
            "SELECT count(*), min(id), max(id) FROM t WHERE id >= 1000000"
        ).fetchone()
        assert got == expected
        assert got[0] == added - 1
        # the committed rows are all still there, and none of them is "appended"
        assert db.execute("SELECT count(*) FROM t WHERE id < 1000000").fetchone()[0] == 299_700
    assert db.execute(f"SELECT count(*) FROM ({written.sql})").fetchone()[0] == 0


def test_only_the_named_columns(db):
    engine = DuckDBEngine(db)
    with engine.transaction():
        written = engine.appended_rows(_target(db), ["v"])
        db.execute("INSERT INTO t VALUES (1000000, 3)")
        assert db.execute(written.sql).fetchall() == [(3,)]


def test_a_dry_run_stages_nothing_and_asks_nothing(db):
    assert DuckDBEngine(db, dry_run=True).appended_rows(_target(db), ["id"]) is None


def test_a_duckdb_that_numbers_them_otherwise_makes_append_stage(ip, sql, con, monkeypatch):
    monkeypatch.setattr(engine_module, "_FIRST_APPENDED_ROWID", None)
    con.execute("CREATE TABLE src AS SELECT range AS id, NULL::INT AS x FROM range(3)")
    sql("CREATE TABLE m MODE APPEND AS SELECT id, 1 AS x FROM src")
    with pytest.raises(QualityCheckFailed, match="1 row"):
        sql("CREATE TABLE m MODE APPEND EXPECT NOT NULL (x) AS SELECT * FROM src WHERE id = 2")
    result = sql("CREATE TABLE m MODE APPEND EXPECT NOT NULL (x) AS SELECT id, 2 AS x FROM src")
    assert result["rules"] == "1 passed"
    assert con.execute("SELECT x, count(*) FROM m GROUP BY x ORDER BY x").fetchall() == [
        (1, 3), (2, 3)
    ]  # fmt: skip


def test_append_rules_and_profile_read_only_this_runs_rows(ip, sql, con):
    # The target holds NULLs and a column this run's query lacks: neither is this run's.
    con.execute("CREATE TABLE m (id BIGINT, x INTEGER, extra VARCHAR)")
    con.execute("INSERT INTO m SELECT range, NULL, 'old' FROM range(10)")
    result = sql(
        "CREATE TABLE m MODE APPEND EXPECT NOT NULL (x) AS "
        "SELECT 100 + range AS id, range AS x FROM range(4)"
    )
    assert result["rules"] == "1 passed"
    checked = con.execute(
        "SELECT checked_rows FROM sqlflow.rule_results ORDER BY checked_at DESC LIMIT 1"
    ).fetchone()
    assert checked == (4,)
    rows, profile = con.execute(
        "SELECT rows, profile FROM sqlflow.quality_profiles ORDER BY profiled_at DESC LIMIT 1"
    ).fetchone()
    assert rows == 4
    assert '"extra"' not in profile
