"""What every mode handler receives and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlflow_magic.engine.base import Column, Engine, Query, Staged, TableRef, Window
from sqlflow_magic.modes.shape import SchemaChange
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
    needs_written_rows: bool = False  # rules will read the rows this run writes
    table_columns: tuple[Column, ...] = ()  # the existing table's columns, read once


@dataclass(frozen=True)
class ModeOutcome:
    """What a handler changed (all counts are rows)."""

    rows_in: int  # rows the query returned
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    left_out: int = 0  # INCREMENTAL: result rows outside the window
    # INCREMENTAL: a one-value query for the largest time value written, which the
    # runner folds into the watermark's UPDATE
    newest: Query | None = None
    written: Query | None = None  # selects the rows this run wrote, until the commit
    staged: Staged | None = None  # the batch, dropped by the runner after the checks
    schema_changes: tuple[SchemaChange, ...] = ()


class ModeHandler(Protocol):
    """Applies one mode inside the run's transaction."""

    def apply(self, ctx: RunContext) -> ModeOutcome: ...
