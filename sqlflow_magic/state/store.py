"""Reading and writing the state tables in the same transaction as the data.

The state lives in the target's own database (schema ``sqlflow``), because DuckDB commits
one database per transaction: data, watermark and run record then commit together or not
at all. Reading a watermark reads one small row; it never scans the target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from sqlflow_magic.engine import parsed
from sqlflow_magic.syntax.names import quote

STATE_SCHEMA = "sqlflow"

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.transforms (
    target VARCHAR, mode VARCHAR, keys VARCHAR[], time_column VARCHAR, lookback VARCHAR,
    definition VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS {s}.watermarks (
    target VARCHAR, time_column VARCHAR, watermark TIMESTAMP, run_id VARCHAR,
    updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS {s}.runs (
    run_id VARCHAR, target VARCHAR, mode VARCHAR, status VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, duration_s DOUBLE,
    window_start TIMESTAMP, window_end TIMESTAMP,
    rows_in BIGINT, rows_inserted BIGINT, rows_updated BIGINT, rows_deleted BIGINT,
    rows_left_out BIGINT, watermark_before TIMESTAMP, watermark_after TIMESTAMP,
    error VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.schema_changes (
    run_id VARCHAR, target VARCHAR, column_name VARCHAR, change VARCHAR,
    old_type VARCHAR, new_type VARCHAR, changed_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS {s}.quality_profiles (
    run_id VARCHAR, target VARCHAR, profiled_at TIMESTAMP, "full" BOOLEAN, rows BIGINT,
    completeness INTEGER, accuracy INTEGER, consistency INTEGER, freshness INTEGER,
    uniqueness INTEGER, validity INTEGER, business_rules INTEGER, profile VARCHAR);
CREATE TABLE IF NOT EXISTS {s}.rule_results (
    run_id VARCHAR, target VARCHAR, rule VARCHAR, severity VARCHAR, passed BOOLEAN,
    failing_rows BIGINT, checked_rows BIGINT, detail VARCHAR, checked_at TIMESTAMP);
"""

_RUN_COLUMNS = (
    "run_id", "target", "mode", "status", "started_at", "finished_at", "duration_s",
    "window_start", "window_end", "rows_in", "rows_inserted", "rows_updated", "rows_deleted",
    "rows_left_out", "watermark_before", "watermark_after", "error",
)  # fmt: skip


@dataclass(frozen=True)
class TargetState:
    """What the state tables hold about one target before a run."""

    definition: tuple | None  # (mode, keys, time_column, lookback, text); None: never run
    watermark: dt.datetime | None
    has_watermark_row: bool
    watermark_start: dt.datetime | None = None  # watermark - LOOKBACK, when asked for


@dataclass(frozen=True)
class RunRecord:
    """One row of ``sqlflow.runs``."""

    run_id: str
    target: str
    mode: str
    status: str  # 'success' or 'failed'
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_s: float
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    rows_in: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_left_out: int | None = None
    watermark_before: dt.datetime | None = None
    watermark_after: dt.datetime | None = None
    error: str | None = None


class StateStore:
    """The state tables of one database (catalog), used through one connection.

    Args:
        connection: the calling thread's connection.
        catalog: the database whose ``sqlflow`` schema holds the state.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, catalog: str) -> None:
        self.con = connection
        self.catalog = catalog
        self.schema = f"{quote(catalog)}.{STATE_SCHEMA}"

    def create_tables(self) -> None:
        """Create the state tables when missing (idempotent; run outside a run's transaction)."""
        self.con.execute(_DDL.format(s=self.schema))

    def _run(self, sql: str, params: dict[str, object] | None = None) -> duckdb.DuckDBPyConnection:
        # Every statement here is ours and the same text on every run: parsed once.
        return parsed.run(self.con, sql, params)

    def watermark(self, target: str) -> dt.datetime | None:
        """The stored watermark of ``target`` (naive UTC), or None when there is none."""
        rows = self._run(
            f"SELECT watermark FROM {self.schema}.watermarks WHERE target = $t",
            {"t": target},
        ).fetchall()
        return rows[0][0] if rows else None

    def read(
        self,
        target: str,
        lookback: str | None = None,
        definition: bool = True,
        watermark: bool = True,
    ) -> TargetState:
        """The target's stored definition and watermark: one small point read each.

        With ``lookback``, the watermark's read also computes watermark - LOOKBACK (in
        DuckDB's interval arithmetic): the start of an INCREMENTAL window. A caller that
        knows the definition already, or needs no watermark, skips that read.
        """
        # Two point reads beat one query joining both tables (measured: 1.5 ms vs 3.3 ms).
        stored = None
        if definition:
            defined = self._run(
                f"SELECT mode, keys, time_column, lookback, definition "
                f"FROM {self.schema}.transforms WHERE target = $t",
                {"t": target},
            ).fetchall()
            if defined:
                mode, keys, *rest = defined[0]
                stored = (mode, tuple(keys or ()), *rest)
        marked = []
        if watermark:
            marked = self._run(
                f"SELECT watermark, watermark - CAST(coalesce($lb, '0 seconds') AS INTERVAL) "
                f"FROM {self.schema}.watermarks WHERE target = $t",
                {"t": target, "lb": lookback},
            ).fetchall()
        value, start = marked[0] if marked else (None, None)
        return TargetState(stored, value, bool(marked), start)

    def advance_watermark(
        self,
        target: str,
        time_column: str,
        newest: tuple[str, dict[str, object]],
        run_id: str,
        exists: bool = True,
    ) -> dt.datetime | None:
        """Move the watermark up to the value ``newest`` selects; the new one, or None.

        ``newest`` is a one-value query (SQL and its parameters) over the rows a run
        wrote. It runs inside this one UPDATE (or INSERT, when ``exists`` says the target
        has no watermark row yet), which changes nothing when it finds no newer value:
        the watermark never moves back.
        """
        sql, newest_params = newest
        params = {**newest_params, "t": target, "c": time_column, "r": run_id, "now": utcnow()}
        if exists:
            statement = (
                f"UPDATE {self.schema}.watermarks AS w SET time_column = $c, "
                "watermark = n.newest, run_id = $r, updated_at = $now "
                f"FROM ({sql}) AS n(newest) "
                "WHERE w.target = $t AND n.newest > w.watermark RETURNING w.watermark"
            )
        else:
            statement = (
                f"INSERT INTO {self.schema}.watermarks "
                f"SELECT $t, $c, n.newest, $r, $now FROM ({sql}) AS n(newest) "
                "WHERE n.newest IS NOT NULL RETURNING watermark"
            )
        rows = self._run(statement, params).fetchall()
        return rows[0][0] if rows else None

    def set_watermark(
        self,
        target: str,
        time_column: str,
        value: dt.datetime | None,
        run_id: str,
        exists: bool = True,
    ) -> None:
        """Store ``value`` as the watermark of ``target`` (None forgets it).

        ``exists`` says whether the target has a watermark row already (from ``read``),
        which makes this a single UPDATE or INSERT.
        """
        if value is None:
            self._run(
                f"DELETE FROM {self.schema}.watermarks WHERE target = $t",
                {"t": target},
            )
            return
        params = {"t": target, "c": time_column, "w": value, "r": run_id, "now": utcnow()}
        if exists:
            self._run(
                f"UPDATE {self.schema}.watermarks SET time_column = $c, watermark = $w, "
                "run_id = $r, updated_at = $now WHERE target = $t",
                params,
            )
        else:
            self._run(f"INSERT INTO {self.schema}.watermarks VALUES ($t, $c, $w, $r, $now)", params)

    def save_transform(
        self,
        target: str,
        definition: tuple,
        stored: tuple | None,
    ) -> None:
        """Record the definition a target was run with, when it differs from ``stored``.

        Args:
            target: the target's key.
            definition: (mode, keys, time_column, lookback, statement text).
            stored: the definition ``read`` found, None when the target is new.
        """
        if definition == stored:
            return
        mode, keys, time_column, lookback, text = definition
        params = {"t": target, "m": mode, "k": list(keys), "c": time_column, "l": lookback,
                  "d": text, "now": utcnow()}  # fmt: skip
        if stored is None:
            self._run(
                f"INSERT INTO {self.schema}.transforms VALUES ($t, $m, $k, $c, $l, $d, $now, $now)",
                params,
            )
        else:
            self._run(
                f"UPDATE {self.schema}.transforms SET mode = $m, keys = $k, time_column = $c, "
                "lookback = $l, definition = $d, updated_at = $now "
                "WHERE target = $t",
                params,
            )

    def record_run(self, record: RunRecord) -> None:
        """Append one run record."""
        placeholders = ", ".join(f"${c}" for c in _RUN_COLUMNS)
        self._run(
            f"INSERT INTO {self.schema}.runs ({', '.join(_RUN_COLUMNS)}) VALUES ({placeholders})",
            {c: getattr(record, c) for c in _RUN_COLUMNS},
        )

    def record_schema_changes(self, run_id: str, target: str, changes) -> None:
        """Record the columns a run added or widened (committed with the run's data)."""
        now = utcnow()
        for change in changes:
            self._run(
                f"INSERT INTO {self.schema}.schema_changes VALUES ($r, $t, $c, $k, $o, $n, $now)",
                {"r": run_id, "t": target, "c": change.column, "k": change.change,
                 "o": change.old_type, "n": change.new_type, "now": now},
            )  # fmt: skip

    def record_rule_results(self, run_id: str, target: str, results) -> None:
        """Record what each EXPECT rule found; ``detail`` holds up to five offending rows."""
        now = utcnow()
        for result in results:
            self._run(
                f"INSERT INTO {self.schema}.rule_results "
                "VALUES ($r, $t, $rule, $sev, $ok, $fail, $checked, $detail, $now)",
                {"r": run_id, "t": target, "rule": result.name, "sev": result.rule.severity,
                 "ok": result.passed, "fail": result.failing_rows,
                 "checked": result.checked_rows, "detail": result.describe(), "now": now},
            )  # fmt: skip

    def record_profile(self, run_id: str, target: str, profile) -> None:
        """Record a quality profile: its seven scores as columns, the whole as JSON."""
        from sqlflow_magic.quality.model import CATEGORIES

        scores = {c: profile.score(c) for c in CATEGORIES}
        self._run(
            f"INSERT INTO {self.schema}.quality_profiles VALUES ($r, $t, $at, $full, $rows, "
            + ", ".join(f"${c}" for c in CATEGORIES)
            + ", $json)",
            {"r": run_id, "t": target, "at": utcnow(), "full": profile.full,
             "rows": profile.rows, "json": profile.to_json(), **scores},
        )  # fmt: skip

    def last_profile(self, target: str):
        """The target's latest profile, a whole-table one if there is any, else a run's."""
        from sqlflow_magic.quality.model import Profile

        rows = self._run(
            f"SELECT profile FROM {self.schema}.quality_profiles WHERE target = $t "
            'ORDER BY "full" DESC, profiled_at DESC LIMIT 1',
            {"t": target},
        ).fetchall()
        return Profile.from_json(rows[0][0]) if rows else None

    def known_target(self, target: str) -> bool:
        """Whether ``target`` has ever been run as a transform in this database."""
        rows = self._run(
            f"SELECT 1 FROM {self.schema}.transforms WHERE target = $t",
            {"t": target},
        ).fetchall()
        return bool(rows)


def utcnow() -> dt.datetime:
    """Now, as a naive UTC timestamp (how every time in the state tables is stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
