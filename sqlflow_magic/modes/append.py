"""MODE APPEND: insert every result row."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class AppendHandler:
    """Creates the table on the first run, then inserts by column name.

    The batch is staged only when rules must read it: a plain append inserts straight
    from the query, as a hand-written INSERT would.
    """

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Insert the query's rows."""
        engine = ctx.engine
        staged = engine.stage(ctx.query, ctx.columns) if ctx.needs_written_rows else None
        source = engine.scan(staged) if staged else ctx.query
        changes: list = []
        if not ctx.table.exists:
            rows = engine.create_table_as(ctx.table, source, replace=False)
        else:
            changes = reconcile_shape(engine, ctx.table, ctx.columns, (), ctx.table_columns)
            rows = engine.insert(ctx.table, source)
        return ModeOutcome(
            rows_in=rows, inserted=rows, written=source if staged else None, staged=staged,
            schema_changes=tuple(changes),
        )  # fmt: skip
