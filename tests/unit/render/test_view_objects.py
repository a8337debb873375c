"""The status, history and metrics views on frames built by hand (issue 4).

Text forms are pinned exactly: saved notebooks and nbval read them. HTML is checked for
what the eye relies on: the lag colour class of each row, the outcome chips, the charts.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from sqlflow_magic.render.views import (
    LAG_ALERT,
    LAG_WARN,
    HistoryView,
    MetricsView,
    StatusView,
    lag_level,
)

T0 = pd.Timestamp("2024-05-01 12:00:00")
GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str) -> str:
    """The expected text form, kept in a file: its lines are as wide as a notebook's."""
    return (GOLDEN / f"{name}.txt").read_text().rstrip("\n")


def _status_frame() -> pd.DataFrame:
    rows = [
        # target, mode, keys, time column, watermark, lag, status, at, ins, upd, del, duration
        ("main.daily", "REPLACE", None, None, None, None, "success",
         T0 + pd.Timedelta("0.250s"), 7, 0, 0, "0.012s"),
        ("main.hourly", "INCREMENTAL", None, "hour", T0, pd.Timedelta(minutes=12, seconds=5.5),
         "success", T0 + pd.Timedelta("12min 5.5s"), 30, 0, 30, "1.250s"),
        ("main.late", "INCREMENTAL", None, "ts", T0, pd.Timedelta(hours=5), "success",
         T0 + pd.Timedelta("5h 0.001s"), 1, 0, 0, "0.020s"),
        ("main.old", "INCREMENTAL", None, "day", pd.Timestamp("2023-01-01"),
         pd.Timedelta(days=537, hours=13, minutes=9, seconds=56.123), "success",
         T0 + pd.Timedelta("0.5s"), 0, 0, 0, "0.005s"),
        ("main.profiles", "UPSERT", "customer_id", None, None, None, "failed",
         T0 + pd.Timedelta("1.125s"), None, None, None, "0.031s"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[
        "target", "mode", "keys", "time_column", "watermark", "lag", "last_status",
        "last_run_at", "rows_inserted", "rows_updated", "rows_deleted", "duration",
    ])  # fmt: skip
    for c in ("rows_inserted", "rows_updated", "rows_deleted"):
        frame[c] = frame[c].astype("Int64")
    return frame


def test_status_text_is_exact():
    assert StatusView(_status_frame()).text() == _golden("status")


def test_status_text_survives_the_notebook_sanitizer():
    """Every clock value in the text has a shape tests/notebooks/sanitize.cfg rewrites."""
    text = StatusView(_status_frame()).text()
    text = re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{1,6}", "<now>", text)
    text = re.sub(r"-?\d+ days? [+-]?\d{2}:\d{2}:\d{2}(\.\d+)?", "<lag>", text)
    text = re.sub(r"\d+\.\d{3}s\b", "<duration>", text)
    assert "12:00:00.250" not in text
    assert "<now>" in text
    assert "<lag> (stale)" in text
    assert "<lag> (fresh)" in text
    assert not re.search(r"\d\.\d{3}s", text)


def _lag_class(html: str, target: str) -> str:
    row = re.search(rf"<tr><td[^>]*><b>{re.escape(target)}</b>.*?</tr>", html)
    assert row, target
    found = re.findall(r'sqlflow-chip sqlflow-lag-(\w+)"', row.group(0))
    return found[0] if found else ""


def test_status_html_colours_each_lag_by_threshold():
    html = StatusView(_status_frame()).html()
    assert _lag_class(html, "main.hourly") == "fresh"
    assert _lag_class(html, "main.late") == "late"
    assert _lag_class(html, "main.old") == "stale"
    assert _lag_class(html, "main.daily") == ""  # no watermark, no lag
    assert 'sqlflow-chip sqlflow-status-failed">failed' in html


def test_lag_thresholds_are_parameters():
    view = StatusView(
        _status_frame(), warn_after=dt.timedelta(minutes=10), alert_after=dt.timedelta(hours=4)
    )
    assert view.levels() == {"main.daily": None, "main.hourly": "late", "main.late": "stale",
                             "main.old": "stale", "main.profiles": None}  # fmt: skip
    html = view.html()
    assert _lag_class(html, "main.hourly") == "late"
    assert "fresh &lt; 10 min" in html
    assert "late &lt; 4 h" in html
    assert "0 days 00:12:05 (late)" in view.text()


@pytest.mark.parametrize(
    ("lag", "level"),
    [
        (dt.timedelta(0), "fresh"),
        (LAG_WARN - dt.timedelta(microseconds=1), "fresh"),
        (LAG_WARN, "late"),
        (LAG_ALERT - dt.timedelta(seconds=1), "late"),
        (LAG_ALERT, "stale"),
        (dt.timedelta(minutes=-5), "fresh"),  # a watermark ahead of the clock
        (pd.Timedelta(days=3), "stale"),
        (None, None),
        (pd.NaT, None),
    ],
)
def test_lag_level(lag, level):
    assert lag_level(lag) == level


def test_mimebundle_has_text_and_html_and_repr_is_the_text():
    view = StatusView(_status_frame())
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == _golden("status") == repr(view)
    assert bundle["text/html"].startswith('<div class="sqlflow-view">')


def test_empty_status_says_what_to_do():
    empty = pd.DataFrame(columns=["target", "mode", "keys", "time_column", "watermark", "lag"])
    view = StatusView(empty)
    assert view.text() == (
        "sqlflow status\n"
        "no transforms yet: run a CREATE TABLE ... MODE ... AS SELECT ... cell first"
    )
    assert "no transforms yet" in view.html()


def _history_frame() -> pd.DataFrame:
    rows = [
        ("0123456789ab", "main.hourly", "INCREMENTAL", "success", T0 + pd.Timedelta("3s"),
         "0.030s", T0 - pd.Timedelta("2h"), T0 + pd.Timedelta("3.000123s"), 12, 9, 0, 6, 3,
         T0, None),
        ("reset", "main.hourly", "RESET", "reset", T0 + pd.Timedelta("2s"), "0.000s",
         None, None, None, None, None, None, None, None, None),
        ("ba9876543210", "main.hourly", "INCREMENTAL", "failed", T0 + pd.Timedelta("1s"),
         "0.125s", None, None, None, None, None, None, None, None,
         "the transform of hourly failed: Binder Error: Referenced column \"tss\" not found"),
        ("fedcba987654", "main.hourly", "INCREMENTAL", "success", T0 + pd.Timedelta("0.5s"),
         "0.010s", None, T0 + pd.Timedelta("0.500001s"), 9, 9, 0, 0, 0,
         T0 - pd.Timedelta("1h"), None),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[
        "run_id", "target", "mode", "status", "started_at", "duration", "window_start",
        "window_end", "rows_in", "rows_inserted", "rows_updated", "rows_deleted",
        "rows_left_out", "watermark_after", "error",
    ])  # fmt: skip
    for c in ("rows_in", "rows_inserted", "rows_updated", "rows_deleted", "rows_left_out"):
        frame[c] = frame[c].astype("Int64")
    return frame


def test_history_text_is_exact():
    assert HistoryView(_history_frame(), "hourly").text() == _golden("history")


def test_history_names_targets_when_it_shows_several():
    frame = _history_frame()
    frame.loc[3, "target"] = "main.daily"
    text = HistoryView(frame).text()
    assert text.splitlines()[0] == "sqlflow history: 4 runs, newest first"
    assert text.splitlines()[1].split()[:3] == ["started", "(UTC)", "target"]
    assert "main.daily" in text


def test_history_html_charts_duration_and_rows_per_run():
    html = HistoryView(_history_frame(), "hourly").html()
    charts = re.findall(r"<svg data-clock.*?</svg>", html)
    assert len(charts) == 2  # duration and rows for the one target
    duration, rows = charts
    assert "duration · max 0.125s · last 0.030s" in duration
    assert "rows in · max 12 · last 12" in rows
    # oldest run on the left: bars come in time order; the failed one is red; reset a tick
    assert duration.count('class="sqlflow-bar"') == 2
    assert duration.count('class="sqlflow-bar-failed"') == 1
    assert duration.count('class="sqlflow-bar-reset"') == 1
    tips = re.findall(r"<title>([^<]*)</title>", duration)
    assert [t.split(" · ")[1].split(":")[0] for t in tips] == [
        "success", "failed", "reset", "success"]  # fmt: skip
    assert "\n" not in duration  # one line, so a line-based sanitizer can drop it whole


def test_history_html_small_multiples_for_several_targets():
    frame = _history_frame()
    frame.loc[3, "target"] = "main.daily"
    html = HistoryView(frame).html()
    assert '<table class="sqlflow-sparks">' in html
    assert len(re.findall(r"<svg data-clock", html)) == 4
    assert html.index(">main.hourly<") < html.index(">main.daily<")  # latest activity first


def test_history_error_is_cut_in_text_and_whole_in_the_tooltip():
    html = HistoryView(_history_frame()).html()
    assert 'title="the transform of hourly failed: Binder Error: Referenced column' in html
    assert "&quot;tss&quot; not found" in html


def test_metrics_text_and_units():
    frame = pd.DataFrame(
        {
            "metric": ["sqlflow_runs_total", "sqlflow_runs_total",
                       "sqlflow_run_duration_seconds_sum", "sqlflow_watermark_lag_seconds",
                       "sqlflow_watermark_timestamp_seconds", "sqlflow_quality_score"],
            "labels": ["target=main.hourly, mode=INCREMENTAL, status=success",
                       'target="main.hourly",mode="INCREMENTAL",status="failed"',
                       {"target": "main.hourly", "mode": "INCREMENTAL"},
                       "target=main.hourly", "target=main.hourly",
                       "target=main.hourly, category=validity"],
            "value": [3.0, 1.0, 0.2345, 46446596.123, 1714564800.0, 87.5],
        }
    )  # fmt: skip
    assert MetricsView(frame).text() == _golden("metrics")
    html = MetricsView(frame).html()
    assert html.count('class="sqlflow-label"') == 12
    assert "sqlflow-metric sqlflow-repeat" in html  # the repeated name is muted


def test_rich_forms_fit_the_terminal():
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    StatusView(_status_frame()).print_rich(console)
    wide = console.export_text()
    assert "537d 13h" in wide
    assert "main.profiles" in wide
    assert "UPSERT KEY (customer_id)" in wide
    narrow = Console(width=60, record=True, color_system=None)
    HistoryView(_history_frame(), "hourly").print_rich(narrow)
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "duration" in text
    assert "█" in text


def test_doctests():
    import doctest

    from sqlflow_magic.render import views

    result = doctest.testmod(views)
    assert result.attempted > 0
    assert result.failed == 0
