"""Mode handlers against a recording engine: what each mode asks for, with no database.

The handlers only speak the Engine protocol, so a second engine (Spark, later) gets the
same mode logic. These tests pin that logic: which operations run, in which order, and
how their counts become the outcome.
"""

from __future__ import annotations

import datetime as dt

import pytest

from sqlflow_magic.engine.base import Column, Query, Staged, TableRef, Window, WindowWrite
from sqlflow_magic.errors import ModeError
from sqlflow_magic.modes.base import RunContext
from sqlflow_magic.modes.registry import HANDLERS
from sqlflow_magic.syntax.parse import parse_cell


class RecordingEngine:
    """Answers with canned counts and records every call."""

    SUPPORTS_MERGE = True

    def __init__(self, table_columns=(), key_problems=([], []), counts=None):
        self.calls: list[tuple] = []
        self._table_columns = [Column(*c) for c in table_columns]
        self._key_problems = key_problems
        self._counts = counts or {}

    def _log(self, *call):
        self.calls.append(call)

    def row_count(self, table):
        self._log("row_count")
        return self._counts.get("row_count", 0)

    def create_table_as(self, table, query, replace):
        self._log("create_table_as", replace)
        return self._counts.get("created", 0)

    def insert(self, table, query):
        self._log("insert")
        return self._counts.get("inserted", 0)

    def table_columns(self, table):
        return self._table_columns

    def add_column(self, table, column):
        self._log("add_column", column.name, column.type)

    def stage(self, query, columns=None):
        self._log("stage")
        return Staged("batch", (Column("id", "BIGINT"), Column("v", "VARCHAR")))

    def drop_staged(self, staged):
        self._log("drop_staged")

    def scan(self, staged, column=None, window=None):
        return Query(f"SELECT * FROM {staged.name}")

    def table_sql(self, table):
        return f"{table.schema}.{table.name}"

    def widen_column(self, table, column):
        self._log("widen_column", column.name, column.type)

    def key_problems(self, staged, keys, limit):
        self._log("key_problems", tuple(keys))
        return self._key_problems

    def create_from_staged(self, table, staged):
        self._log("create_from_staged")
        return self._counts.get("created", 0)

    def merge(self, table, staged, keys, table_columns=()):
        self._log("merge", tuple(keys))
        return self._counts.get("merge", (0, 0))

    def replace_window(self, table, query, columns, column, window, summarises=False):
        self._log("replace_window", column, summarises)
        return self._counts.get("replace_window", WindowWrite(0, 0))

    def create_windowed(self, table, query, columns, column, window):
        self._log("create_windowed", column)
        return self._counts.get("created", WindowWrite(0, 0))

    def scan_window(self, table, column, window):
        return Query(f"SELECT * FROM {table.name} WHERE {column} IN window")

    def newest_in_window(self, table, column, window):
        return Query(f"SELECT max({column}) FROM {table.name} WHERE {column} IN window")

    def scan_table(self, table):
        return Query(f"SELECT * FROM {table.name}")


def context(cell: str, engine, exists: bool, window=None) -> RunContext:
    (spec,) = parse_cell(cell)
    table = TableRef("memory", "main", "t", exists)
    columns = (Column("id", "BIGINT"), Column("v", "VARCHAR"))
    return RunContext(spec, table, Query("SELECT 1"), columns, engine, window)


def apply(cell, engine, exists, window=None):
    ctx = context(cell, engine, exists, window)
    return HANDLERS[ctx.spec.mode].apply(ctx)


def test_replace_creates_or_replaces_and_counts_old_rows_as_deleted():
    engine = RecordingEngine(counts={"row_count": 7, "created": 3})
    out = apply("CREATE TABLE t MODE REPLACE AS SELECT 1", engine, exists=True)
    assert engine.calls == [("row_count",), ("create_table_as", True)]
    assert (out.rows_in, out.inserted, out.deleted) == (3, 3, 7)


def test_append_creates_first_then_inserts_after_fitting_the_shape():
    engine = RecordingEngine(counts={"created": 2})
    apply("CREATE TABLE t MODE APPEND AS SELECT 1", engine, exists=False)
    assert engine.calls == [("create_table_as", False)]
    engine = RecordingEngine(table_columns=[("id", "BIGINT")], counts={"inserted": 4})
    out = apply("CREATE TABLE t MODE APPEND AS SELECT 1", engine, exists=True)
    assert engine.calls == [("add_column", "v", "VARCHAR"), ("insert",)]
    assert out.inserted == 4


def test_upsert_checks_keys_before_any_write():
    engine = RecordingEngine(key_problems=([(1, 2)], []))
    with pytest.raises(ModeError, match=r"duplicate keys: \(1\) x2"):
        apply("CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 1", engine, exists=True)
    assert engine.calls == [("stage",), ("key_problems", ("id",))]


def test_upsert_merges_into_an_existing_table():
    engine = RecordingEngine(
        table_columns=[("id", "BIGINT"), ("v", "VARCHAR")], counts={"merge": (2, 5)}
    )
    out = apply("CREATE TABLE t MODE UPSERT KEY (id) AS SELECT 1", engine, exists=True)
    assert engine.calls == [
        ("stage",), ("key_problems", ("id",)), ("merge", ("id",)),
    ]  # fmt: skip
    assert (out.rows_in, out.inserted, out.updated) == (7, 2, 5)


def test_incremental_replaces_the_window_and_reports_what_it_left_out():
    engine = RecordingEngine(
        table_columns=[("id", "BIGINT")],
        counts={"replace_window": WindowWrite(rows_in=10, inserted=6, deleted=4)},
    )
    window = Window(dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 2))
    out = apply("CREATE TABLE t MODE INCREMENTAL BY v AS SELECT 1", engine, True, window)
    # the shape is fitted first; nothing is staged: the query writes into the window
    assert engine.calls == [("add_column", "v", "VARCHAR"), ("replace_window", "v", False)]
    assert (out.rows_in, out.inserted, out.deleted, out.left_out) == (10, 6, 4, 4)
    assert out.staged is None
    # rules, the profile and the watermark read the rows written in the target's window
    assert out.written.sql == "SELECT * FROM t WHERE v IN window"
    assert out.newest.sql == "SELECT max(v) FROM t WHERE v IN window"


def test_incremental_first_run_creates_from_the_window():
    engine = RecordingEngine(counts={"created": WindowWrite(rows_in=5, inserted=3)})
    window = Window(None, dt.datetime(2025, 1, 2))
    out = apply("CREATE TABLE t MODE INCREMENTAL BY v AS SELECT 1", engine, False, window)
    # the first build writes straight into the table: nothing is staged
    assert engine.calls == [("create_windowed", "v")]
    assert (out.rows_in, out.inserted, out.left_out) == (5, 3, 2)


def test_incremental_tells_the_engine_when_the_query_summarises():
    engine = RecordingEngine(table_columns=[("id", "BIGINT"), ("v", "VARCHAR")])
    window = Window(dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 2))
    apply("CREATE TABLE t MODE INCREMENTAL BY v AS SELECT v, count(*) AS id FROM s GROUP BY v",
          engine, True, window)  # fmt: skip
    assert engine.calls == [("replace_window", "v", True)]
