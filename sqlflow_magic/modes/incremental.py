"""MODE INCREMENTAL BY c: recompute the window (start, end] and replace exactly those rows."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class IncrementalHandler:
    """Stages the batch, keeps its rows inside the window, swaps the target's window.

    The first build writes the query straight into the new table and then removes the
    few rows outside the window: staging a full build would write every row twice.
    """

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Replace the target's rows in the window with the batch's."""
        engine, column, window = ctx.engine, ctx.spec.time_column, ctx.window
        assert column is not None
        assert window is not None
        if not ctx.table.exists:
            rows_in, left_out, newest = engine.create_windowed(
                ctx.table, ctx.query, ctx.columns, column, window
            )
            return ModeOutcome(
                rows_in=rows_in,
                inserted=rows_in - left_out,
                left_out=left_out,
                newest=newest,
                written=engine.scan_table(ctx.table),
            )
        staged = engine.stage(ctx.query, ctx.columns)
        stats = engine.window_stats(staged, column, window)
        left_out = stats.rows_in - stats.rows_in_window
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
