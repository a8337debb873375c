"""Run one ``%%sqlflow`` transform on a database file, as a kernel would; test_crash kills it.

Usage: python crash_child.py DB_PATH {upsert,incremental} [END]

Prints ``ready`` once the database is open (the parent times its kill from that line),
``done <seconds>`` when the cell has returned, and ``closed`` after the connection is
closed. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import shlex
import sys
import time

CELLS = {
    "upsert": (
        "CREATE TABLE customers MODE UPSERT KEY (id) AS\n"
        "SELECT id, name, score, updated_at FROM customer_updates"
    ),
    "incremental": (
        "CREATE TABLE events_clean MODE INCREMENTAL BY ts LOOKBACK '2 hours' AS\n"
        "SELECT id, ts, user_id, amount * 2 AS amount2 FROM events\n"
        "WHERE ts > @start_dt AND ts <= @end_dt"
    ),
}


def main(argv: list[str]) -> int:
    db, which = argv[1], argv[2]
    end = argv[3] if len(argv) > 3 else None
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlflow_magic")
    ip.run_line_magic("sqlflow", f"connect {shlex.quote(db)}")
    print("ready", flush=True)
    started = time.perf_counter()
    line = f"--end {shlex.quote(end)}" if end else ""
    ip.run_cell_magic("sqlflow", line, CELLS[which])
    print(f"done {time.perf_counter() - started:.3f}", flush=True)
    ip.run_line_magic("unload_ext", "sqlflow_magic")  # closes (and checkpoints) the file
    print(f"closed {time.perf_counter() - started:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
