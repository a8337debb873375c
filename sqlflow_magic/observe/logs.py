"""Structured run logs: one JSON line per run event or alert, redacted, to a chosen file.

Records go through the standard logging module, logger ``sqlflow_magic.runs``, so an
application may also attach handlers of its own. ``configure_run_log(path)`` attaches a
file handler with ``JsonFormatter`` (and removes the one it attached before); ``RunLog``
is the observer that turns run events and alert firings into records.

A line (keys always present, ``null`` when unknown)::

    {"ts": "2026-11-22T04:22:13.120Z", "level": "INFO", "event": "run_finished",
     "run_id": "3f2a9c1b7e4d", "target": "main.hourly", "mode": "INCREMENTAL",
     "status": "success", "started_at": "2026-11-22T04:22:13.101Z", "duration_s": 0.019,
     "rows_in": 24, "rows_inserted": 24, "rows_updated": 0, "rows_deleted": 0,
     "rows_left_out": 0, "window_start": null, "window_end": "2026-11-22T04:22:13.101Z",
     "watermark": "2026-11-22T04:00:00Z", "error": null, "error_type": null,
     "rules": {"passed": 0, "warned": 0, "failed": 0}, "schema_changes": [],
     "quality_scores": {}}

Every value passes ``redact.redact_mapping`` before it is written (a failed run's error
quotes the data it choked on), and the formatter redacts the message of any other record
that reaches its handler.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

from sqlflow_magic.errors import UsageError
from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.redact import redact_mapping, redact_text

LOGGER_NAME = "sqlflow_magic.runs"
_EVENTS = {
    "started": ("run_started", logging.INFO),
    "success": ("run_finished", logging.INFO),
    "failed": ("run_failed", logging.ERROR),
    "dry run": ("dry_run", logging.INFO),
}
# A library adds a NullHandler and leaves the rest to the application (logging HOWTO):
# without a configured log, records are dropped instead of reaching logging.lastResort,
# which would print failed runs to the notebook's stderr.
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def _iso(moment: dt.datetime) -> str:
    # The state tables' times are naive UTC; say so with Z.
    return moment.isoformat(timespec="milliseconds") + "Z"


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return _iso(value.replace(tzinfo=None) if value.tzinfo is None else
                    value.astimezone(dt.timezone.utc).replace(tzinfo=None))  # fmt: skip
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return str(value)
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, event, then the record's ``sqlflow`` fields.

    A record without ``sqlflow`` fields (another library's, on the same handler) is
    written with its redacted message as ``message``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        ts = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).replace(tzinfo=None)
        line: dict[str, object] = {"ts": _iso(ts), "level": record.levelname}
        fields = getattr(record, "sqlflow", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["logger"] = record.name
            line["message"] = redact_text(record.getMessage())
        if record.exc_info:
            line["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(line, default=_jsonable, ensure_ascii=False)


class RunLogFile:
    """The file handler ``configure_run_log`` attached; ``close()`` detaches it."""

    def __init__(self, path: Path, handler: logging.FileHandler) -> None:
        self.path = path
        self.handler = handler

    @property
    def closed(self) -> bool:
        """Whether the handler is detached."""
        return self.handler not in logging.getLogger(LOGGER_NAME).handlers

    def close(self) -> None:
        """Detach the handler and close the file (idempotent)."""
        logging.getLogger(LOGGER_NAME).removeHandler(self.handler)
        self.handler.close()

    def __enter__(self) -> RunLogFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunLogFile {self.path}{' closed' if self.closed else ''}>"


class _RunLogHandler(logging.FileHandler):
    """Marks the handler configure_run_log owns, so the next call replaces only it."""


def configure_run_log(path: str | os.PathLike[str] | None) -> RunLogFile | None:
    """Write run events as JSON lines to ``path`` (appending); None stops writing.

    The handler a previous call attached is closed first, so one file gets the lines.

    Args:
        path: the log file; its folder must exist.

    Returns:
        The attached file (``close()`` detaches it), or None for ``path=None``.

    Raises:
        UsageError: the file cannot be opened for appending.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in [h for h in logger.handlers if isinstance(h, _RunLogHandler)]:
        logger.removeHandler(handler)
        handler.close()
    if path is None:
        return None
    target = Path(path).expanduser()
    try:
        handler = _RunLogHandler(target, mode="a", encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot open the run log {str(target)!r}: {err.strerror}",
            hint="give a file in a folder that exists and that you may write to",
        ) from err
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # the root's WARNING would drop run_finished lines
    return RunLogFile(target, handler)


class RunLog:
    """Observer: a JSON log record per run event, and per alert firing (``alert``).

    Args:
        logger: where records go; ``sqlflow_magic.runs`` by default.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def __call__(self, event: RunEvent) -> None:
        """Log one run event."""
        name, level = _EVENTS.get(event.status, ("run_" + event.status, logging.INFO))
        if not self.logger.isEnabledFor(level):
            return
        self.logger.log(level, name, extra={"sqlflow": event_record(event, name)})

    def alert(self, fired) -> None:
        """Log one ``AlertFired`` (subscribe this to ``Alerts``)."""
        if self.logger.isEnabledFor(logging.WARNING):
            fields = {"event": "alert_fired", **fired.as_record()}
            self.logger.warning("alert_fired", extra={"sqlflow": redact_mapping(fields)})


def event_record(event: RunEvent, name: str | None = None) -> dict[str, object]:
    """The redacted fields of a run event, as a log line holds them."""
    fields = {
        "event": name or _EVENTS.get(event.status, ("run_" + event.status,))[0],
        "run_id": event.run_id,
        "target": event.target,
        "mode": event.mode,
        "status": event.status,
        "started_at": event.started_at,
        "duration_s": event.duration_s,
        "rows_in": event.rows_in,
        "rows_inserted": event.rows_inserted,
        "rows_updated": event.rows_updated,
        "rows_deleted": event.rows_deleted,
        "rows_left_out": event.rows_left_out,
        "window_start": event.window_start,
        "window_end": event.window_end,
        "watermark": event.watermark,
        "error": event.error,
        "error_type": event.error_type,
        "rules": {
            "passed": event.rules_passed,
            "warned": event.rules_warned,
            "failed": event.rules_failed,
        },
        "schema_changes": list(event.schema_changes),
        "quality_scores": dict(event.quality_scores),
    }
    return redact_mapping(fields)
