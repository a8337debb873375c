"""Kernel-side data for the JupyterLab "SQLFlow" panel (issue 5).

The lab extension asks the kernel for a snapshot with a silent execute request whose
``user_expressions`` evaluate :func:`panel_reply`; nothing here depends on the extension,
and nothing in the magic depends on this module. The snapshot reads the state tables with
plain SQL (they are small) and never scans a target table.

All times in the state tables are naive UTC, and so are the times in the snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

#: How many runs the history of one target (or of all targets) returns.
HISTORY_LIMIT = 50

_STATE_SCHEMA = "sqlflow"
_STATE_TABLES = ("transforms", "watermarks", "runs")


def snapshot_json(target: str | None = None, *, limit: int = HISTORY_LIMIT) -> str:
    """The panel's data as JSON: every transform, and the run history of one of them.

    Args:
        target: the transform whose runs go in ``history``; None gives the latest runs
            of every transform.
        limit: the most runs ``history`` holds, newest first.

    Returns:
        A JSON object ``{"loaded", "now", "database", "path", "databases", "transforms",
        "history", "error"}``: ``database`` and ``path`` name the connected database,
        ``databases`` those holding state tables. ``loaded`` is false when
        ``%load_ext sqlflow_magic`` has not run in this kernel; ``transforms`` and
        ``history`` are empty lists until the state tables exist.
        A failure to read the state is reported in ``error``, never raised: the panel
        must not break the user's kernel.

    Example:
        >>> sorted(json.loads(snapshot_json()))
        ['database', 'databases', 'error', 'history', 'loaded', 'now', 'path', 'transforms']
    """
    return json.dumps(_finite(snapshot(target, limit=limit)), default=_jsonable, allow_nan=False)


def snapshot(target: str | None = None, *, limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The panel's data as a dict (see :func:`snapshot_json`)."""
    now = _utcnow()
    out: dict[str, Any] = {
        "loaded": False,
        "now": now,
        "database": None,
        "path": None,
        "databases": [],
        "transforms": [],
        "history": [],
        "error": None,
    }
    magics = _active_magics()
    if magics is None:
        return out
    out["loaded"] = True
    try:
        con = magics.session.connection()
        read = _StateReader(con)
        out["database"], out["path"] = read.default, read.path
        out["databases"] = read.databases
        out["transforms"] = read.transforms(now)
        out["history"] = read.history(target, limit)
    except Exception as exc:  # noqa: BLE001 - reported to the panel, not raised in the kernel
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def panel_reply(target: str | None = None) -> _JsonText:
    """What the lab extension evaluates: the snapshot whose ``repr`` is its JSON text.

    ``user_expressions`` send the ``text/plain`` repr of a value; a plain ``str`` would
    arrive quoted and escaped the Python way.
    """
    return _JsonText(snapshot_json(target))


class _JsonText:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _active_magics() -> Any:
    # `%load_ext sqlflow_magic` imports the magic module; until then there is nothing to
    # show, and the panel must not import it (and DuckDB) into the user's kernel.
    if "sqlflow_magic.magic" not in sys.modules:
        return None
    from sqlflow_magic.magic import active_magics

    return active_magics()


class _StateReader:
    """Reads the ``sqlflow`` schema of every attached database that has one.

    The state of a target lives in the target's own database, so a transform into an
    attached database has its state there; the panel shows them all.
    """

    def __init__(self, con: Any) -> None:
        self.con = con
        rows = con.execute(
            "SELECT database_name, table_name FROM duckdb_tables() "
            "WHERE schema_name = $s ORDER BY database_name",
            {"s": _STATE_SCHEMA},
        ).fetchall()
        self.default, self.path = con.execute(
            "SELECT database_name, path FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        ).fetchall()[0]
        self.tables: dict[str, set[str]] = {}
        for database, table in rows:
            if table in _STATE_TABLES:
                self.tables.setdefault(database, set()).add(table)
        # The connected database first, then attached ones by name.
        self.databases = sorted(self.tables, key=lambda d: (d != self.default, d))

    def _rows(self, database: str, table: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        if table not in self.tables.get(database, ()):
            return []
        name = f"{_quote(database)}.{_STATE_SCHEMA}.{table}"
        cursor = self.con.execute(sql.format(t=name), params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def transforms(self, now: dt.datetime) -> list[dict[str, Any]]:
        result = []
        for database in self.databases:
            result.extend(self._transforms_of(database, now))
        return result

    def _transforms_of(self, database: str, now: dt.datetime) -> list[dict[str, Any]]:
        defined = {
            r["target"].lower(): r for r in self._rows(database, "transforms", "SELECT * FROM {t}")
        }
        marks = {
            r["target"].lower(): r for r in self._rows(database, "watermarks", "SELECT * FROM {t}")
        }
        last_runs = {
            r["target"].lower(): r
            for r in self._rows(
                database,
                "runs",
                # The last *run*: a `%sqlflow reset` is recorded too (status 'reset'), but
                # the card's "last run" means the last time data was written or refused.
                "SELECT * FROM {t} QUALIFY row_number() OVER (PARTITION BY lower(target) "
                "ORDER BY status IN ('success', 'failed') DESC, started_at DESC NULLS LAST) = 1",
            )
        }
        counts = {
            r["key"]: r
            for r in self._rows(
                database,
                "runs",
                "SELECT lower(target) AS key, count(*) AS runs, "
                "count(*) FILTER (WHERE status = 'failed') AS failed_runs "
                "FROM {t} GROUP BY ALL",
            )
        }
        # A target whose first run failed has runs but no definition yet: show it too.
        result = []
        for key in sorted(defined.keys() | last_runs.keys()):
            spec = defined.get(key, {})
            mark = marks.get(key, {})
            last = last_runs.get(key)
            watermark = mark.get("watermark")
            result.append(
                {
                    "target": spec.get("target") or (last or {}).get("target"),
                    "database": database,
                    "mode": spec.get("mode") or (last or {}).get("mode"),
                    "keys": list(spec.get("keys") or []),
                    "time_column": spec.get("time_column") or mark.get("time_column"),
                    "lookback": spec.get("lookback"),
                    "definition": spec.get("definition"),
                    "created_at": spec.get("created_at"),
                    "updated_at": spec.get("updated_at"),
                    "watermark": watermark,
                    "lag_s": _lag_seconds(now, watermark),
                    "runs": counts.get(key, {}).get("runs", 0),
                    "failed_runs": counts.get(key, {}).get("failed_runs", 0),
                    "last_run": _run(last) if last else None,
                }
            )
        return result

    def history(self, target: str | None, limit: int) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        for database in self.databases:
            if target is None:
                rows = self._rows(
                    database, "runs",
                    "SELECT * FROM {t} ORDER BY started_at DESC NULLS LAST LIMIT $n", n=limit,
                )  # fmt: skip
            else:
                rows = self._rows(
                    database, "runs",
                    # Targets are stored qualified (main.t); the bare name finds them too.
                    "SELECT * FROM {t} WHERE lower(target) = lower($target) "
                    "OR suffix(lower(target), '.' || lower($target)) "
                    "ORDER BY started_at DESC NULLS LAST LIMIT $n",
                    target=target, n=limit,
                )  # fmt: skip
            runs.extend({**_run(r), "database": database} for r in rows)
        runs.sort(key=lambda r: r["started_at"] or dt.datetime.min, reverse=True)
        return runs[:limit]


_RUN_FIELDS = (
    "run_id", "target", "mode", "status", "started_at", "finished_at", "duration_s",
    "window_start", "window_end", "rows_in", "rows_inserted", "rows_updated", "rows_deleted",
    "rows_left_out", "watermark_before", "watermark_after", "error",
)  # fmt: skip


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {field: row.get(field) for field in _RUN_FIELDS}


def _lag_seconds(now: dt.datetime, watermark: Any) -> float | None:
    if watermark is None:
        return None
    if isinstance(watermark, dt.datetime):
        if watermark.tzinfo is not None:
            watermark = watermark.astimezone(dt.timezone.utc).replace(tzinfo=None)
    elif isinstance(watermark, dt.date):
        watermark = dt.datetime.combine(watermark, dt.time())
    else:
        return None
    return (now - watermark).total_seconds()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _finite(value: Any) -> Any:
    """NaN and infinity have no JSON form: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """JSON for what DuckDB returns: times as ISO text (naive = UTC), decimals as numbers."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (set, tuple)):
        return list(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None
