"""The status, history and metrics views and the run progress bar, as a user sees them in
JupyterLab (issue 4).

A notebook of our own runs in a live lab in headless Chromium (fixtures in conftest.py: a
missing Chromium fails, never skips). It calls the view and progress functions directly,
so it needs no wiring in the magics. Checks: the views render with their theme colours,
the history draws its charts, a slow run shows the bar and the bar turns into the summary
(in the page and in the saved file), a fast run shows nothing, and the stop button
interrupts a long DuckDB statement at once. Screenshots go to test-artifacts/widgets-*.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from lab_page import open_notebook
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

NAME = "sqlflow_views.ipynb"
CELL_TIMEOUT_MS = 120_000

SETUP = """\
%load_ext sqlflow_magic
import time
import pandas as pd
from sqlflow_magic.magic import active_magics
from sqlflow_magic.render.progress import RunProgress
from sqlflow_magic.render.views import HistoryView, MetricsView, StatusView
from sqlflow_magic.state import views as state_views
con = active_magics().session.connection()
sql = lambda cell: get_ipython().run_cell_magic("sqlflow", "", cell)"""

RUNS = """\
sql("CREATE TABLE events AS SELECT TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i) MINUTE AS ts, "
    "i % 3 AS sensor, (i % 17)::DOUBLE AS value FROM range(180) t(i)")
hourly = ("CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS "
          "SELECT date_trunc('hour', ts) AS hour, sensor, AVG(value) AS avg_value FROM events "
          "WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL")
for k in range(4):
    sql(f"INSERT INTO events SELECT TIMESTAMP '2024-05-01 03:00:00' + INTERVAL ({k * 60} + i) "
        f"MINUTE, i % 3, 1.0 FROM range({20 + 15 * k}) t(i)")
    sql(hourly)
sql("CREATE TABLE profiles MODE UPSERT KEY (sensor) AS SELECT sensor, count(*) AS n "
    "FROM events GROUP BY sensor")
try:
    sql("CREATE TABLE profiles MODE UPSERT KEY (sensor) AS SELECT sensor FROM eventz")
except Exception as err:
    print(type(err).__name__)
_ = sql("CREATE TABLE live_feed MODE INCREMENTAL BY ts AS "
        "SELECT now()::TIMESTAMP - INTERVAL 20 MINUTE AS ts, 1 AS n")"""

STATUS = "StatusView(state_views.status_frame(con))"
HISTORY = "HistoryView(state_views.history_frame(con, 'hourly'), 'hourly')"
METRICS = """\
MetricsView(pd.DataFrame({
    "metric": ["sqlflow_runs_total", "sqlflow_runs_total", "sqlflow_watermark_lag_seconds"],
    "labels": ["target=main.hourly, mode=INCREMENTAL, status=success",
               "target=main.profiles, mode=UPSERT, status=failed", "target=main.hourly"],
    "value": [5.0, 1.0, 80812345.2],
}))"""
# A slow run whose length does not depend on the machine: Python sleeps inside the block.
SLOW = """\
with RunProgress(con, "main.slow REPLACE", delay=0.3) as progress:
    time.sleep(2.5)
    progress.finish("main.slow REPLACE: success, 7 rows in, 7 inserted in 2.500s")"""
FAST = """\
with RunProgress(con, "main.quick REPLACE") as progress:
    sql("CREATE TABLE quick MODE REPLACE AS SELECT 1 AS x")
    progress.finish("main.quick REPLACE: success")
print("fast run done")"""
# DuckDB would need hours for this; the stop button must end it within seconds.
LONG = """\
with RunProgress(con, "main.big REPLACE", delay=0.3):
    sql("CREATE TABLE big MODE REPLACE AS SELECT sum(i % 7) AS s FROM range(3000000000000) t(i)")"""
AFTER = "print(con.execute('SELECT count(*) FROM sqlflow.runs WHERE status = $s', "
AFTER += "{'s': 'failed'}).fetchone()[0], 'failed runs')"

CELLS = [SETUP, RUNS, STATUS, HISTORY, METRICS, SLOW, FAST, LONG, AFTER]


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _start(page: Page, cell: Locator) -> None:
    cell.locator(".cm-content").click()
    expect(cell.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"))
    page.keyboard.press("Control+Enter")


def _run(page: Page, cell: Locator) -> Locator:
    _start(page, cell)
    _done(cell)
    return cell.locator(".jp-OutputArea-output")


def _done(cell: Locator, timeout: int = CELL_TIMEOUT_MS) -> None:
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(
        re.compile(r"\[\d+\]"), timeout=timeout
    )


def _shot(target: Locator, name: str) -> None:
    target.scroll_into_view_if_needed()
    target.screenshot(path=str(ARTIFACTS / f"widgets-{name}.png"))


def _background(el: Locator) -> str:
    return el.evaluate("e => getComputedStyle(e).backgroundColor")


def test_views_and_progress_render_in_lab(lab, page: Page):
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    lab.add_notebook(name=NAME, nb=_notebook())
    nb = open_notebook(page, lab, NAME, "views")
    cells = nb.locator(".jp-CodeCell")
    _run(page, cells.nth(0))
    expect(_run(page, cells.nth(1))).to_contain_text("DatabaseError")

    # status: one row per transform, the lag as a coloured chip
    status = _run(page, cells.nth(2)).locator(".sqlflow-view")
    expect(status.locator(".sqlflow-title")).to_have_text("sqlflow status")
    expect(status.locator("table.sqlflow-table tbody tr")).to_have_count(3)
    stale = status.locator("tbody .sqlflow-chip.sqlflow-lag-stale")
    fresh = status.locator("tbody .sqlflow-chip.sqlflow-lag-fresh")
    expect(stale).to_have_count(1)
    expect(fresh).to_have_count(1)
    expect(stale).to_have_text(re.compile(r"^\d+ days \d\d:\d\d:\d\d$"))
    assert _background(stale) not in ("rgba(0, 0, 0, 0)", _background(fresh))  # styled
    expect(status.locator("tbody .sqlflow-status-failed")).to_have_text("failed")
    _shot(status, "status")

    # history of one target: two charts (duration, rows) and a row per run
    history = _run(page, cells.nth(3)).locator(".sqlflow-view")
    expect(history.locator("svg.sqlflow-chart")).to_have_count(2)
    bars = history.locator("svg.sqlflow-chart").first.locator("rect.sqlflow-bar")
    expect(bars).to_have_count(4)  # one per run of hourly
    expect(history.locator("table.sqlflow-table tbody tr")).to_have_count(4)
    box = history.locator("svg.sqlflow-chart").first.bounding_box()
    assert box is not None
    assert box["width"] > 200
    assert box["height"] > 40
    _shot(history, "history")

    metrics = _run(page, cells.nth(4)).locator(".sqlflow-view")
    expect(metrics.locator("tbody tr")).to_have_count(3)
    expect(metrics.locator("tbody tr").nth(2)).to_contain_text("935 days")
    _shot(metrics, "metrics")

    # a slow run: nothing at first, the bar after the delay, then the one-line summary
    slow = cells.nth(5)
    _start(page, slow)
    bar = slow.locator(".sqlflow-progress .widget-hprogress")
    expect(bar).to_be_visible(timeout=20_000)
    expect(slow.locator(".sqlflow-progress-text")).to_contain_text(re.compile(r"\d+\.\d s"))
    _shot(slow, "progress")
    _done(slow)
    expect(slow.locator(".jp-OutputArea-output")).to_have_text(
        "✓ main.slow REPLACE: success, 7 rows in, 7 inserted in 2.500s"
    )
    expect(bar).to_have_count(0)

    # a fast run shows no bar, not even for a moment: only the cell's own print
    fast = _run(page, cells.nth(6))
    expect(fast).to_have_count(1)
    expect(fast).to_have_text("fast run done")

    # a long DuckDB statement: the bar follows DuckDB's progress; the stop button ends it
    long = cells.nth(7)
    _start(page, long)
    expect(long.locator(".sqlflow-progress-text")).to_contain_text(
        re.compile(r"\d+% · "), timeout=20_000
    )
    pressed = time.monotonic()
    nb.locator("[data-command='notebook:interrupt-kernel']").first.click()
    _done(long, timeout=30_000)
    assert time.monotonic() - pressed < 15
    outputs = long.locator(".jp-OutputArea-output")
    expect(outputs.first).to_contain_text("✗ main.big REPLACE: interrupted after")
    expect(long.locator(".jp-OutputArea")).to_contain_text("the run was interrupted")
    expect(_run(page, cells.nth(8))).to_have_text("2 failed runs")  # recorded, as any failure
    page.screenshot(path=str(ARTIFACTS / "widgets-page.png"))

    # the saved notebook keeps text and HTML: no widget model that would be gone on reopen
    page.keyboard.press("Control+s")
    saved = _saved_outputs(lab)
    assert saved[5] == [
        {
            "text/plain": "✓ main.slow REPLACE: success, 7 rows in, 7 inserted in 2.500s",
            "html": True,
        }
    ]
    assert all("application/vnd.jupyter.widget-view+json" not in o for c in saved for o in c)
    assert problems == []


def _saved_outputs(lab) -> list[list[dict]]:
    """Per code cell, the saved outputs' text/plain (and whether HTML came with it)."""
    deadline = time.monotonic() + 20
    while True:
        nb = nbformat.read(lab.root / NAME, as_version=4)
        if all(c.execution_count for c in nb.cells):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"{NAME} was not saved with its outputs")
        time.sleep(0.3)
    cells = []
    for cell in nb.cells:
        outs = []
        for out in cell.outputs:
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                outs.append(dict(data))
            elif data:
                outs.append({"text/plain": data.get("text/plain"), "html": "text/html" in data})
        cells.append(outs)
    return cells
