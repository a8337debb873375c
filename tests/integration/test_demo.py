"""`make demo` runs the quickstart notebook end to end and shows what it built."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_builds_the_quickstart_tables(tmp_path, capsys):
    import subprocess
    import sys

    db = tmp_path / "warehouse.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "sqlflow_magic.demo", str(ROOT / "notebooks/01_quickstart.ipynb"),
         "--db", str(db)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "what it built" in done.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        runs = con.execute("SELECT count(*) FROM sqlflow.runs WHERE status = 'success'").fetchone()
    assert {"daily_sales", "audit_log", "customer_profiles", "hourly_metrics"} <= tables
    assert runs[0] >= 6
