"""Benchmark: the automatic quality profile against the work it rides along with.

Run it from the repository root (it needs the package installed, e.g. ``make setup``)::

    python bench/quality.py                         # 10M orders, 5 repeats
    python bench/quality.py --rows 1000000 --json bench-quality-1m.json
    python bench/quality.py --data /tmp/q.duckdb     # keep the data for the next run

It generates reproducible data in a DuckDB *file*: ``orders`` (``--rows`` rows of many
column kinds: BIGINT keys, a ``customer_id`` referencing ``customers``, emails and IPv4
addresses as text with a few invalid ones, a numbers-as-text column, DECIMAL and DOUBLE
measures with outliers, TIMESTAMP/DATE pairs, a BOOLEAN, a mostly-NULL note),
``customers`` (``rows / 10``) and ``new_orders``, a 1% batch of the next orders.

Cases (medians of ``--repeat`` runs after one warm-up; targets from issue 3):

  table    ``SUMMARIZE orders`` vs ``profile_relation(..., full=True)`` of the whole
           table, what ``%sqlflow quality TABLE`` runs (target: profile / SUMMARIZE <= 2)
  batch    the profile of a 1% batch inside the run's transaction, as the runner's
           APPEND profiles it (the rows the transaction appended, read in the target:
           ``engine.appended_rows``), vs the run's own work for that batch: BEGIN;
           INSERT it BY NAME; record the run; COMMIT (target: profile / run <= 10%).
           After each repeat the batch is deleted again and the database CHECKPOINTed,
           so every repeat does the same work. Like a kernel's runs, the repeats share
           what the first one recognised text columns as (``quality.recognised``) and
           the statements it parsed (``engine.parsed``); profile_first_s is that first,
           warm-up profile. The CPU column is process CPU time (every thread), steadier
           than wall time on a busy machine; the run's own work waits on its commit, the
           profile does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from sqlflow_magic.engine.base import Query, TableRef
from sqlflow_magic.engine.duckdb import DuckDBEngine
from sqlflow_magic.quality.profile import profile_relation

TABLE_LIMIT = 2.0
BATCH_LIMIT = 0.10
# The orders span 90 days from 2025-01-01, the 1% batch 0.9 days more; shipping takes up
# to 3 days. "Now" is after the last shipment, so nothing is in the future.
NOW = dt.datetime(2025, 4, 5)


def _orders_sql(first: int, count: int, rows: int, customers: int) -> str:
    """``count`` orders with ids from ``first``; every value derived from hash(id).

    Order times rise with the id over 90 days per ``rows`` orders, so a batch with ids
    after ``rows`` is the next stretch of time.
    """

    def u(salt: str) -> str:  # a uniform [0, 1) draw per row and salt
        return f"((hash(i, '{salt}') % 1000000007) / 1000000007.0)"

    return f"""
        SELECT
            i AS order_id,
            1 + CAST(floor(pow({u("c")}, 1.5) * {customers}) AS BIGINT) AS customer_id,
            CASE WHEN {u("e")} < 0.005 THEN 'user' || i || '@example'
                 ELSE 'user' || i || '@example.com' END AS email,
            ['DE', 'FR', 'US', 'NG', 'PE', 'JP', 'IN'][1 + CAST(hash(i, 'k') % 7 AS BIGINT)]
                AS country_code,
            ['new', 'paid', 'shipped', 'returned'][1 + CAST(hash(i, 's') % 4 AS BIGINT)]
                AS status,
            CAST(round({u("a")} * 500, 2) AS DECIMAL(12, 2)) AS amount,
            CASE WHEN {u("o")} < 0.001 THEN 1e6 ELSE round(50 + 10 * {u("v")}, 3) END
                AS weight_g,
            CASE WHEN {u("q")} < 0.002 THEN 'n/a' ELSE CAST(1 + hash(i, 'q') % 9 AS VARCHAR)
                END AS qty_text,
            TIMESTAMP '2025-01-01' + to_microseconds(CAST(i * 7776e9 / {rows} AS BIGINT))
                AS created_at,
            TIMESTAMP '2025-01-01' + to_microseconds(CAST(i * 7776e9 / {rows} AS BIGINT))
                + to_hours(CAST(hash(i, 'h') % 72 AS BIGINT)) AS shipped_at,
            DATE '2025-01-01' + CAST(i * 90 // {rows} AS INTEGER) AS order_date,
            hash(i, 'g') % 10 = 0 AS is_gift,
            CASE WHEN hash(i, 'n') % 10 < 7 THEN NULL ELSE 'note ' || (hash(i, 'n') % 100) END
                AS note,
            (hash(i, 'p1') % 256) || '.' || (hash(i, 'p2') % 256) || '.'
                || (hash(i, 'p3') % 256) || '.' || (hash(i, 'p4') % 257) AS client_ip
        FROM range({first}, {first + count}) AS r(i)
    """  # noqa: S608 - numbers only, built here


def generate(path: str, rows: int) -> dict[str, int]:
    """Create ``orders``, ``customers`` and the 1% batch ``new_orders`` at ``path``."""
    customers, batch = max(1, rows // 10), max(1, rows // 100)
    with duckdb.connect(path) as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"CREATE TABLE orders AS {_orders_sql(1, rows, rows, customers)} ORDER BY i")
        con.execute(
            f"CREATE TABLE new_orders AS {_orders_sql(rows + 1, batch, rows, customers)} ORDER BY i"
        )
        con.execute(
            "CREATE TABLE customers AS SELECT i AS customer_id, 'customer ' || i AS name "
            f"FROM range(1, {customers} + 1) AS r(i)"
        )
        con.execute(
            "CREATE SCHEMA bench_state; CREATE TABLE bench_state.runs (run_id VARCHAR, "
            "target VARCHAR, rows_inserted BIGINT, finished_at TIMESTAMP)"
        )
        con.execute("CHECKPOINT")
    return {"rows": rows, "customers": customers, "batch": batch}


def _target(con: duckdb.DuckDBPyConnection) -> TableRef:
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    return TableRef(catalog, "main", "orders", exists=True)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_pair(first, second, repeat: int) -> tuple[float, float]:
    """Medians of ``repeat`` timings of two functions, alternating which goes first."""
    first(), second()  # warm-up: caches and lazy imports on both sides
    a, b = [], []
    for i in range(repeat):
        if i % 2:
            b.append(_timed(second))
            a.append(_timed(first))
        else:
            a.append(_timed(first))
            b.append(_timed(second))
    return statistics.median(a), statistics.median(b)


def bench_table(con: duckdb.DuckDBPyConnection, repeat: int, rows: int) -> dict[str, object]:
    """SUMMARIZE vs the whole-table profile."""
    target = _target(con)
    summarize_s, profile_s = _median_pair(
        lambda: con.execute("SUMMARIZE orders").fetchall(),
        lambda: profile_relation(
            con, "SELECT * FROM main.orders", target=target, now=NOW, full=True
        ),
        repeat,
    )
    ratio = profile_s / summarize_s
    return {"case": "table", "profile_s": profile_s, "baseline": "SUMMARIZE",
            "baseline_s": summarize_s, "ratio": ratio, "target": f"<= {TABLE_LIMIT:g}x",
            "ok": ratio <= TABLE_LIMIT}  # fmt: skip


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def bench_batch(con: duckdb.DuckDBPyConnection, repeat: int, rows: int) -> dict[str, object]:
    """The run's own work for a 1% batch vs the profile of that batch (wall and CPU)."""
    target = _target(con)
    run, profile, run_cpu, profile_cpu = [], [], [], []
    kinds = {}  # in a kernel: the session's RecognisedKinds.of(target, definition)
    engine = DuckDBEngine(con)
    names = [c.name for c in engine.query_columns(Query("SELECT * FROM new_orders"))]

    def one() -> None:
        start, cpu = time.perf_counter(), _cpu()
        con.execute("BEGIN TRANSACTION")
        # As the runner's APPEND: the rows the transaction appends, read where they land.
        written = engine.appended_rows(target, names)
        added = con.execute("INSERT INTO orders BY NAME SELECT * FROM new_orders").fetchall()
        p_start, p_cpu = time.perf_counter(), _cpu()
        profile_relation(con, written.sql, keys=("order_id",), time_columns=("created_at",),
                         target=target, now=NOW, kinds=kinds)  # fmt: skip
        profile.append(time.perf_counter() - p_start)
        profile_cpu.append(_cpu() - p_cpu)
        con.execute(
            "INSERT INTO bench_state.runs VALUES ('bench', 'main.orders', $n, now())",
            {"n": added[0][0]},
        )
        con.execute("COMMIT")
        run.append(time.perf_counter() - start - profile[-1])
        run_cpu.append(_cpu() - cpu - profile_cpu[-1])
        con.execute(f"DELETE FROM orders WHERE order_id > {rows}")
        con.execute("DELETE FROM bench_state.runs")
        con.execute("CHECKPOINT")

    one()  # warm-up
    first = profile[0]
    for series in (run, profile, run_cpu, profile_cpu):
        series.clear()
    for _ in range(repeat):
        one()
    med = statistics.median
    ratio = med(profile) / med(run)
    return {"case": "batch", "profile_s": med(profile), "baseline": "the run's own work",
            "baseline_s": med(run), "ratio": ratio, "target": f"<= {BATCH_LIMIT:.0%}",
            "ok": ratio <= BATCH_LIMIT, "profile_cpu_s": med(profile_cpu),
            "baseline_cpu_s": med(run_cpu),
            "cpu_ratio": med(profile_cpu) / med(run_cpu), "profile_first_s": first}  # fmt: skip


def _print(results: list[dict[str, object]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("case", "profile_s", "baseline", "baseline_s", "ratio", "target", "ok",
                "cpu: profile / baseline"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("case", "baseline", "target") else "right")
    for r in results:
        cpu = (f"{r['profile_cpu_s']:.3f} / {r['baseline_cpu_s']:.3f} = {r['cpu_ratio']:.3f}"
               if "cpu_ratio" in r else "")  # fmt: skip
        table.add_row(
            r["case"], f"{r['profile_s']:.3f}", r["baseline"], f"{r['baseline_s']:.3f}",
            f"{r['ratio']:.3f}", r["target"], "[green]yes[/]" if r["ok"] else "[red]NO[/]", cpu,
        )  # fmt: skip
    Console(width=max(Console().width, 100)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="orders (default 10M)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per case")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--cases", default="table,batch", help="comma-separated subset")
    parser.add_argument("--tmpdir", metavar="DIR", help="where the temp directory goes")
    parser.add_argument(
        "--data", metavar="FILE", help="reuse (or, when missing, generate and keep) this "
        "database file instead of a temporary one; it must hold --rows orders"
    )  # fmt: skip
    args = parser.parse_args(argv)
    workdir = None if args.data else tempfile.mkdtemp(prefix="sqlflow-bench-quality-",
                                                      dir=args.tmpdir)  # fmt: skip
    path = args.data or str(Path(workdir) / "bench.duckdb")
    cases = {"table": bench_table, "batch": bench_batch}
    try:
        if not Path(path).exists():
            t = time.perf_counter()
            facts = generate(path, args.rows)
            took = time.perf_counter() - t
            print(f"generated {args.rows:,} orders, {facts['customers']:,} customers, a batch "
                  f"of {facts['batch']:,} in {took:.1f} s", flush=True)  # fmt: skip
        with duckdb.connect(path) as con:
            con.execute("SET enable_progress_bar = false")
            results = [cases[name.strip()](con, args.repeat, args.rows)
                       for name in args.cases.split(",") if name.strip()]  # fmt: skip
    finally:
        if workdir is not None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    _print(results, f"quality profile: {args.rows:,} orders, median of {args.repeat}")
    if args.json:
        meta = {
            "rows": args.rows,
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "duckdb": duckdb.__version__,
            "load_average_at_end": list(os.getloadavg()),
        }
        Path(args.json).write_text(
            json.dumps([{**r, **meta} for r in results], indent=2, default=str) + "\n"
        )
        print(f"wrote {args.json}")
    failed = [r["case"] for r in results if not r["ok"]]
    if failed:
        print(f"over target: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
