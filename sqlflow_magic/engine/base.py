"""The narrow seam between mode logic and a database.

A mode handler says *what* to do (stage the batch, merge it on these keys, replace this
window); an engine says *how* in its own SQL. DuckDB implements it now; a distributed
engine (Spark) implements the same protocol later, and no mode changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Query:
    """SQL ready to run and the parameters bound to it (never pasted into the text)."""

    sql: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A column name and its type as the engine spells it (``BIGINT``, ``TIMESTAMP``)."""

    name: str
    type: str


@dataclass(frozen=True)
class TableRef:
    """A resolved target table: fully qualified, and whether it exists yet."""

    catalog: str
    schema: str
    name: str
    exists: bool

    @property
    def key(self) -> str:
        """The name the state tables know the target by: ``schema.table``."""
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Window:
    """The INCREMENTAL window (start, end] on the time column; start None is -infinity."""

    start: dt.datetime | None
    end: dt.datetime


@dataclass(frozen=True)
class Staged:
    """A batch materialised once so checks and writes read it without recomputing."""

    name: str  # quoted, ready to use in SQL
    columns: tuple[Column, ...]
    rows: int = 0  # rows the query returned (0 in a dry run, which stages nothing)


@dataclass(frozen=True)
class WindowWrite:
    """What recomputing an INCREMENTAL window did to its target (counts are rows)."""

    rows_in: int  # rows the query returned
    inserted: int  # ...of which inside the window, now in the target
    deleted: int = 0  # the target's rows the window held before

    @property
    def left_out(self) -> int:
        """Rows the query returned outside the window, which the engine did not write."""
        return self.rows_in - self.inserted


class Engine(Protocol):
    """Operations the mode handlers need; each engine writes them in its own SQL."""

    SUPPORTS_MERGE: bool

    def transaction(self) -> AbstractContextManager[None]: ...

    def resolve(self, parts: Sequence[str]) -> TableRef: ...

    def query_columns(self, query: Query) -> list[Column]: ...

    def table_columns(self, table: TableRef) -> list[Column]: ...

    def create_table_as(self, table: TableRef, query: Query, replace: bool) -> int: ...

    def insert(self, table: TableRef, query: Query) -> int: ...

    def add_column(self, table: TableRef, column: Column) -> None: ...

    def widen_column(self, table: TableRef, column: Column) -> None: ...

    def stage(self, query: Query, columns: Sequence[Column] | None = None) -> Staged: ...

    def read(self, sql: str, params: dict[str, object] | None = None) -> list[tuple]: ...

    def create_from_staged(self, table: TableRef, staged: Staged) -> int: ...

    def scan(
        self, staged: Staged, column: str | None = None, window: Window | None = None
    ) -> Query: ...

    def table_sql(self, table: TableRef) -> str: ...

    def drop_staged(self, staged: Staged) -> None: ...

    def row_count(self, table: TableRef) -> int: ...

    def key_problems(
        self, staged: Staged, keys: Sequence[str], limit: int
    ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]: ...

    def merge(
        self,
        table: TableRef,
        staged: Staged,
        keys: Sequence[str],
        table_columns: Sequence[Column] = (),
    ) -> tuple[int, int]: ...

    def replace_window(
        self,
        table: TableRef,
        query: Query,
        columns: Sequence[Column],
        column: str,
        window: Window,
        summarises: bool = False,
    ) -> WindowWrite: ...

    def create_windowed(
        self,
        table: TableRef,
        query: Query,
        columns: Sequence[Column],
        column: str,
        window: Window,
    ) -> WindowWrite: ...

    def scan_window(self, table: TableRef, column: str, window: Window) -> Query: ...

    def newest_in_window(self, table: TableRef, column: str, window: Window) -> Query: ...

    def scan_table(self, table: TableRef) -> Query: ...

    def appended_rows(self, table: TableRef, columns: Sequence[str]) -> Query | None: ...

    def planned(self) -> Iterator[Query]: ...
