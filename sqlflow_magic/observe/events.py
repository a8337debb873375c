"""What the runner tells observers: one RunEvent when a run starts and one when it ends.

Observers (metrics, structured logs, alerts, live views) subscribe to a RunEvents hub
owned by the magics instance. An observer that fails never fails the run: its error is
logged and the run's outcome stands.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

_log = logging.getLogger("sqlflow_magic.observe")


@dataclass(frozen=True)
class RunEvent:
    """One moment of a run: ``started``, then ``success``, ``failed`` or ``dry run``."""

    run_id: str
    target: str  # schema.table
    mode: str  # REPLACE, APPEND, UPSERT, INCREMENTAL
    status: str  # 'started' | 'success' | 'failed' | 'dry run'
    started_at: dt.datetime  # naive UTC
    duration_s: float | None = None
    rows_in: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_left_out: int | None = None
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    watermark: dt.datetime | None = None  # after the run (INCREMENTAL)
    error: str | None = None
    error_type: str | None = None  # the SqlflowError class name, e.g. QualityCheckFailed
    rules_passed: int = 0
    rules_warned: int = 0
    rules_failed: int = 0
    schema_changes: tuple[str, ...] = ()
    quality_scores: dict[str, int] = field(default_factory=dict)  # category -> 0..100


Observer = Callable[[RunEvent], None]


class RunEvents:
    """A small hub: observers subscribe, the runner emits."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        """Call ``observer`` with every event from now on."""
        self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        """Stop calling ``observer``."""
        if observer in self._observers:
            self._observers.remove(observer)

    def emit(self, event: RunEvent) -> None:
        """Hand ``event`` to every observer; an observer's failure never fails the run."""
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception:  # observers are auxiliary: report and go on
                _log.exception("sqlflow observer %r failed on %s", observer, event.status)
