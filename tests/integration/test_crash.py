"""A killed kernel leaves a transform's target exactly as before or exactly as after.

SPEC section 3, "Atomic": a run commits data, watermark and run record in one
transaction; if the kernel is killed, the table and its watermark are as before and no
successful run is recorded.

Each test builds a database file with plain DuckDB and one uninterrupted first run,
then runs a second, multi-million-row transform in a child process (crash_child.py) and
SIGKILLs it at spread-out moments: during start-up, right after the file is open, through
the run, near the commit and after it. After every kill the file is reopened with plain
DuckDB and compared with checksums of the expected old and new tables, which are built
here by plain SQL from the same generators (never from sqlflow's output). Then the run is
repeated to completion and must give the new state.

Set SQLFLOW_CRASH_SEED to replay a failing sequence of kill moments.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("crash_child.py")

# -- the data, as plain SQL generators -------------------------------------------------

CUSTOMERS = 1_500_000
# The first run's batch: every customer once.
UPSERT_FIRST = f"""
SELECT i AS id, 'name_' || i AS name, (i * 7919) % 100000 AS score,
       TIMESTAMP '2025-01-01' + to_seconds(i % 86400) AS updated_at
FROM range({CUSTOMERS}) t(i)"""
# The second run's batch: half of it updates existing ids, half inserts new ones.
UPSERT_SECOND = f"""
SELECT i * 2 AS id, 'upd_' || i AS name, (i * 31) % 1000 AS score,
       TIMESTAMP '2025-02-01' + to_seconds(i % 86400) AS updated_at
FROM range({CUSTOMERS // 4}, {CUSTOMERS // 4 + CUSTOMERS // 2}) t(i)"""
UPSERT_CHECKSUM = "SELECT count(*), sum(hash(id, name, score, updated_at)) FROM ({})"

END_1 = "2025-03-11 00:00:00"
END_2 = "2025-03-13 00:00:00"
# Events known at the first run: ten days up to END_1, and six hours past it (future rows
# the first window leaves out).
EVENTS_FIRST = """
SELECT i AS id,
       TIMESTAMP '2025-03-01' + to_seconds((i * 7) % (10 * 86400 + 6 * 3600)) AS ts,
       i % 5000 AS user_id, (i * 13) % 1000 AS amount
FROM range(2000000) t(i)"""
# Events that arrive later: late ones down to 90 minutes before END_1 (inside the
# 2-hour LOOKBACK behind the first watermark, which is at most END_1), up to END_2.
EVENTS_SECOND = f"""
SELECT 10000000 + i AS id,
       TIMESTAMP '{END_1}' - INTERVAL 90 MINUTE
         + to_seconds(1 + (i * 13) % (5400 + 2 * 86400 - 1)) AS ts,
       i % 5000 AS user_id, (i * 17) % 1000 AS amount
FROM range(1200000) t(i)"""
EVENTS_TRANSFORMED = "SELECT id, ts, user_id, amount * 2 AS amount2 FROM ({}) WHERE ts <= '{}'"
EVENTS_CHECKSUM = "SELECT count(*), sum(hash(id, ts, user_id, amount2)), max(ts) FROM ({})"


@dataclass(frozen=True)
class Scenario:
    """One transform under test: its target and the expected states around run two."""

    which: str  # the crash_child.py cell
    target: str  # table name in main
    end: str | None  # --end of the second run
    old: tuple  # checksum (count, hash sum[, max time]) before the second run
    new: tuple  # ... and after it
    tables: frozenset[tuple[str, str]]  # (schema, table) of the user's tables
    state_tables: frozenset[tuple[str, str]] = frozenset()  # sqlflow's, after run one


def _plain(sql: str) -> tuple:
    with duckdb.connect(":memory:") as con:
        return con.execute(sql).fetchone()


def _child(db: Path, which: str, end: str | None, env: dict) -> subprocess.Popen:
    args = [sys.executable, str(CHILD), str(db), which] + ([end] if end else [])
    return subprocess.Popen(  # noqa: S603 - our own script
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _run_to_completion(db: Path, which: str, end: str | None, env: dict) -> dict[str, float]:
    """Run the child uninterrupted, watching the files.

    Returns its 'done' and 'closed' times (seconds after 'ready') and 'writing': from the
    first change of the database or WAL file to the cell's return, i.e. the run's writes
    and commit.
    """
    sizes = _sizes(db)
    with _child(db, which, end, env) as proc:
        first_change = None
        while proc.poll() is None:
            if first_change is None and _sizes(db) != sizes:
                first_change = time.perf_counter()
            time.sleep(0.001)
        exited = time.perf_counter()
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    times = {}
    for line in out.splitlines():
        word, _, value = line.partition(" ")
        if word in ("done", "closed"):
            times[word] = float(value)
    assert set(times) == {"done", "closed"}, out
    closing = times["closed"] - times["done"]
    times["writing"] = max(0.01, exited - (first_change or exited) - closing)
    return times


def _build(tmp_path: Path, which: str, env: dict) -> tuple[Path, Scenario]:
    """A database file just before run two, and what runs one and two must produce."""
    base = tmp_path / f"{which}_base.duckdb"
    if which == "upsert":
        with duckdb.connect(str(base)) as con:
            con.execute(f"CREATE TABLE customer_updates AS {UPSERT_FIRST}")
        _run_to_completion(base, which, None, env)
        with duckdb.connect(str(base)) as con:
            con.execute(f"CREATE OR REPLACE TABLE customer_updates AS {UPSERT_SECOND}")
        new_table = (
            f"SELECT * FROM ({UPSERT_FIRST}) WHERE id NOT IN (SELECT id FROM ({UPSERT_SECOND})) "
            f"UNION ALL {UPSERT_SECOND}"
        )
        scenario = Scenario(
            which, "customers", None,
            old=_plain(UPSERT_CHECKSUM.format(UPSERT_FIRST)),
            new=_plain(UPSERT_CHECKSUM.format(new_table)),
            tables=frozenset({("main", "customer_updates"), ("main", "customers")}),
        )  # fmt: skip
    else:
        with duckdb.connect(str(base)) as con:
            con.execute(f"CREATE TABLE events AS {EVENTS_FIRST}")
        _run_to_completion(base, which, END_1, env)
        with duckdb.connect(str(base)) as con:
            con.execute(f"INSERT INTO events {EVENTS_SECOND}")
        everything = f"{EVENTS_FIRST} UNION ALL {EVENTS_SECOND}"
        scenario = Scenario(
            which, "events_clean", END_2,
            old=_plain(EVENTS_CHECKSUM.format(EVENTS_TRANSFORMED.format(EVENTS_FIRST, END_1))),
            new=_plain(EVENTS_CHECKSUM.format(EVENTS_TRANSFORMED.format(everything, END_2))),
            tables=frozenset({("main", "events"), ("main", "events_clean")}),
        )  # fmt: skip
    assert scenario.old != scenario.new
    state = _observe(base, scenario)
    assert state["checksum"] == scenario.old, "the first, uninterrupted run is wrong"
    assert state["success"] == 1
    state_tables = frozenset(t for t in state["tables"] if t[0] == "sqlflow")
    assert {"transforms", "watermarks", "runs"} <= {t for _, t in state_tables}
    return base, dataclasses.replace(scenario, state_tables=state_tables)


def _observe(db: Path, sc: Scenario) -> dict:
    """What a plain DuckDB connection finds in the file (recovering its WAL first)."""
    with duckdb.connect(str(db)) as con:
        key = f"main.{sc.target}"
        if sc.which == "upsert":
            checksum = con.execute(UPSERT_CHECKSUM.format(sc.target)).fetchone()
            newest = None
        else:
            checksum = con.execute(EVENTS_CHECKSUM.format(sc.target)).fetchone()
            newest = checksum[2]
        watermarks = con.execute(
            "SELECT watermark FROM sqlflow.watermarks WHERE target = $t", {"t": key}
        ).fetchall()
        runs = dict(
            con.execute(
                "SELECT status, count(*) FROM sqlflow.runs WHERE target = $t GROUP BY ALL",
                {"t": key},
            ).fetchall()
        )
        transforms = con.execute(
            "SELECT count(*) FROM sqlflow.transforms WHERE target = $t", {"t": key}
        ).fetchone()[0]
        tables = set(
            con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            ).fetchall()
        )
    return {
        "checksum": checksum,
        "watermarks": [w[0] for w in watermarks],
        "newest": newest,
        "success": runs.pop("success", 0),
        "other_runs": runs,
        "transforms": transforms,
        "tables": tables,
    }


def _check_consistent(state: dict, sc: Scenario, context: str) -> str:
    """Assert the file holds exactly the old or the new state; return which."""
    assert state["checksum"] in (sc.old, sc.new), f"{context}: a half-written target {state}"
    which = "old" if state["checksum"] == sc.old else "new"
    expected = sc.old if which == "old" else sc.new
    assert state["success"] == (1 if which == "old" else 2), (
        f"{context}: target is {which} but {state['success']} successful runs are recorded"
    )
    assert state["other_runs"] == {}, f"{context}: unexpected run records {state}"
    assert state["transforms"] == 1, context
    # No table appears or goes (temporary batches die with the process).
    assert state["tables"] == sc.tables | sc.state_tables, f"{context}: {state['tables']}"
    if sc.which == "incremental":
        assert state["watermarks"] == [state["newest"]], (
            f"{context}: watermark {state['watermarks']} but max(ts) is {state['newest']}"
        )
        assert state["newest"] == expected[2], context
    else:
        assert state["watermarks"] == [], context
    return which


def _kill_plan(rng: random.Random, startup: float) -> list[tuple[str, str | None, float]]:
    """Kill moments: (label, trigger, delay after the trigger).

    Triggers: None is the spawn; "ready" is the child's line after opening the file
    ("during" delays are fractions of the run's measured duration, see the test);
    "write" is the first change of the database or WAL file, i.e. the run's writes
    and commit (delays are fractions of how long those take); "done" is the cell's
    return.
    """
    plan: list[tuple[str, str | None, float]] = [
        ("startup", None, rng.uniform(0.05, max(0.1, startup * 0.8))),
        ("ready", "ready", 0.0),
    ]
    strata = 5  # evenly through the run, one random moment per stratum
    for i in range(strata):
        plan.append(("during", "ready", rng.uniform(0.9 * i / strata, 0.9 * (i + 1) / strata)))
    for lo, hi in ((0.0, 0.3), (0.3, 0.6), (0.6, 0.85), (0.85, 1.05)):
        plan.append(("near commit", "write", rng.uniform(lo, hi)))
    plan.append(("after done", "done", rng.uniform(0.0, 0.05)))
    return plan


def _sizes(db: Path) -> tuple[int, int]:
    wal = db.with_name(db.name + ".wal")
    return db.stat().st_size, (wal.stat().st_size if wal.exists() else -1)


def _kill_at(db: Path, sc: Scenario, trigger: str | None, delay: float, env: dict) -> bool:
    """Start run two and SIGKILL it ``delay`` seconds after ``trigger`` (see _kill_plan).

    Returns whether the cell had returned (printed 'done') before the kill.
    """
    sizes = _sizes(db)
    with _child(db, sc.which, sc.end, env) as proc:
        seen: list[str] = []
        wait_for = {None: None, "write": "ready"}.get(trigger, trigger)
        while wait_for is not None:
            line = proc.stdout.readline()
            assert line, f"the child ended before {wait_for!r}: {''.join(seen)}"
            seen.append(line)
            if line.split(" ")[0].strip() == wait_for:
                break
        while trigger == "write" and proc.poll() is None and _sizes(db) == sizes:
            time.sleep(0.001)
        time.sleep(delay)
        proc.kill()  # SIGKILL on POSIX
        out, _ = proc.communicate(timeout=60)
    return any(line.startswith("done") for line in seen + out.splitlines())


@pytest.mark.parametrize("which", ["upsert", "incremental"])
def test_killed_run_leaves_old_or_new_state(tmp_path, which):
    seed = int(os.environ.get("SQLFLOW_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    env = dict(os.environ, IPYTHONDIR=str(tmp_path / "ipython"))
    base, sc = _build(tmp_path, which, env)

    # One uninterrupted run two: the reference for the kill moments and for re-runs.
    reference = tmp_path / "reference.duckdb"
    shutil.copyfile(base, reference)
    spawned = time.perf_counter()
    times = _run_to_completion(reference, which, sc.end, env)
    startup = max(0.1, time.perf_counter() - spawned - times["closed"])
    assert _check_consistent(_observe(reference, sc), sc, "uninterrupted run") == "new"
    # Full runs vary a lot on a shared 2-core machine, so kill moments are fractions of
    # the median of every full run so far (the reference and each re-run from old state).
    durations, writing = [times["done"]], [times["writing"]]

    outcomes = []
    for n, (label, trigger, delay) in enumerate(_kill_plan(rng, startup)):
        if label == "during":
            delay *= statistics.median(durations)
        elif label == "near commit":
            delay *= statistics.median(writing)
        context = f"seed {seed}, kill {n} ({label}, {delay:.3f}s)"
        work = tmp_path / f"kill{n}.duckdb"
        shutil.copyfile(base, work)
        returned = _kill_at(work, sc, trigger, delay, env)
        found = _check_consistent(_observe(work, sc), sc, context)
        outcomes.append((label, round(delay, 3), found))
        if label in ("startup", "ready"):
            assert found == "old", f"{context}: the run had not started"
        if returned:
            assert found == "new", f"{context}: the cell returned, so the run committed"

        # Running it again after the crash gives what an uninterrupted run gives.
        rerun = _run_to_completion(work, which, sc.end, env)
        if found == "old":
            durations.append(rerun["done"])
            writing.append(rerun["writing"])
        again = _observe(work, sc)
        assert again["checksum"] == sc.new, f"{context}: re-run after the kill differs"
        assert again["success"] == (2 if found == "old" else 3), context
        if which == "incremental":
            assert again["watermarks"] == [sc.new[2]] == [again["newest"]], context
        for leftover in (work, work.with_name(work.name + ".wal")):
            leftover.unlink(missing_ok=True)

    print(f"\n{which}: seed {seed}, full runs {durations}, writes {writing}; kills: {outcomes}")
    assert {o[2] for o in outcomes} == {"old", "new"}
    for leftover in (base, reference):
        leftover.unlink()
