"""MODE APPEND: insert every result row."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class AppendHandler:
    """Creates the table on the first run, then inserts by column name."""

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Insert the query's rows."""
        if not ctx.table.exists:
            rows = ctx.engine.create_table_as(ctx.table, ctx.query, replace=False)
        else:
            reconcile_shape(ctx.engine, ctx.table, ctx.columns)
            rows = ctx.engine.insert(ctx.table, ctx.query)
        return ModeOutcome(rows_in=rows, inserted=rows)
