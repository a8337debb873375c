"""Synthetic, reproducible data for bench/modes.py, generated inside DuckDB.

Every value is derived from ``hash()`` of the row number, so two runs with the same
sizes produce the same database (``random()`` would differ with the thread schedule).
"""

from __future__ import annotations

import datetime as dt

import duckdb

# The event log spans START .. START + SPAN; the base data ends at BASE_END. New events
# (the 1% batches) arrive after it at the same rate as the history.
START = dt.datetime(2025, 1, 1)
SPAN = dt.timedelta(days=90)
BASE_END = START + SPAN

METRICS = ("cpu_pct", "mem_mb", "latency_ms", "requests", "errors", "disk_io_mb")


def new_batch_end(rows: int, batch: int) -> dt.datetime:
    """The newest timestamp of a batch of ``batch`` events arriving at the history's rate."""
    return BASE_END + SPAN * (batch / rows)


def _events_sql(first_id: int, count: int, total: int, t0: dt.datetime, span_s: float) -> str:
    """SELECT producing ``count`` events with ids first_id.., times spread over span_s."""

    # u(salt): a uniform [0, 1) draw per row and salt. Times rise with the id, with up to
    # 5 minutes of jitter so the log is nearly, not perfectly, ordered (as real logs are).
    def u(salt: str) -> str:
        return f"(hash(i, '{salt}') % 1000000007) / 1000000007.0"

    metric_list = ", ".join(f"'{m}'" for m in METRICS)
    # Skewed metric mix: the first metrics are far more common than the last ones.
    metric = f"[{metric_list}][1 + CAST(floor(pow({u('m')}, 2) * {len(METRICS)}) AS INTEGER)]"
    return f"""
        SELECT
            i AS event_id,
            1 + CAST(floor(pow({u("c")}, 1.5) * $customers) AS BIGINT) AS customer_id,
            TIMESTAMP '{t0:%Y-%m-%d %H:%M:%S}'
                + to_microseconds(CAST(((i - {first_id}) * {span_s} / {count}
                    - {u("j")} * 300) * 1e6 AS BIGINT)) AS ts,
            {metric} AS metric_name,
            round(exp({u("v")} * 6), 3) AS value,
            CAST(round({u("a")} * 500, 2) AS DECIMAL(12, 2)) AS amount
        FROM range({first_id}, {first_id + count}) AS r(i)
    """  # noqa: S608 - numbers only, built here


def generate(path: str, rows: int, customers: int) -> dict[str, object]:
    """Create the base database at ``path``; returns the facts the cases need.

    Tables: ``events`` (rows), ``new_events`` (1% more, after BASE_END),
    ``customers`` (customers), ``customer_updates`` (10% changed + 1% new customers).
    """
    batch = max(1, rows // 100)
    span_s = SPAN.total_seconds()
    con = duckdb.connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        params = {"customers": customers}
        con.execute(
            f"CREATE TABLE events AS {_events_sql(1, rows, rows, START, span_s)} ORDER BY i",
            params,
        )
        batch_span = (new_batch_end(rows, batch) - BASE_END).total_seconds()
        con.execute(
            f"CREATE TABLE new_events AS "
            f"{_events_sql(rows + 1, batch, rows, BASE_END, batch_span)} ORDER BY i",
            params,
        )
        # Jitter may put a new event before BASE_END; new events are new, so clamp them.
        con.execute(
            "UPDATE new_events SET ts = greatest(ts, $s + INTERVAL 1 second)", {"s": BASE_END}
        )
        con.execute(
            """
            CREATE TABLE customers AS
            SELECT
                i AS customer_id,
                'customer ' || i AS name,
                'c' || i || '@example.com' AS email,
                ['Berlin', 'Paris', 'Lagos', 'Lima', 'Osaka', 'Pune', 'Denver']
                    [1 + CAST(hash(i, 'city') % 7 AS BIGINT)] AS city,
                ['free', 'pro', 'team', 'enterprise']
                    [1 + CAST(hash(i, 'seg') % 4 AS BIGINT)] AS segment,
                CAST((hash(i, 'ltv') % 1000000) / 100.0 AS DECIMAL(12, 2)) AS lifetime_value,
                TIMESTAMP '2024-06-01'
                    + to_microseconds(CAST(hash(i, 'u') % 15552000 AS BIGINT) * 1000000)
                    AS updated_at
            FROM range(1, $customers + 1) AS r(i)
            ORDER BY i
            """,
            params,
        )
        # 10% of the customers changed (every tenth id, as a hash picks them) and 1% new ones.
        con.execute(
            """
            CREATE TABLE customer_updates AS
            SELECT customer_id, name, 'new.' || email AS email, 'Nairobi' AS city,
                   'enterprise' AS segment,
                   CAST(lifetime_value + 1 AS DECIMAL(12, 2)) AS lifetime_value,
                   TIMESTAMP '2025-04-01' AS updated_at
            FROM customers WHERE hash(customer_id, 'chg') % 10 = 0
            UNION ALL
            SELECT i, 'customer ' || i, 'c' || i || '@example.com', 'Quito', 'free',
                   CAST(0 AS DECIMAL(12, 2)), TIMESTAMP '2025-04-01'
            FROM range($customers + 1, $customers + 1 + $customers // 100) AS r(i)
            """,
            params,
        )
        facts = {
            "rows": rows,
            "customers": customers,
            "batch": batch,
            "updates": con.execute("SELECT count(*) FROM customer_updates").fetchone()[0],
            "base_max_ts": con.execute("SELECT max(ts) FROM events").fetchone()[0],
            "new_max_ts": con.execute("SELECT max(ts) FROM new_events").fetchone()[0],
        }
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return facts
