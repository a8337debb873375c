"""Runs started from several threads of one kernel: no crash, no interleaved half-runs."""

from __future__ import annotations

import threading

from sqlflow_magic.magic import active_magics
from sqlflow_magic.runner import run_transform
from sqlflow_magic.syntax.parse import parse_cell
from sqlflow_magic.syntax.source import CellSource


def run_cell_in_thread(cell: str, errors: list) -> None:
    session = active_magics().session
    (spec,) = parse_cell(cell)
    try:
        run_transform(spec, session, {}, CellSource(cell))
    except Exception as err:  # collected and asserted on by the test
        errors.append(err)


def test_threads_on_many_targets_and_on_one_target(ip, con):
    con.execute("CREATE TABLE src AS SELECT range AS id, range % 97 AS g FROM range(200000)")
    cells = []
    for t in range(4):  # four targets, each appended to by its own thread 5 times
        cells += [(t, f"CREATE TABLE tgt_{t} MODE APPEND AS SELECT * FROM src WHERE g = {t}")] * 5
    # and three threads racing on one UPSERT target with disjoint batches
    cells += [(9, f"CREATE TABLE shared MODE UPSERT KEY (id) AS SELECT id, g FROM src "
                  f"WHERE id % 3 = {k}") for k in range(3)]  # fmt: skip
    errors: list = []
    threads = [threading.Thread(target=run_cell_in_thread, args=(c, errors)) for _, c in cells]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors
    for t in range(4):
        expected = con.execute(f"SELECT count(*) * 5 FROM src WHERE g = {t}").fetchone()[0]
        assert con.execute(f"SELECT count(*) FROM tgt_{t}").fetchone()[0] == expected
    assert (
        con.execute(
            "SELECT count(*) FROM ((SELECT id, g FROM shared EXCEPT SELECT id, g FROM src) "
            "UNION ALL (SELECT id, g FROM src EXCEPT SELECT id, g FROM shared))"
        ).fetchone()[0]
        == 0
    )
    runs = con.execute("SELECT status, count(*) FROM sqlflow.runs GROUP BY ALL").fetchall()
    assert runs == [("success", len(cells))]
