"""Status and history read from the state tables of every attached database."""

from __future__ import annotations

import duckdb

from sqlflow_magic.state.store import STATE_SCHEMA, utcnow
from sqlflow_magic.syntax.names import quote
from sqlflow_magic.syntax.names import sql_fold as fold

STATUS_COLUMNS = [
    "target", "mode", "keys", "time_column", "watermark", "lag", "last_status",
    "last_run_at", "rows_inserted", "rows_updated", "rows_deleted", "duration",
]  # fmt: skip
HISTORY_COLUMNS = [
    "run_id", "target", "mode", "status", "started_at", "duration", "window_start",
    "window_end", "rows_in", "rows_inserted", "rows_updated", "rows_deleted", "rows_left_out",
    "watermark_after", "rules", "schema_changes", "error",
]  # fmt: skip


def state_catalogs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Databases that hold sqlflow state tables, the connected one first."""
    rows = con.execute(
        "SELECT database_name FROM duckdb_tables() WHERE schema_name = $s AND table_name = 'runs' "
        "ORDER BY database_name <> current_database(), database_name",
        {"s": STATE_SCHEMA},
    ).fetchall()
    return [r[0] for r in rows]


def _prefix(con: duckdb.DuckDBPyConnection, catalog: str) -> str:
    # Targets of the connected database show as schema.table; others as db.schema.table.
    current = con.execute("SELECT current_database()").fetchall()[0][0]
    return "" if catalog == current else f"{catalog}."


def status_frame(con: duckdb.DuckDBPyConnection):
    """Every transform: mode, keys, time column, watermark, lag, last run and its counts."""
    import pandas as pd

    parts = []
    for catalog in state_catalogs(con):
        s = f"{quote(catalog)}.{STATE_SCHEMA}"
        parts.append(
            con.execute(
                f"""
                WITH last AS (
                    SELECT * FROM {s}.runs
                    QUALIFY row_number() OVER (PARTITION BY target
                                               ORDER BY started_at DESC) = 1)
                SELECT $p || t.target AS target, t.mode, array_to_string(t.keys, ', ') AS keys,
                       t.time_column, w.watermark,
                       $now - w.watermark AS lag,
                       l.status AS last_status, l.started_at AS last_run_at,
                       l.rows_inserted, l.rows_updated, l.rows_deleted,
                       printf('%.3fs', l.duration_s) AS duration
                FROM {s}.transforms t
                LEFT JOIN {s}.watermarks w ON w.target = t.target
                LEFT JOIN last l ON l.target = t.target
                ORDER BY t.target
                """,
                {"p": _prefix(con, catalog), "now": utcnow()},
            ).df()
        )
    if not parts:
        return pd.DataFrame(columns=STATUS_COLUMNS)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def history_frame(con: duckdb.DuckDBPyConnection, target: str | None = None, limit: int = 50):
    """Past runs, newest first, optionally of one target (``table`` or ``schema.table``)."""
    import pandas as pd

    parts = []
    for catalog in state_catalogs(con):
        s = f"{quote(catalog)}.{STATE_SCHEMA}"
        parts.append(
            con.execute(
                f"""
                WITH rules AS (
                    SELECT run_id, concat_ws(', ',
                        CASE WHEN count(*) FILTER (passed) > 0
                             THEN count(*) FILTER (passed) || ' passed' END,
                        CASE WHEN count(*) FILTER (NOT passed AND severity = 'warn') > 0
                             THEN count(*) FILTER (NOT passed AND severity = 'warn') || ' warned'
                             END,
                        CASE WHEN count(*) FILTER (NOT passed AND severity = 'error') > 0
                             THEN count(*) FILTER (NOT passed AND severity = 'error') || ' failed'
                             END) AS rules
                    FROM {s}.rule_results GROUP BY run_id),
                changes AS (
                    SELECT run_id, string_agg(CASE change
                        WHEN 'add' THEN 'added ' || column_name || ' ' || new_type
                        ELSE 'widened ' || column_name || ' ' || old_type || ' -> ' || new_type
                        END, '; ' ORDER BY column_name) AS schema_changes
                    FROM {s}.schema_changes GROUP BY run_id)
                SELECT run_id, $p || target AS target, mode, status, started_at,
                       printf('%.3fs', duration_s) AS duration, window_start, window_end, rows_in,
                       rows_inserted, rows_updated, rows_deleted, rows_left_out,
                       watermark_after, rules.rules, changes.schema_changes, error
                FROM {s}.runs
                LEFT JOIN rules USING (run_id)
                LEFT JOIN changes USING (run_id)
                WHERE $t IS NULL OR {fold("target")} = {fold("$t")}
                   OR {fold("split_part(target, '.', 2)")} = {fold("$t")}
                   OR {fold("$p || target")} = {fold("$t")}
                ORDER BY started_at DESC LIMIT {int(limit)}
                """,
                {"p": _prefix(con, catalog), "t": target},
            ).df()
        )
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.sort_values("started_at", ascending=False).head(limit).reset_index(drop=True)
    # Most pipelines declare no rules and never change shape: hide those columns until used.
    empty = [c for c in ("rules", "schema_changes") if frame[c].isna().all()]
    return frame.drop(columns=empty)
