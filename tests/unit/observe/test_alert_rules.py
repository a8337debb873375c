"""Alert rules: the parser (table-driven, errors with their column), durations, firing
and cool-down with an injected clock, persistence in the state tables, the banner."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from sqlflow_magic.errors import SqlflowError, UsageError
from sqlflow_magic.observe.alerts import (
    DEFAULT_COOLDOWN_S,
    AlertFired,
    AlertRuleError,
    Alerts,
    format_value,
    parse_duration,
    parse_rule,
)
from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.metrics import MetricsRegistry, epoch

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = epoch(T0)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("text", "sample", "filters", "op", "threshold"),
    [
        ("watermark_lag{target='main.hourly'} > 2h", "sqlflow_watermark_lag_seconds",
         ["target='main.hourly'"], ">", 7200),
        ('watermark_lag{target="hourly"}>=90s', "sqlflow_watermark_lag_seconds",
         ["target='hourly'"], ">=", 90),
        ("run_duration > 1h30m", "sqlflow_last_run_duration_seconds", [], ">", 5400),
        ("run_duration > 0.5", "sqlflow_last_run_duration_seconds", [], ">", 0.5),
        ("run_duration <= 500ms", "sqlflow_last_run_duration_seconds", [], "<=", 0.5),
        ("runs_failed >= 3", "sqlflow_runs_total", ["status='failed'"], ">=", 3),
        ("runs_failed{mode='upsert', target=main.orders} > 0", "sqlflow_runs_total",
         ["status='failed'", "mode='upsert'", "target='main.orders'"], ">", 0),
        ("rows_inserted{target='main.audit'} == 0", "sqlflow_rows_total",
         ["kind='inserted'", "target='main.audit'"], "==", 0),
        ("rules_warned != 0", "sqlflow_rules_total", ["result='warned'"], "!=", 0),
        ("quality_score{category='validity'} < 80", "sqlflow_quality_score",
         ["category='validity'"], "<", 80),
        ("consecutive_failures > 0", "sqlflow_consecutive_failures", [], ">", 0),
        ("last_success_age > 1d", "sqlflow_last_success_age_seconds", [], ">", 86400),
        ("sqlflow_rows_total{kind='deleted', target!='main.x'} > 1e6", "sqlflow_rows_total",
         ["kind='deleted'", "target!='main.x'"], ">", 1e6),
        ("sqlflow_run_duration_seconds_count > 100", "sqlflow_run_duration_seconds_count",
         [], ">", 100),
        ("  watermark_lag   >   1w  ", "sqlflow_watermark_lag_seconds", [], ">", 604800),
    ],
)  # fmt: skip
def test_rules_parse(text, sample, filters, op, threshold):
    rule = parse_rule(text)
    assert (rule.sample, [str(f) for f in rule.filters], rule.op, rule.threshold) == (
        sample, filters, op, threshold,
    )  # fmt: skip
    assert rule.text == text.strip()


@pytest.mark.parametrize(
    ("text", "col", "says", "hint"),
    [
        ("watermark_lag{target='main.hourly'} 2h", 37, "expected a comparison", "> 2h"),
        ("watermark_lagg > 2h", 1, "unknown metric 'watermark_lagg'", "did you mean watermark_lag"),
        ("watermark_lag{tagret='x'} > 2h", 15, "no label 'tagret'", "did you mean target"),
        ("rows_inserted > 5m", 17, "cannot be a duration", "plain number"),
        ("runs_failed{status='success'} > 1", 13, "already means status='failed'",
         "sqlflow_runs_total"),
        ("watermark_lag > 2hr", 17, "unknown unit 'hr'", "did you mean 'h'"),
        ("watermark_lag = 2h", 15, "expected a comparison", "=="),
        ("runs >", 7, "expected a threshold", "e.g."),
        ("runs > 3 and runs < 5", 10, "unexpected 'and runs < 5'", "another rule"),
        ("watermark_lag{target='x' > 2h", 26, "expected , or }", "close"),
        ("runs_failed{mode='upsertt'} > 0", 18, "mode is never 'upsertt'", "INCREMENTAL"),
        ("quality_score{category='validness'} < 5", 24, "no quality category", "validity"),
        ("> 5", 1, "starts with a metric", "watermark_lag"),
        ("", 1, "starts with a metric", "e.g."),
        ("sqlflow_run_duration_seconds > 1", 1, "unknown metric", "run_duration"),
        ("runs{target} > 1", 12, "expected = or !=", "target="),
    ],
)  # fmt: skip
def test_rule_errors_say_what_where_and_how(text, col, says, hint):
    with pytest.raises(AlertRuleError) as info:
        parse_rule(text)
    err = info.value
    assert isinstance(err, UsageError)
    assert isinstance(err, SqlflowError)
    assert err.col == col
    assert says in err.message
    assert hint in err.hint
    # The excerpt shows the rule and puts a caret under the column.
    rule_line, caret_line = err.excerpt.split("\n")
    assert rule_line == text
    assert caret_line == " " * (col - 1) + "^"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("500ms", 0.5),
     ("1h30m", 5400), ("90", 90), ("2.5", 2.5), ("1.5h", 5400), (" 30m ", 1800)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "5 m", "5min", "-5m", "1h 30m", "five", "5m3"])
def test_bad_durations(text):
    with pytest.raises(AlertRuleError, match="duration|unit"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [(7500, "seconds", "2h 05m"), (0.35, "seconds", "350 ms"), (42.25, "seconds", "42.2 s"),
     (125, "seconds", "2m 05s"), (90000, "seconds", "1d 01h"), (3.0, "runs", "3"),
     (2.5, "score", "2.5")],
)  # fmt: skip
def test_format_value(value, unit, shown):
    assert format_value(value, unit) == shown


def hourly(watermark: dt.datetime, status: str = "success") -> RunEvent:
    return RunEvent("r", "main.hourly", "INCREMENTAL", status, T0, duration_s=1.0,
                    rows_inserted=1, rows_updated=0, rows_deleted=0,
                    watermark=watermark if status == "success" else None)  # fmt: skip


def test_a_rule_fires_then_waits_for_its_cooldown_then_fires_again():
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock)
    alerts.add("watermark_lag{target='main.hourly'} > 2h", name="hourly_late", cooldown="30m")
    feed = [metrics, alerts]

    def emit(event):
        for observer in feed:
            observer(event)

    emit(hourly(T0 - dt.timedelta(hours=1)))  # lag 1h: quiet
    assert alerts.pop_fired() == []
    clock.advance(90 * 60)  # lag 2h30m
    emit(hourly(T0 - dt.timedelta(hours=1), status="started"))
    assert alerts.pop_fired() == []  # a start changes no metric: judged when the run ends
    emit(hourly(T0 - dt.timedelta(hours=1)))
    (fired,) = alerts.pop_fired()
    assert (fired.alert, fired.target, fired.value, fired.threshold, fired.op) == (
        "hourly_late", "main.hourly", 9000, 7200, ">",
    )  # fmt: skip
    assert fired.fired_at == T0 + dt.timedelta(minutes=90)
    clock.advance(29 * 60)  # inside the cool-down: still late, but quiet
    assert alerts.evaluate() == []
    clock.advance(60)  # the cool-down has passed and it still holds
    (again,) = alerts.evaluate()
    assert again.value == 9000 + 30 * 60
    # Caught up: no longer true, so nothing fires even after the cool-down.
    clock.advance(31 * 60)
    emit(hourly(dt.datetime.fromtimestamp(clock(), dt.timezone.utc).replace(tzinfo=None)))
    assert alerts.pop_fired() == []


def test_cooldown_is_per_target_and_counters_sum_over_modes():
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock)
    alerts.add("runs_failed >= 2", name="flaky", cooldown=0)
    for target, mode in [("main.a", "APPEND"), ("main.a", "UPSERT"), ("main.b", "APPEND")]:
        metrics(RunEvent("r", target, mode, "failed", T0, duration_s=0.1, error="x"))
    (fired,) = alerts.evaluate()  # main.a: one APPEND + one UPSERT failure = 2
    assert (fired.target, fired.value, fired.severity) == ("main.a", 2, "critical")
    metrics(RunEvent("r", "main.b", "APPEND", "failed", T0, duration_s=0.1, error="x"))
    assert {(f.target, f.value) for f in alerts.evaluate()} == {("main.a", 2), ("main.b", 2)}


def test_gauges_compare_the_worst_series_and_bare_table_names_match():
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock)
    metrics(
        RunEvent(
            "r",
            "main.orders",
            "UPSERT",
            "success",
            T0,
            duration_s=0.1,
            quality_scores={"completeness": 95, "validity": 60, "accuracy": 75},
        )
    )
    alerts.add("quality_score{target='orders'} < 80", name="quality")  # fmt: skip
    (fired,) = alerts.evaluate()
    assert (fired.value, dict(fired.labels)["category"]) == (60, "validity")
    assert "validity" in repr(fired)
    assert alerts.add("quality_score{target='other'} < 80").name == "quality_score_other"
    assert alerts.evaluate() == []  # no series: nothing to judge


def test_alert_fired_renders_one_line_banner():
    fired = AlertFired(
        alert="hourly_late", expression="watermark_lag{target='main.hourly'} > 2h",
        target="main.hourly", value=7500, threshold=7200, op=">", unit="seconds",
        fired_at=T0, severity="warning", labels={"target": "main.hourly"},
    )  # fmt: skip
    assert repr(fired) == (
        "ALERT hourly_late: watermark_lag of main.hourly is 2h 05m > 2h 00m "
        "(fired 2026-03-01 12:00:00 UTC)"
    )
    page = fired._repr_html_()
    assert page.count("<div") == 1
    assert "\n" not in page
    assert "hourly_late" in page
    assert "2h 05m" in page
    assert "#8a5300" in page
    assert "&#x27;main.hourly&#x27;" in page  # the expression is escaped
    red = AlertFired("f", "runs_failed > 0", "main.t", 1, 0, ">", "runs", T0, "critical")
    assert "#b71c1c" in red._repr_html_()
    assert (
        "<script>"
        not in AlertFired("<script>", "runs > 0", "t", 1, 0, ">", "runs", T0)._repr_html_()
    )


def test_names_are_unique_and_remove_suggests():
    alerts = Alerts(MetricsRegistry())
    alerts.add("runs > 0", name="many")
    with pytest.raises(AlertRuleError, match="exists"):
        alerts.add("runs > 1", name="MANY")
    with pytest.raises(AlertRuleError, match="cannot name"):
        alerts.add("runs > 1", name="1 bad name")
    with pytest.raises(AlertRuleError) as info:
        alerts.remove("mnay")
    assert "did you mean 'many'" in info.value.hint
    assert alerts.remove("Many").name == "many"
    assert alerts.rules() == []
    assert [alerts.add("runs > 0").name, alerts.add("runs > 1").name] == ["runs", "runs_2"]
    assert alerts.rules()[0].cooldown_s == DEFAULT_COOLDOWN_S


def tables(con):
    rules = con.execute(
        "SELECT name, expression, cooldown_s FROM sqlflow.alert_rules ORDER BY name"
    ).fetchall()
    fired = con.execute(
        "SELECT alert, expression, target, value, threshold, fired_at "
        "FROM sqlflow.alerts_fired ORDER BY fired_at"
    ).fetchall()
    return rules, fired


def test_rules_and_firings_live_in_the_state_tables(tmp_path):
    path = str(tmp_path / "alerts.duckdb")
    con = duckdb.connect(path)
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock, connection=lambda: con)
    assert alerts.load() == 0  # no tables yet, nothing created by a read
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'sqlflow'"
                       ).fetchall() == [(0,)]  # fmt: skip
    alerts.add("consecutive_failures > 0", name="broken", cooldown="1h")
    alerts.add("runs > 100", name="busy")
    alerts.remove("busy")
    metrics(RunEvent("r", "main.t", "APPEND", "failed", T0, duration_s=0.1, error="x"))
    (fired,) = alerts.evaluate()
    rules, rows = tables(con)
    assert rules == [("broken", "consecutive_failures > 0", 3600.0)]
    assert rows == [("broken", "consecutive_failures > 0", "main.t", 1.0, 0.0, T0)]
    con.close()

    # A restart: a new connection, new objects; the rule and its cool-down come back.
    con = duckdb.connect(path)
    clock.advance(1800)
    metrics = MetricsRegistry(clock=clock)
    metrics(RunEvent("r", "main.t", "APPEND", "failed", T0, duration_s=0.1, error="x"))
    alerts = Alerts(metrics, clock=clock, connection=lambda: con)
    assert alerts.load() == 1
    assert alerts.evaluate() == []  # 30 minutes into a 1 hour cool-down
    clock.advance(1800)
    (again,) = alerts.evaluate()
    assert again.fired_at == T0 + dt.timedelta(hours=1)
    assert len(tables(con)[1]) == 2
    con.close()


def test_a_database_that_refuses_writes_keeps_rules_in_memory(tmp_path):
    con = duckdb.connect()
    con.close()
    alerts = Alerts(MetricsRegistry(), connection=lambda: con)
    assert alerts.add("runs > 0", name="x").name == "x"  # logged, not raised
    assert [r.name for r in alerts.rules()] == ["x"]


def test_listeners_hear_firings_and_one_failing_listener_does_not_stop_others():
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock)
    heard = []

    def broken(fired):
        raise RuntimeError("listener bug")

    alerts.subscribe(broken)
    alerts.subscribe(heard.append)
    alerts.add("runs > 0")
    metrics(RunEvent("r", "main.t", "APPEND", "success", T0, duration_s=0.1))
    fired = alerts.evaluate()
    assert heard == fired
    assert len(fired) == 1


def test_frame_lists_rules_with_their_state():
    clock = Clock()
    metrics = MetricsRegistry(clock=clock)
    alerts = Alerts(metrics, clock=clock)
    alerts.add("runs > 0", name="any", cooldown="5m")
    alerts.add("runs > 10", name="many")
    alerts.add("watermark_lag > 1h", name="late")
    metrics(RunEvent("r", "main.t", "APPEND", "success", T0, duration_s=0.1))
    alerts.evaluate()
    frame = alerts.frame()
    assert list(frame.columns) == ["name", "expression", "cooldown", "state", "value",
                                   "last_fired"]  # fmt: skip
    assert frame.set_index("name").state.to_dict() == {
        "any": "firing", "many": "ok", "late": "no data",
    }  # fmt: skip
    assert frame.set_index("name").loc["any", "cooldown"] == "5m 00s"
    assert frame.set_index("name").loc["any", "last_fired"] == T0
