"""MODE UPSERT KEY (...): update rows whose key exists, insert new keys, touch nothing else."""

from __future__ import annotations

from sqlflow_magic.errors import ModeError
from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.shape import reconcile_shape

# How many offending keys an error shows.
SHOWN_KEYS = 5


class UpsertHandler:
    """Stages the batch once, refuses duplicate or NULL keys, then merges."""

    def apply(self, ctx: RunContext) -> ModeOutcome:
        """Merge the batch into the table on its keys."""
        engine, keys = ctx.engine, ctx.spec.keys
        staged = engine.stage(ctx.query, ctx.columns)
        dups, nulls = engine.key_problems(staged, keys, SHOWN_KEYS)
        if dups or nulls:
            raise _key_error(ctx, dups, nulls)
        written = engine.scan(staged)
        if not ctx.table.exists:
            rows = engine.create_from_staged(ctx.table, staged)
            return ModeOutcome(rows_in=rows, inserted=rows, written=written, staged=staged)
        changes = reconcile_shape(engine, ctx.table, staged.columns, keys, ctx.table_columns)
        columns = [*ctx.table_columns, *(c.to_column() for c in changes if c.change == "add")]
        inserted, updated = engine.merge(ctx.table, staged, keys, columns)
        return ModeOutcome(
            rows_in=inserted + updated, inserted=inserted, updated=updated, written=written,
            staged=staged, schema_changes=tuple(changes),
        )  # fmt: skip


def _key_error(ctx: RunContext, dups: list[tuple], nulls: list[tuple]) -> ModeError:
    keys = ctx.spec.keys
    names = ", ".join(keys)
    parts = []
    if dups:
        shown = "; ".join(f"({', '.join(repr(v) for v in row[:-1])}) x{row[-1]}" for row in dups)
        parts.append(f"duplicate keys: {shown}")
    if nulls:
        shown = "; ".join(f"({', '.join(repr(v) for v in row)})" for row in nulls)
        parts.append(f"NULL keys: {shown}")
    return ModeError(
        f"the batch for {ctx.table.key} has rows that share a key or lack one on KEY ({names}); "
        + " — ".join(parts),
        hint=(
            "each key may appear once per run and never be NULL: deduplicate in the query "
            f"(e.g. QUALIFY row_number() OVER (PARTITION BY {names} ORDER BY ...) = 1) "
            "or filter out NULL keys; nothing was changed"
        ),
        table=ctx.table.key,
    )
