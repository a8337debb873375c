"""The observability line magics, wired to real runs: metrics, Prometheus text, alerts, logs."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqlflow_magic.errors import SqlflowError

EVENTS = (
    "CREATE TABLE e AS SELECT TIMESTAMP '2025-01-01' + INTERVAL (range) MINUTE AS ts, "
    "range AS v, 'user' || range || '@example.com' AS email FROM range(600)"
)
HOURLY = (
    "CREATE TABLE h MODE INCREMENTAL BY hour AS SELECT date_trunc('hour', ts) AS hour, "
    "count(*) AS n FROM e WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL"
)


@pytest.fixture
def runs(ip, sql, con):
    """Known runs: three successes and one failure, read back from the state tables."""
    ip.run_line_magic("config", "SqlflowMagics.rich_tables = False")
    con.execute(EVENTS)
    sql(HOURLY, "--end '2025-01-01 03:00'")
    sql(HOURLY, "--end '2025-01-01 06:00'")
    sql("CREATE TABLE copy MODE APPEND AS SELECT * FROM e")
    with pytest.raises(SqlflowError):
        sql("CREATE TABLE copy MODE APPEND AS SELECT CAST(email AS INT) AS v FROM e")
    return con


def metric_value(families, name, **labels):
    for family in families:
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_prometheus_text_matches_the_state_tables(ip, runs, capsys):
    capsys.readouterr()
    ip.run_line_magic("sqlflow", "metrics --prometheus")
    families = list(text_string_to_metric_families(capsys.readouterr().out))
    for target, status, count in runs.execute(
        "SELECT target, status, count(*) FROM sqlflow.runs GROUP BY ALL"
    ).fetchall():
        assert metric_value(
            families, "sqlflow_runs_total", target=target, status=status
        ) == pytest.approx(count)
    inserted = runs.execute(
        "SELECT sum(rows_inserted) FROM sqlflow.runs WHERE target = 'main.h'"
    ).fetchone()[0]
    assert metric_value(
        families, "sqlflow_rows_total", target="main.h", kind="inserted"
    ) == pytest.approx(inserted)
    assert metric_value(families, "sqlflow_watermark_lag_seconds", target="main.h") > 0


def test_metrics_view_is_a_table_of_metric_labels_value(ip, runs):
    frame = ip.run_line_magic("sqlflow", "metrics").frame
    assert list(frame.columns) == ["metric", "labels", "value"]
    assert (frame["metric"] == "sqlflow_runs_total").any()


def test_an_alert_fires_inline_once_per_cooldown(ip, sql, con, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ip.run_line_magic("sqlflow", "alert add watermark_lag{target='main.h'} > 1h --name late")
    con.execute(EVENTS)
    sql(HOURLY, "--end '2025-01-01 03:00'")  # the watermark is almost two years old
    assert len(shown) == 1
    assert "late" in repr(shown[0])
    sql(HOURLY, "--end '2025-01-01 04:00'")  # still late, but within the cool-down
    assert len(shown) == 1
    fired = con.execute("SELECT alert, target FROM sqlflow.alerts_fired").fetchall()
    assert fired == [("late", "main.h")]


def test_a_bad_alert_rule_says_where(ip):
    with pytest.raises(SqlflowError) as info:
        ip.run_line_magic("sqlflow", "alert add watermark_lag >> 2h")
    assert info.value.hint


def test_the_run_log_is_json_lines_without_personal_data(ip, sql, con, tmp_path):
    log = tmp_path / "runs.jsonl"
    ip.run_line_magic("sqlflow", f"log {log}")
    try:
        con.execute(EVENTS)
        sql("CREATE TABLE ok MODE REPLACE AS SELECT * FROM e")
        with pytest.raises(SqlflowError):
            sql("CREATE TABLE bad MODE REPLACE AS SELECT CAST(email AS INT) AS v FROM e")
    finally:
        ip.run_line_magic("sqlflow", "log off")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["event"], r["target"]) for r in lines] == [
        ("run_started", "main.ok"), ("run_finished", "main.ok"),
        ("run_started", "main.bad"), ("run_failed", "main.bad"),
    ]  # fmt: skip
    assert "@example.com" not in log.read_text()
    assert "[REDACTED:email]" in lines[-1]["error"]
    stored = con.execute("SELECT error FROM sqlflow.runs WHERE status = 'failed'").fetchone()[0]
    assert "@example.com" not in stored


def test_a_dry_run_tells_observers_nothing(ip, sql, con, tmp_path):
    log = tmp_path / "runs.jsonl"
    ip.run_line_magic("sqlflow", f"log {log}")
    try:
        sql("CREATE TABLE t MODE REPLACE AS SELECT 1 AS a", "--dry-run")
    finally:
        ip.run_line_magic("sqlflow", "log off")
    assert log.read_text() == ""


def test_a_slow_plain_statement_gets_the_progress_bar_too(ip, sql, monkeypatch, capsys):
    from sqlflow_magic.render import progress

    monkeypatch.setattr(progress, "_frontend", lambda: "html")  # as in a kernel
    ip.run_line_magic("config", "SqlflowMagics.progress_after = 0.05")
    try:
        value = sql("SELECT 1 AS fast;\nSELECT count(*) AS n FROM range(2000000000)")
    finally:
        ip.run_line_magic("config", "SqlflowMagics.progress_after = None")
    assert value["n"].tolist() == [2_000_000_000]
    out = capsys.readouterr().out
    # the bar of the slow statement ends as its summary line; the fast one shows nothing
    assert "✓ line 3: SELECT count(*) AS n FROM range(2000000…: done in" in out
    assert "line 2" not in out
