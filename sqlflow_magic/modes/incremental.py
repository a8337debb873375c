"""MODE INCREMENTAL BY c: recompute the window (start, end] and replace exactly those rows."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class IncrementalHandler:
    """Stages the batch, keeps its rows inside the window, swaps the target's window."""

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Replace the target's rows in the window with the batch's."""
        engine, column, window = ctx.engine, ctx.spec.time_column, ctx.window
        assert column is not None
        assert window is not None
        staged = engine.stage(ctx.query, ctx.columns)
        stats = engine.window_stats(staged, column, window)
        left_out = stats.rows_in - stats.rows_in_window
        changes: list = []
        if not ctx.table.exists:
            inserted = engine.create_from_window(ctx.table, staged, column, window)
            deleted = 0
        else:
            changes = reconcile_shape(engine, ctx.table, staged.columns, (), ctx.table_columns)
            deleted, inserted = engine.replace_window(ctx.table, staged, column, window)
        return ModeOutcome(
            rows_in=stats.rows_in,
            inserted=inserted,
            deleted=deleted,
            left_out=left_out,
            newest=stats.newest,
            written=engine.scan(staged, column, window),
            staged=staged,
            schema_changes=tuple(changes),
        )
