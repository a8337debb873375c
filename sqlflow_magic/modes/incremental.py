"""MODE INCREMENTAL BY c: recompute the window (start, end] and replace exactly those rows."""

from __future__ import annotations

from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape


class IncrementalHandler:
    """Swaps the target's window for the query's rows inside it, without staging them.

    The first build writes the query straight into the new table and then removes the
    few rows outside the window. Later runs delete the window and insert the query's
    rows inside it. Either way the target's window then holds exactly the rows written,
    so rules, the profile and the new watermark read them there.
    """

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Replace the target's rows in the window with the query's."""
        engine, column, window = ctx.engine, ctx.spec.time_column, ctx.window
        assert column is not None
        assert window is not None
        changes: list = []
        if not ctx.table.exists:
            done = engine.create_windowed(ctx.table, ctx.query, ctx.columns, column, window)
        else:
            changes = reconcile_shape(engine, ctx.table, ctx.columns, (), ctx.table_columns)
            done = engine.replace_window(
                ctx.table, ctx.query, ctx.columns, column, window, ctx.spec.query.summarises
            )
        return ModeOutcome(
            rows_in=done.rows_in,
            inserted=done.inserted,
            deleted=done.deleted,
            left_out=done.left_out,
            newest=engine.newest_in_window(ctx.table, column, window),
            written=engine.scan_window(ctx.table, column, window),
            schema_changes=tuple(changes),
        )
