"""What every mode handler receives and returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlflow_magic.engine.base import Column, Engine, Query, TableRef, Window
from sqlflow_magic.syntax.spec import TransformSpec


@dataclass(frozen=True)
class RunContext:
    """Everything a handler needs for one run, resolved and validated by the runner."""

    spec: TransformSpec
    table: TableRef
    query: Query
    columns: tuple[Column, ...]  # the query's result columns
    engine: Engine
    window: Window | None = None  # INCREMENTAL only


@dataclass(frozen=True)
class ModeOutcome:
    """What a handler changed (all counts are rows)."""

    rows_in: int  # rows the query returned
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    left_out: int = 0  # INCREMENTAL: result rows outside the window
    newest: dt.datetime | None = None  # INCREMENTAL: largest time value written


class ModeHandler(Protocol):
    """Applies one mode inside the run's transaction."""

    def apply(self, ctx: RunContext) -> ModeOutcome: ...
