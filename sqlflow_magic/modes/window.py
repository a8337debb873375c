"""The INCREMENTAL window: (watermark - LOOKBACK, now], and what a bucket column needs.

When the time column is a bucket of another column (``date_trunc('hour', ts)``,
``time_bucket(...)``, ``ts::DATE``), the newest bucket was probably partial when it was
written, so it must be recomputed on the next run: LOOKBACK defaults to one bucket and a
shorter one is refused.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from sqlflow_magic.engine.base import Window
from sqlflow_magic.errors import WatermarkError
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import TransformSpec

_TRUNCS = tuple(
    getattr(exp, name) for name in ("DateTrunc", "TimestampTrunc", "DatetimeTrunc")
    if hasattr(exp, name)
)  # fmt: skip
_TO_DATE = tuple(getattr(exp, n) for n in ("Date", "TsOrDsToDate") if hasattr(exp, n))


@dataclass(frozen=True)
class Bucket:
    """A bucketed time column: its width as DuckDB interval text."""

    width: str  # e.g. '1 hour'
    width_sql: str | None = None  # an interval expression to evaluate, for time_bucket


@functools.lru_cache(maxsize=256)
def find_bucket(query_sql: str, column: str) -> Bucket | None:
    """The bucket width of ``column`` in the query's select list, if it is a bucket.

    >>> find_bucket("SELECT date_trunc('hour', ts) AS hour FROM e", "hour")
    Bucket(width='1 hour', width_sql=None)
    >>> find_bucket("SELECT ts FROM e", "ts") is None
    True
    """
    try:
        tree = sqlglot.parse_one(query_sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None  # a body sqlglot cannot read still runs; it just gets no bucket default
    while isinstance(tree, exp.SetOperation):
        tree = tree.left
    if not isinstance(tree, exp.Select):
        return None
    for projection in tree.expressions:
        if projection.alias_or_name.lower() != column.lower():
            continue
        node = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(node, _TRUNCS) and node.args.get("unit") is not None:
            unit = node.args["unit"]
            unit_text = unit.name if isinstance(unit, exp.Expression) else str(unit)
            return Bucket(width=f"1 {unit_text.lower()}")
        if isinstance(node, exp.DateBin):
            return Bucket(width="", width_sql=node.this.sql(dialect="duckdb"))
        if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE):
            return Bucket(width="1 day")
        if isinstance(node, _TO_DATE):
            return Bucket(width="1 day")
        return None
    return None


def plan_lookback(
    spec: TransformSpec,
    source: CellSource | None,
    bound_sql: str,
    time,  # DuckDBTime-like: interval_error, interval_of, shorter
) -> str | None:
    """The LOOKBACK in force: as written, or one bucket when the time column is a bucket.

    Raises:
        WatermarkError: a LOOKBACK that is not an interval, or shorter than one bucket.
    """
    lookback = spec.lookback
    where = _where(spec, source, "LOOKBACK:value")
    if lookback is not None:
        problem = time.interval_error(lookback)
        if problem:
            raise WatermarkError(
                f"LOOKBACK '{lookback}' is not an interval ({problem})",
                hint="write it as DuckDB reads intervals: '2 hours', '1 day', '30 minutes'",
                table=str(spec.target),
                **where,
            )
    bucket = find_bucket(bound_sql, spec.time_column or "")
    if bucket is None:
        return lookback
    width = bucket.width or time.interval_of(bucket.width_sql)
    if lookback is None:
        return width
    if time.shorter(lookback, width):
        raise WatermarkError(
            f"LOOKBACK '{lookback}' is shorter than one bucket of {spec.time_column} "
            f"({width}): the newest bucket, partial when written, would never be recomputed",
            hint=f"use LOOKBACK '{width}' or longer, or leave LOOKBACK out (it defaults "
            "to one bucket)",
            table=str(spec.target),
            **where,
        )
    return lookback


def compute_window(
    spec: TransformSpec,
    watermark_start: dt.datetime | None,
    time,  # DuckDBTime-like: timestamp
    start: str | None = None,
    end: str | None = None,
    now: dt.datetime | None = None,
) -> Window:
    """The window (start, end] of this run.

    Args:
        spec: the INCREMENTAL transform.
        watermark_start: the stored watermark minus LOOKBACK (read with the watermark);
            None before the first run or after a reset, when the window starts at -infinity.
        time: timestamp parsing (the engine's).
        start: ``--start``, overriding watermark - LOOKBACK.
        end: ``--end``, overriding now (UTC).
        now: the current UTC time (tests pass a fixed one).

    Raises:
        WatermarkError: a --start/--end that is not a timestamp, or an empty window.
    """
    window_end = _parse(time, end, "--end") if end else (now or _utcnow())
    window_start = _parse(time, start, "--start") if start else watermark_start
    if start and window_start is not None and window_start >= window_end:
        raise WatermarkError(
            f"the window ({window_start}, {window_end}] is empty: its start is not before its end",
            hint="give --start earlier than --end (both are UTC timestamps)",
            table=str(spec.target),
        )
    return Window(window_start, window_end)


def _where(spec: TransformSpec, source: CellSource | None, key: str) -> dict[str, object]:
    pos = spec.positions.get(key)
    if source is None or pos is None:
        return {}
    return source.where(pos.offset, pos.length)


def _parse(time, text: str, option: str) -> dt.datetime:
    import duckdb

    try:
        return time.timestamp(text)
    except duckdb.Error as err:
        raise WatermarkError(
            f"{option} {text!r} is not a timestamp",
            hint=f"write {option} '2024-05-01 00:00:00' (UTC)",
        ) from err


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
