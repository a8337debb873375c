"""MODE REPLACE: the table becomes exactly the query result."""

from __future__ import annotations

from sqlflow_magic.engine.base import Query
from sqlflow_magic.modes.base import ModeOutcome, RunContext


class ReplaceHandler:
    """CREATE OR REPLACE in the run's transaction: readers see the old or the new table."""

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Replace the table; the old rows count as deleted."""
        engine = ctx.engine
        before = engine.row_count(ctx.table) if ctx.table.exists else 0
        rows = engine.create_table_as(ctx.table, ctx.query, replace=True)
        written = Query(f"SELECT * FROM {engine.table_sql(ctx.table)}")
        return ModeOutcome(rows_in=rows, inserted=rows, deleted=before, written=written)
