"""Structured JSON run logs: one line per event, every key present, nothing personal."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from pii_corpus import POSITIVES

from sqlflow_magic.errors import UsageError
from sqlflow_magic.observe.alerts import AlertFired
from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.logs import (
    LOGGER_NAME,
    JsonFormatter,
    RunLog,
    configure_run_log,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)
KEYS = [
    "ts", "level", "event", "run_id", "target", "mode", "status", "started_at", "duration_s",
    "rows_in", "rows_inserted", "rows_updated", "rows_deleted", "rows_left_out",
    "window_start", "window_end", "watermark", "error", "error_type", "rules",
    "schema_changes", "quality_scores",
]  # fmt: skip


@pytest.fixture
def log_path(tmp_path):
    path = tmp_path / "runs.jsonl"
    handle = configure_run_log(path)
    yield path
    handle.close()


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_json_line_per_event_with_every_key(log_path):
    log = RunLog()
    log(RunEvent("r1", "main.hourly", "INCREMENTAL", "started", T0))
    log(
        RunEvent(
            "r1",
            "main.hourly",
            "INCREMENTAL",
            "success",
            T0,
            duration_s=0.25,
            rows_in=24,
            rows_inserted=20,
            rows_updated=0,
            rows_deleted=4,
            rows_left_out=1,
            window_start=T0 - dt.timedelta(hours=2),
            window_end=T0,
            watermark=T0 - dt.timedelta(hours=1),
            rules_passed=2,
            schema_changes=("added column n BIGINT",),
            quality_scores={"validity": 90},
        )
    )
    log(
        RunEvent(
            "r2",
            "main.hourly",
            "INCREMENTAL",
            "failed",
            T0,
            duration_s=0.1,
            error="the transform failed",
            error_type="DatabaseError",
            rules_failed=1,
        )
    )
    log(RunEvent("r3", "main.hourly", "INCREMENTAL", "dry run", T0, duration_s=0.01))  # fmt: skip
    got = lines(log_path)
    assert [(g["event"], g["level"], g["status"]) for g in got] == [
        ("run_started", "INFO", "started"), ("run_finished", "INFO", "success"),
        ("run_failed", "ERROR", "failed"), ("dry_run", "INFO", "dry run"),
    ]  # fmt: skip
    assert all(list(g) == KEYS for g in got)
    done = got[1]
    assert (done["run_id"], done["duration_s"], done["rows_inserted"], done["rows_deleted"]) == (
        "r1", 0.25, 20, 4)  # fmt: skip
    assert (done["window_start"], done["window_end"], done["watermark"]) == (
        "2026-03-01T10:00:00.000Z",
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T11:00:00.000Z",
    )
    assert done["rules"] == {"passed": 2, "warned": 0, "failed": 0}
    assert done["schema_changes"] == ["added column n BIGINT"]
    assert done["quality_scores"] == {"validity": 90}
    assert got[2]["error"] == "the transform failed"
    assert got[2]["error_type"] == "DatabaseError"
    assert got[2]["rules"]["failed"] == 1
    assert dt.datetime.fromisoformat(got[0]["ts"].rstrip("Z")).year >= 2026


def test_failed_runs_errors_are_redacted(log_path):
    error = ("Conversion Error: Could not convert string 'alice@example.com' to INT32; "
             "row card 4111 1111 1111 1111, dsn postgres://app:S3cret!@db/prod")  # fmt: skip
    RunLog()(RunEvent("r", "main.t", "APPEND", "failed", T0, duration_s=0.1, error=error))
    (line,) = lines(log_path)
    assert line["error"] == (
        "Conversion Error: Could not convert string '[REDACTED:email]' to INT32; row card "
        "[REDACTED:card], dsn postgres://app:[REDACTED:password]@db/prod"
    )


def test_no_corpus_value_leaks_into_the_file(log_path):
    log = RunLog()
    for i, (text, _, _) in enumerate(POSITIVES):
        log(RunEvent(f"r{i}", "main.t", "APPEND", "failed", T0, duration_s=0.1, error=text,
                     schema_changes=(text,)))  # fmt: skip
    log.alert(AlertFired("a", "runs > 0", "main.t", 1, 0, ">", "runs", T0))
    written = log_path.read_text(encoding="utf-8")
    for _, secret, _ in POSITIVES:
        assert secret not in written
        assert json.dumps(secret)[1:-1] not in written  # nor in its escaped JSON form
    assert len(written.splitlines()) == len(POSITIVES) + 1


def test_alert_lines(log_path):
    fired = AlertFired("hourly_late", "watermark_lag{target='main.hourly'} > 2h", "main.hourly",
                       9000.0, 7200.0, ">", "seconds", T0, "warning")  # fmt: skip
    RunLog().alert(fired)
    (line,) = lines(log_path)
    assert line == {
        "ts": line["ts"], "level": "WARNING", "event": "alert_fired", "alert": "hourly_late",
        "expression": "watermark_lag{target='main.hourly'} > 2h", "target": "main.hourly",
        "value": 9000.0, "threshold": 7200.0, "op": ">", "severity": "warning",
        "fired_at": "2026-03-01T12:00:00.000Z",
    }  # fmt: skip


def test_configure_replaces_the_previous_file_and_none_stops(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    log = RunLog()
    a = configure_run_log(first)
    log(RunEvent("r1", "main.t", "APPEND", "started", T0))
    b = configure_run_log(second)
    assert a.closed
    assert not b.closed
    log(RunEvent("r2", "main.t", "APPEND", "started", T0))
    assert configure_run_log(None) is None
    assert b.closed
    log(RunEvent("r3", "main.t", "APPEND", "started", T0))
    assert [g["run_id"] for g in lines(first)] == ["r1"]
    assert [g["run_id"] for g in lines(second)] == ["r2"]
    # Appends: configuring the same file again keeps its lines.
    with configure_run_log(first):
        log(RunEvent("r4", "main.t", "APPEND", "started", T0))
    assert [g["run_id"] for g in lines(first)] == ["r1", "r4"]


def test_an_unwritable_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot open the run log") as info:
        configure_run_log(tmp_path / "no" / "such" / "folder" / "runs.jsonl")
    assert "folder that exists" in info.value.hint


def test_without_a_configured_log_nothing_reaches_stderr(capsys):
    configure_run_log(None)
    RunLog()(RunEvent("r", "main.t", "APPEND", "failed", T0, duration_s=0.1, error="x"))
    assert capsys.readouterr().err == ""


def test_other_records_on_the_handler_are_redacted_too(log_path):
    logging.getLogger(LOGGER_NAME).warning("user %s logged in", "bob@example.org")
    (line,) = lines(log_path)
    assert line["message"] == "user [REDACTED:email] logged in"


def test_formatter_redacts_exception_text():
    try:
        raise ValueError("bad token=abc123")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "abc123" not in line["exception"]
    assert "[REDACTED:secret]" in line["exception"]
