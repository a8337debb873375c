"""The views on state tables written by real runs (issue 4).

Their text forms go into saved notebooks, so after the notebooks' own sanitizer
(tests/notebooks/sanitize.cfg) they must read the same on every run, and that text is
pinned here. The HTML forms, after the same sanitizer plus dropping the duration charts,
must be stable too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from sqlflow_magic.render.views import HistoryView, MetricsView, StatusView
from sqlflow_magic.state import views as state_views

SANITIZE = Path(__file__).resolve().parents[1] / "notebooks" / "sanitize.cfg"

EVENTS = """
CREATE TABLE events AS
SELECT TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i) MINUTE AS ts, i % 3 AS sensor,
       (i % 17)::DOUBLE AS value
FROM range(180) t(i)
"""
HOURLY = """
CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS
SELECT date_trunc('hour', ts) AS hour, sensor, AVG(value) AS avg_value
FROM events WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL
"""
PROFILES = """
CREATE TABLE profiles MODE UPSERT KEY (sensor) AS
SELECT sensor, count(*) AS readings FROM {source} GROUP BY sensor
"""


def _sanitize(text: str) -> str:
    """What nbval does to an output before comparing it (then quotes made readable).

    nbval takes ``replace: ' '`` literally, quotes included; both sides of its comparison
    get the same, so for reading here the quotes are dropped again.
    """
    from nbval.plugin import get_sanitize_patterns

    for regex, replace in get_sanitize_patterns(SANITIZE.read_text()):
        text = re.sub(regex, replace, text)
    return text.replace("' '", " ")


@pytest.fixture
def ran(sql, ip, con):
    sql(EVENTS)
    sql(HOURLY)
    sql(PROFILES.format(source="events"))
    sql("INSERT INTO events SELECT TIMESTAMP '2024-05-01 03:00:00' + INTERVAL (i) MINUTE, "
        "i % 3, 1.0 FROM range(60) t(i)")  # fmt: skip
    sql(HOURLY)
    with pytest.raises(Exception, match="eventz"):
        sql(PROFILES.format(source="eventz"))
    return con


def test_status_text_after_real_runs(ran, ip):
    text = _sanitize(StatusView(state_views.status_frame(ran)).text())
    assert text.splitlines() == [
        "sqlflow status: 2 transforms",
        "target mode watermark lag last run (UTC) rows changed duration",
        "main.hourly INCREMENTAL BY hour 2024-05-01 03:00:00 <lag> (stale) success <now> "
        "9 inserted, 6 deleted <duration>",
        "main.profiles UPSERT KEY (sensor) failed <now> <duration>",
    ]
    ip.run_line_magic("sqlflow", "reset hourly")
    text = _sanitize(StatusView(state_views.status_frame(ran)).text())
    assert text.splitlines()[1:] == [
        "target mode last run (UTC) duration",
        "main.hourly INCREMENTAL BY hour reset <now> <duration>",
        "main.profiles UPSERT KEY (sensor) failed <now> <duration>",
    ]


def test_status_html_is_stable_and_marks_the_lag(ran):
    view = StatusView(state_views.status_frame(ran))
    assert view.levels() == {"main.hourly": "stale", "main.profiles": None}
    html = _sanitize(view.html())
    assert 'sqlflow-chip sqlflow-lag-stale"><lag></span>' in html
    assert _sanitize(StatusView(state_views.status_frame(ran)).html()) == html


def test_history_text_after_real_runs(ran, ip):
    ip.run_line_magic("sqlflow", "reset hourly")
    text = _sanitize(HistoryView(state_views.history_frame(ran, "hourly"), "hourly").text())
    lines = text.splitlines()
    assert lines[0] == "sqlflow history hourly: 3 runs, newest first"
    assert lines[2] == "<now> RESET reset <duration> reset"
    assert lines[3] == (
        "<now> INCREMENTAL success <duration> 12 9 0 6 3 (2024-05-01, <now>] "
        "2024-05-01 03:00:00 <id>"
    )
    assert lines[4] == (
        "<now> INCREMENTAL success <duration> 9 9 0 0 0 (-infinity, <now>] 2024-05-01 02:00:00 <id>"
    )


def test_history_html_is_stable_once_the_charts_are_dropped(ran):
    def stable(html: str) -> str:
        return re.sub(r"<svg data-clock[^>]*>.*?</svg>", "<svg data-clock/>", _sanitize(html))

    first = HistoryView(state_views.history_frame(ran)).html()
    again = HistoryView(state_views.history_frame(ran)).html()
    assert stable(first) == stable(again)
    assert stable(first).count("<svg data-clock/>") == 4  # duration and rows, two targets
    assert "sqlflow-bar-failed" in first  # the failed UPSERT


def test_metrics_view_of_a_snapshot_shaped_frame():
    frame = pd.DataFrame(
        [("sqlflow_runs_total", "target=main.hourly, mode=INCREMENTAL, status=success", 2.0)],
        columns=["metric", "labels", "value"],
    )
    assert MetricsView(frame).text().splitlines()[-1].split() == [
        "sqlflow_runs_total", 'target="main.hourly",', 'mode="INCREMENTAL",',
        'status="success"', "2",
    ]  # fmt: skip
