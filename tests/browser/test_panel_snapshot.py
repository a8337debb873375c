"""The kernel side of the lab panel: sqlflow_magic.panel against hand-made state tables.

These need no browser; they pin the JSON the TypeScript panel reads (issue 5).
"""

from __future__ import annotations

import datetime as dt
import json
import types

import duckdb
import pytest

from sqlflow_magic import panel

_DDL = """
CREATE SCHEMA IF NOT EXISTS {db}.sqlflow;
CREATE TABLE {db}.sqlflow.transforms (
    target VARCHAR, mode VARCHAR, keys VARCHAR[], time_column VARCHAR, lookback VARCHAR,
    definition VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE {db}.sqlflow.watermarks (
    target VARCHAR, time_column VARCHAR, watermark TIMESTAMP, run_id VARCHAR,
    updated_at TIMESTAMP);
CREATE TABLE {db}.sqlflow.runs (
    run_id VARCHAR, target VARCHAR, mode VARCHAR, status VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, duration_s DOUBLE,
    window_start TIMESTAMP, window_end TIMESTAMP,
    rows_in BIGINT, rows_inserted BIGINT, rows_updated BIGINT, rows_deleted BIGINT,
    rows_left_out BIGINT, watermark_before TIMESTAMP, watermark_after TIMESTAMP,
    error VARCHAR);
"""

T0 = dt.datetime(2024, 5, 1, 12, 0, 0)


def _fake_magics(con):
    return types.SimpleNamespace(session=types.SimpleNamespace(connection=lambda: con))


@pytest.fixture
def con(monkeypatch):
    connection = duckdb.connect(":memory:")
    monkeypatch.setattr(panel, "_active_magics", lambda: _fake_magics(connection))
    yield connection
    connection.close()


def _run(con, db, run_id, target, status, started, inserted=0, error=None, window=(None, None)):
    con.execute(
        f"INSERT INTO {db}.sqlflow.runs (run_id, target, mode, status, started_at, finished_at,"
        " duration_s, window_start, window_end, rows_inserted, rows_updated, rows_deleted, error)"
        " VALUES (?, ?, 'INCREMENTAL', ?, ?, ?, 0.25, ?, ?, ?, 0, 0, ?)",
        [run_id, target, status, started, started + dt.timedelta(seconds=0.25), *window,
         inserted, error],
    )  # fmt: skip


def _state(con, db="memory"):
    con.execute(_DDL.format(db=db))
    con.execute(
        f"INSERT INTO {db}.sqlflow.transforms VALUES"
        " ('hourly', 'INCREMENTAL', [], 'hour', '2 hours', 'SELECT 1', $t, $t),"
        " ('profiles', 'UPSERT', ['customer_id'], NULL, NULL, 'SELECT 2', $t, $t)",
        {"t": T0},
    )
    con.execute(
        f"INSERT INTO {db}.sqlflow.watermarks VALUES ('hourly', 'hour', $w, 'r2', $t)",
        {"w": T0 - dt.timedelta(hours=1), "t": T0},
    )
    _run(con, db, "r1", "hourly", "success", T0 - dt.timedelta(minutes=10), 24,
         window=(None, T0 - dt.timedelta(minutes=10)))  # fmt: skip
    _run(con, db, "r2", "hourly", "success", T0, 3, window=(T0 - dt.timedelta(hours=3), T0))
    _run(con, db, "r3", "profiles", "failed", T0, error="Duplicate key")
    _run(con, db, "r0", "broken", "failed", T0, error="Parser Error")


def test_not_loaded_gives_empty_lists(monkeypatch):
    monkeypatch.setattr(panel, "_active_magics", lambda: None)
    data = json.loads(panel.snapshot_json())
    assert data["loaded"] is False
    assert data["transforms"] == []
    assert data["history"] == []


def test_no_state_tables_yet_gives_empty_lists(con):
    data = json.loads(panel.snapshot_json("anything"))
    assert data["loaded"] is True
    assert (data["transforms"], data["history"], data["error"]) == ([], [], None)
    # Reading the state must not create it.
    assert con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'sqlflow'"
    ).fetchall() == [(0,)]


def test_transforms_with_watermark_lag_and_last_run(con):
    _state(con)
    data = json.loads(panel.snapshot_json())
    by_target = {t["target"]: t for t in data["transforms"]}
    assert sorted(by_target) == ["broken", "hourly", "profiles"]

    hourly = by_target["hourly"]
    assert hourly["mode"] == "INCREMENTAL"
    assert hourly["watermark"] == "2024-05-01T11:00:00"
    now = dt.datetime.fromisoformat(data["now"])
    assert hourly["lag_s"] == pytest.approx((now - (T0 - dt.timedelta(hours=1))).total_seconds(),
                                            abs=5)  # fmt: skip
    assert hourly["last_run"]["run_id"] == "r2"
    assert hourly["last_run"]["rows_inserted"] == 3
    assert (hourly["runs"], hourly["failed_runs"]) == (2, 0)

    profiles = by_target["profiles"]
    assert profiles["keys"] == ["customer_id"]
    assert profiles["watermark"] is None
    assert profiles["lag_s"] is None
    assert profiles["last_run"]["status"] == "failed"
    assert profiles["last_run"]["error"] == "Duplicate key"

    # A first run that failed leaves no definition, but the panel still shows the target.
    assert by_target["broken"]["mode"] == "INCREMENTAL"
    assert by_target["broken"]["failed_runs"] == 1


def test_history_of_one_target_newest_first(con):
    _state(con)
    history = json.loads(panel.snapshot_json("HOURLY"))["history"]
    assert [r["run_id"] for r in history] == ["r2", "r1"]
    assert history[0]["window_start"] == "2024-05-01T09:00:00"
    assert history[0]["window_end"] == "2024-05-01T12:00:00"
    assert history[1]["window_start"] is None
    assert history[0]["duration_s"] == 0.25


def test_history_of_all_targets_is_limited(con):
    _state(con)
    assert len(json.loads(panel.snapshot_json(limit=2))["history"]) == 2
    assert len(json.loads(panel.snapshot_json())["history"]) == 4


def test_attached_database_state_is_shown(con, tmp_path):
    _state(con)
    con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    con.execute(_DDL.format(db="other"))
    con.execute("INSERT INTO other.sqlflow.transforms (target, mode) VALUES ('t2', 'APPEND')")
    data = json.loads(panel.snapshot_json())
    assert data["databases"] == ["memory", "other"]
    assert {(t["database"], t["target"]) for t in data["transforms"]} >= {("other", "t2")}


def test_errors_are_reported_not_raised(monkeypatch):
    def broken():
        raise RuntimeError("connection closed")

    monkeypatch.setattr(panel, "_active_magics", lambda: types.SimpleNamespace(
        session=types.SimpleNamespace(connection=broken)))  # fmt: skip
    data = json.loads(panel.snapshot_json())
    assert data["error"] == "RuntimeError: connection closed"
    assert data["transforms"] == []


def test_nan_and_odd_values_stay_valid_json(con):
    _state(con)
    con.execute("UPDATE sqlflow.runs SET duration_s = 'NaN'::DOUBLE WHERE run_id = 'r1'")
    history = json.loads(panel.snapshot_json("hourly"))["history"]
    assert history[1]["duration_s"] is None


def test_panel_reply_repr_is_the_json_text(con):
    _state(con)
    # The lab extension reads user_expressions' text/plain, which is the repr.
    assert json.loads(repr(panel.panel_reply("hourly")))["history"][0]["run_id"] == "r2"


def test_history_finds_a_qualified_target_by_its_bare_name(con):
    _state(con)
    con.execute("UPDATE sqlflow.runs SET target = 'main.' || target")
    assert [r["run_id"] for r in json.loads(panel.snapshot_json("hourly"))["history"]] == [
        "r2",
        "r1",
    ]
    assert len(json.loads(panel.snapshot_json("main.hourly"))["history"]) == 2


def test_with_the_real_magic(shell):
    """End to end with the core: %load_ext, two transforms, then the snapshot."""
    from sqlflow_magic.magic import active_magics

    assert active_magics() is not None
    shell.run_line_magic("sqlflow", "connect :memory:")
    shell.run_cell_magic(
        "sqlflow", "",
        "CREATE TABLE src AS SELECT TIMESTAMP '2024-05-01' + INTERVAL (i) MINUTE AS ts, i AS v"
        " FROM range(180) t(i);\n"
        "CREATE TABLE hourly MODE INCREMENTAL BY hour AS"
        " SELECT date_trunc('hour', ts) AS hour, sum(v) AS total FROM src"
        " WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL",
    )  # fmt: skip
    data = json.loads(panel.snapshot_json("hourly"))
    assert data["loaded"] is True
    (hourly,) = (t for t in data["transforms"] if t["target"].endswith("hourly"))
    assert hourly["mode"] == "INCREMENTAL"
    assert hourly["watermark"] == "2024-05-01T02:00:00"
    assert hourly["lag_s"] > 0
    assert hourly["last_run"]["status"] == "success"
    assert data["history"][0]["rows_inserted"] == 3


def test_a_reset_is_history_but_not_the_last_run(con):
    _state(con)
    con.execute(
        "INSERT INTO sqlflow.runs (run_id, target, mode, status, started_at) "
        "VALUES ('r9', 'hourly', 'RESET', 'reset', $t)",
        {"t": T0 + dt.timedelta(minutes=5)},
    )
    data = json.loads(panel.snapshot_json("hourly"))
    hourly = next(t for t in data["transforms"] if t["target"] == "hourly")
    assert hourly["last_run"]["run_id"] == "r2"
    assert (hourly["runs"], hourly["failed_runs"]) == (3, 0)
    assert [r["status"] for r in data["history"]] == ["reset", "success", "success"]


def test_doctests():
    import doctest

    result = doctest.testmod(panel)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_panel_imports_nothing_into_a_kernel_without_the_extension(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "sqlflow_magic.magic", raising=False)
    assert json.loads(panel.snapshot_json())["loaded"] is False
    assert "sqlflow_magic.magic" not in sys.modules
