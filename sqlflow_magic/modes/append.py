"""MODE APPEND: insert every result row."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class AppendHandler:
    """Creates the table on the first run, then inserts by column name.

    Rules and the profile read the rows a run writes: a new table holds only those; an
    existing one tells them apart when the engine can (``appended_rows``). Only an engine
    that cannot has the batch staged first, which costs as much again as the insert.
    """

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Insert the query's rows."""
        engine = ctx.engine
        if not ctx.table.exists:
            rows = engine.create_table_as(ctx.table, ctx.query, replace=False)
            written = engine.scan_table(ctx.table) if ctx.needs_written_rows else None
            return ModeOutcome(rows_in=rows, inserted=rows, written=written)
        written, staged = None, None
        if ctx.needs_written_rows:
            written = engine.appended_rows(ctx.table, [c.name for c in ctx.columns])
            if written is None:
                staged = engine.stage(ctx.query, ctx.columns)
                written = engine.scan(staged)
        changes = reconcile_shape(engine, ctx.table, ctx.columns, (), ctx.table_columns)
        rows = engine.insert(ctx.table, written if staged else ctx.query)
        return ModeOutcome(
            rows_in=rows, inserted=rows, written=written, staged=staged,
            schema_changes=tuple(changes),
        )  # fmt: skip
