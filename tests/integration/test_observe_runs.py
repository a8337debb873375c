"""Observers on real %%sqlflow runs: metrics equal what sqlflow.runs says (counted with plain
SQL), a restart on a file database restores them, alerts fire and cool down, and no
personal value from a failed run reaches the log."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.metrics import MetricsRegistry, epoch
from sqlflow_magic.observe.observers import Observers
from sqlflow_magic.quality.model import CATEGORIES

END_1 = "--end '2025-03-01 03:00:00'"
END_2 = "--end '2025-03-01 06:00:00'"


class Clock:
    def __init__(self, seconds: float) -> None:
        self.now = seconds

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock(epoch(dt.datetime(2025, 3, 1, 8, 0, 0)))


@pytest.fixture
def observers(ip, clock):
    """The magics' observers, replaced by ones with a test clock for the test."""
    from sqlflow_magic.magic import active_magics

    magics = active_magics()
    previous = magics._observers
    if previous is not None:
        magics.events.unsubscribe(previous)
    obs = Observers(clock=clock, connection=lambda: magics.session.connection())
    magics._observers = obs
    magics.events.subscribe(obs)
    yield obs
    magics.events.unsubscribe(obs)
    obs.close()
    magics._observers = previous
    if previous is not None:
        magics.events.subscribe(previous)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def assert_same_metrics(got: dict, want: dict) -> None:
    """Equal samples, durations within 0.5 s: the runner measures a failed run's duration
    twice (for sqlflow.runs, then for the event), so those may differ slightly and even
    land in neighbouring buckets; bucket totals (+Inf) must still agree."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        name, labels = key
        if name.endswith("_bucket") and ("le", "+Inf") not in labels:
            continue
        tolerance = 0.5 if "duration" in name and not name.endswith(("_count", "_bucket")) else 0
        assert got[key] == pytest.approx(value, abs=tolerance), key


SOURCES = """
CREATE TABLE events AS SELECT * FROM (VALUES
    (1, TIMESTAMP '2025-03-01 00:10', 'a', 1.0),
    (2, TIMESTAMP '2025-03-01 01:20', 'b', 2.0),
    (3, TIMESTAMP '2025-03-01 02:30', 'a', 3.0),
    (4, TIMESTAMP '2025-03-01 04:40', 'b', 4.0),
    (5, TIMESTAMP '2025-03-01 05:50', 'a', 5.0)
) v(id, ts, kind, value);
CREATE TABLE customers AS SELECT * FROM (VALUES (1, 'x'), (2, 'y')) v(customer_id, name);
"""


def run_a_mixed_workload(sql, con):
    from sqlflow_magic.errors import SqlflowError

    con.execute(SOURCES)
    sql(
        "CREATE TABLE daily MODE REPLACE AS SELECT kind, sum(value) AS total FROM events "
        "GROUP BY kind"
    )
    sql("CREATE TABLE daily MODE REPLACE AS SELECT kind, count(*) AS n FROM events GROUP BY kind")
    sql("CREATE TABLE audit MODE APPEND AS SELECT id, kind FROM events WHERE id <= 2")
    sql("CREATE TABLE audit MODE APPEND AS SELECT id, kind FROM events WHERE id > 2")
    sql(
        "CREATE TABLE people MODE UPSERT KEY (customer_id)\nEXPECT NOT NULL (name) WARN\n"
        "AS SELECT * FROM customers"
    )
    con.execute(
        "UPDATE customers SET name = NULL WHERE customer_id = 2; "
        "INSERT INTO customers VALUES (3, 'z')"
    )
    sql(
        "CREATE TABLE people MODE UPSERT KEY (customer_id)\nEXPECT NOT NULL (name) WARN\n"
        "AS SELECT * FROM customers"
    )
    hourly = (
        "CREATE TABLE hourly MODE INCREMENTAL BY hour AS SELECT date_trunc('hour', ts) "
        "AS hour, count(*) AS n FROM events WHERE ts > @start_dt AND ts <= @end_dt "
        "GROUP BY ALL"
    )
    sql(hourly, END_1)
    sql(hourly, END_2)
    sql(hourly, f"{END_2} --dry-run")  # dry runs leave no record and count nowhere
    with pytest.raises(SqlflowError, match="duplicate"):
        sql("CREATE TABLE people MODE UPSERT KEY (kind) AS SELECT kind, id FROM events")
    with pytest.raises(SqlflowError, match="EXPECT"):
        sql("CREATE TABLE audit MODE APPEND\nEXPECT (id < 0)\nAS SELECT id, kind FROM events")


# fmt: skip


def test_metrics_of_real_runs_equal_the_runs_table(ip, sql, con, observers, clock):
    run_a_mixed_workload(sql, con)
    metrics = observers.metrics

    runs = {(t, m, s): n for t, m, s, n in con.execute(
        "SELECT target, mode, status, count(*) FROM sqlflow.runs "
        "WHERE status IN ('success', 'failed') GROUP BY ALL").fetchall()}  # fmt: skip
    assert {tuple(labels.values()): v for labels, v in metrics.series("sqlflow_runs_total")} == (
        runs
    )
    assert sum(runs.values()) == 10
    assert runs[("main.audit", "APPEND", "failed")] == 1

    rows = con.execute(
        "SELECT target, sum(rows_inserted), sum(rows_updated), sum(rows_deleted) "
        "FROM sqlflow.runs WHERE status = 'success' GROUP BY target"
    ).fetchall()
    got = {(lb["target"], lb["kind"]): v for lb, v in metrics.series("sqlflow_rows_total")}
    for target, inserted, updated, deleted in rows:
        assert got[(target, "inserted")] == (inserted or 0)
        assert got[(target, "updated")] == (updated or 0)
        assert got[(target, "deleted")] == (deleted or 0)

    counts = dict(con.execute(
        "SELECT target || '/' || mode, count(*) FROM sqlflow.runs "
        "WHERE status IN ('success', 'failed') GROUP BY ALL").fetchall())  # fmt: skip
    durations = {f"{lb['target']}/{lb['mode']}": v
                 for lb, v in metrics.series("sqlflow_run_duration_seconds_count")}  # fmt: skip
    assert durations == counts

    rules = {
        (t, r): n
        for t, r, n in con.execute(
            "SELECT target, CASE WHEN passed THEN 'passed' WHEN severity = 'warn' THEN 'warned' "
            "ELSE 'failed' END, count(*) FROM sqlflow.rule_results GROUP BY ALL"
        ).fetchall()
    }
    assert {(lb["target"], lb["result"]): v for lb, v in metrics.series("sqlflow_rules_total")} == (
        rules
    )  # fmt: skip
    assert rules[("main.people", "warned")] == 1
    assert rules[("main.audit", "failed")] == 1

    ((watermark,),) = con.execute("SELECT watermark FROM sqlflow.watermarks").fetchall()
    assert watermark == dt.datetime(2025, 3, 1, 5, 0)
    lag = dict((lb["target"], v) for lb, v in metrics.series("sqlflow_watermark_lag_seconds"))
    assert lag == {"main.hourly": clock() - epoch(watermark)}
    clock.advance(600)  # the lag grows between runs, at scrape time
    scraped = samples(metrics.exposition())
    assert scraped[("sqlflow_watermark_lag_seconds", (("target", "main.hourly"),))] == (
        clock() - epoch(watermark)
    )
    failures = dict((lb["target"], v) for lb, v in metrics.series("sqlflow_consecutive_failures"))
    assert failures == {"main.daily": 0, "main.audit": 1, "main.people": 1, "main.hourly": 0}


def test_events_rebuilt_from_the_runs_table_and_load_from_state_agree(ip, sql, con, observers):
    run_a_mixed_workload(sql, con)
    live = samples(observers.metrics.exposition())

    # 1. Feed RunEvents made from sqlflow.runs rows read back with plain SQL.
    rebuilt = MetricsRegistry(clock=observers.metrics.clock)
    categories = ", ".join(f"p.{c}" for c in CATEGORIES)
    for row in con.execute(
        "SELECT r.run_id, r.target, mode, status, started_at, duration_s, rows_inserted, "
        "rows_updated, rows_deleted, watermark_after, "
        "(SELECT count(*) FROM sqlflow.rule_results q WHERE q.run_id = r.run_id AND passed), "
        "(SELECT count(*) FROM sqlflow.rule_results q WHERE q.run_id = r.run_id "
        " AND NOT passed AND severity = 'warn'), "
        "(SELECT count(*) FROM sqlflow.rule_results q WHERE q.run_id = r.run_id "
        f" AND NOT passed AND severity = 'error'), p.run_id IS NOT NULL, {categories} "
        "FROM sqlflow.runs r LEFT JOIN sqlflow.quality_profiles p USING (run_id) "
        "WHERE status IN ('success', 'failed') ORDER BY started_at"
    ).fetchall():
        scores = dict(zip(CATEGORIES, row[14:], strict=True)) if row[13] else {}
        rebuilt(RunEvent(
            run_id=row[0], target=row[1], mode=row[2], status=row[3], started_at=row[4],
            duration_s=row[5], rows_inserted=row[6], rows_updated=row[7], rows_deleted=row[8],
            watermark=row[9], rules_passed=row[10], rules_warned=row[11], rules_failed=row[12],
            quality_scores=scores,
        ))  # fmt: skip
    # 2. Rebuild from the state tables, as after a restart.
    loaded = MetricsRegistry(clock=observers.metrics.clock)
    assert loaded.load_from_state(con) == 10

    assert_same_metrics(samples(rebuilt.exposition()), live)
    assert_same_metrics(samples(loaded.exposition()), live)


def test_a_failed_runs_personal_values_never_reach_the_log(ip, sql, con, observers, tmp_path):
    from sqlflow_magic.errors import SqlflowError

    path = tmp_path / "runs.jsonl"
    observers.log_to(path)
    secrets = ["alice@example.com", "4111 1111 1111 1111", "hunter2", "+44 20 7946 0958"]
    con.execute(
        "CREATE TABLE contacts AS SELECT * FROM (VALUES ('alice@example.com'), "
        "('4111 1111 1111 1111'), ('password=hunter2'), ('+44 20 7946 0958')) v(c)"
    )
    for value in secrets:
        with pytest.raises(SqlflowError, match="failed"):
            sql(f"CREATE TABLE parsed MODE REPLACE AS SELECT CAST(c AS INTEGER) AS n "
                f"FROM contacts WHERE contains(c, '{value[-6:]}')")  # fmt: skip
    # The database's own error quoted each value; the stored error is redacted too.
    errors = [
        r[0]
        for r in con.execute(
            "SELECT error FROM sqlflow.runs WHERE status = 'failed' ORDER BY started_at"
        ).fetchall()
    ]
    assert all("[REDACTED:" in e for e in errors), errors
    assert not any(s in e for s in secrets for e in errors), errors
    observers.log_to(None)

    written = path.read_text(encoding="utf-8")
    for value in secrets:
        assert value not in written
    lines = [json.loads(line) for line in written.splitlines()]
    failed = [g for g in lines if g["event"] == "run_failed"]
    assert len(failed) == 4
    assert [g["run_id"] for g in failed] == [r[0] for r in con.execute(
        "SELECT run_id FROM sqlflow.runs WHERE status = 'failed' ORDER BY started_at"
    ).fetchall()]  # fmt: skip
    assert "[REDACTED:email]" in failed[0]["error"]
    assert "[REDACTED:card]" in failed[1]["error"]
    assert "[REDACTED:secret]" in failed[2]["error"]
    assert "[REDACTED:phone]" in failed[3]["error"]
    assert all(g["error_type"] == "DatabaseError" for g in failed)
    assert [g["event"] for g in lines].count("run_started") == 4


def test_alerts_fire_on_real_runs_and_cool_down(
    ip, sql, con, observers, clock, tmp_path, monkeypatch
):
    from sqlflow_magic.errors import SqlflowError

    shown: list = []  # the magic shows the alerts that fired below the cell
    monkeypatch.setattr("IPython.display.display", shown.append)

    def pop_shown():
        fired, shown[:] = list(shown), []
        return fired

    observers.log_to(tmp_path / "runs.jsonl")
    alerts = observers.alerts
    alerts.add("consecutive_failures{target='flaky'} > 0", name="flaky_broken", cooldown="10m")
    bad = "CREATE TABLE flaky MODE UPSERT KEY (k) AS SELECT 1 AS k UNION ALL SELECT 1"
    good = "CREATE TABLE flaky MODE UPSERT KEY (k) AS SELECT 1 AS k"

    with pytest.raises(SqlflowError):
        sql(bad)
    (fired,) = pop_shown()
    assert (fired.alert, fired.target, fired.value, fired.severity) == (
        "flaky_broken", "main.flaky", 1, "critical")  # fmt: skip
    assert "ALERT flaky_broken" in repr(fired)
    clock.advance(300)
    with pytest.raises(SqlflowError):
        sql(bad)
    assert pop_shown() == []  # inside the cool-down
    clock.advance(300)
    with pytest.raises(SqlflowError):
        sql(bad)
    (again,) = pop_shown()
    assert again.value == 3
    clock.advance(3600)
    sql(good)
    assert pop_shown() == []  # fixed: the condition no longer holds

    fired_rows = con.execute(
        "SELECT alert, expression, target, value, threshold, fired_at FROM sqlflow.alerts_fired "
        "ORDER BY fired_at").fetchall()  # fmt: skip
    start = dt.datetime(2025, 3, 1, 8, 0, 0)
    assert fired_rows == [
        ("flaky_broken", "consecutive_failures{target='flaky'} > 0", "main.flaky", 1.0, 0.0,
         start),
        ("flaky_broken", "consecutive_failures{target='flaky'} > 0", "main.flaky", 3.0, 0.0,
         start + dt.timedelta(minutes=10)),
    ]  # fmt: skip
    logged = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [g["value"] for g in logged if g["event"] == "alert_fired"] == [1.0, 3.0]


def test_a_restart_on_a_file_database_restores_metrics_and_rules(ip, sql, con, tmp_path,
                                                                  observers, clock):  # fmt: skip
    path = tmp_path / "warehouse.duckdb"
    ip.run_line_magic("sqlflow", f"connect {path}")
    try:
        from sqlflow_magic.magic import active_magics

        observers.connected()
        observers.alerts.add("runs_failed{target='people'} > 0", name="people_failed")
        run_a_mixed_workload(sql, active_magics().session.connection())
        live = samples(observers.metrics.exposition())
    finally:
        ip.run_line_magic("sqlflow", "connect :memory:")

    # A new kernel: a new connection to the file and new observers.
    fresh = duckdb.connect(str(path))
    try:
        restored = Observers(clock=clock, connection=lambda: fresh)
        restored.connected()
        assert_same_metrics(samples(restored.metrics.exposition()), live)
        assert [r.name for r in restored.alerts.rules()] == ["people_failed"]
        # It fired before the restart: its cool-down (1 h by default) carries over.
        assert restored.alerts.evaluate() == []
        clock.advance(3600)
        (fired,) = restored.alerts.evaluate()
        assert (fired.target, fired.value) == ("main.people", 1)
        restored.close()
    finally:
        fresh.close()


def test_runs_from_many_threads_are_all_counted_and_alerts_persist(ip, con, observers):
    import threading

    from sqlflow_magic.magic import active_magics
    from sqlflow_magic.runner import RunOptions, run_transform
    from sqlflow_magic.syntax.parse import parse_cell
    from sqlflow_magic.syntax.source import CellSource

    magics = active_magics()
    con.execute("CREATE TABLE src AS SELECT range AS id, range % 7 AS g FROM range(20000)")
    observers.alerts.add("runs > 0", name="any_run", cooldown=0)
    cells = [f"CREATE TABLE tgt_{t} MODE APPEND AS SELECT * FROM src WHERE g = {t}"
             for t in range(4) for _ in range(4)]  # fmt: skip
    cells += ["CREATE TABLE bad MODE UPSERT KEY (g) AS SELECT g FROM src"] * 3
    errors: list = []

    def run(cell: str) -> None:
        (spec,) = parse_cell(cell)
        try:
            run_transform(spec, magics.session, {}, CellSource(cell), RunOptions(), magics.events)
        except Exception as err:  # the UPSERTs fail on purpose
            errors.append(err)

    threads = [threading.Thread(target=run, args=(c,)) for c in cells]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert len(errors) == 3
    runs = dict(
        con.execute(
            "SELECT target || '/' || status, count(*) FROM sqlflow.runs GROUP BY ALL"
        ).fetchall()
    )
    got = {f"{lb['target']}/{lb['status']}": v
           for lb, v in observers.metrics.series("sqlflow_runs_total")}  # fmt: skip
    assert got == runs
    assert sum(runs.values()) == len(cells)
    fired = observers.alerts.pop_fired()
    stored = con.execute("SELECT count(*) FROM sqlflow.alerts_fired").fetchall()[0][0]
    assert stored == len(fired) >= len(cells)  # every end judged every target (no cool-down)
