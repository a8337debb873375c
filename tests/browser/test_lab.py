"""The JupyterLab extension in a live JupyterLab, driven by headless Chromium (issue 5).

The quickstart notebook runs top to bottom in the lab; then the checks: no error output,
widgets rendered, `%%sqlflow` cells highlighted as SQL with sqlflow's own words marked,
and the SQLFlow panel showing that kernel's transforms, watermarks and run history.
Screenshots go to test-artifacts/ (look at them: the panel is for analysts).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from lab_page import KERNEL_TIMEOUT_MS, open_notebook
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
RUN_ALL_TIMEOUT_MS = 240_000
TRANSFORM_RE = re.compile(
    r"CREATE\s+TABLE\s+((?:\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:\"[^\"]+\"|[\w$]+))*)\s+MODE\s+(\w+)",
    re.IGNORECASE,
)
UTC_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC$")


def _demo_notebook() -> dict:
    """A small notebook of our own: three modes, a second incremental run, known watermark."""
    cells = [
        "%load_ext sqlflow_magic",
        "%%sqlflow\n"
        "CREATE TABLE events AS\n"
        "SELECT TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i) MINUTE AS ts,\n"
        "       i % 3 AS sensor, (i % 17)::DOUBLE AS value\n"
        "FROM range(180) t(i)",
        "%%sqlflow\n"
        "CREATE TABLE hourly_metrics MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS\n"
        "SELECT date_trunc('hour', ts) AS hour, sensor, AVG(value) AS avg_value\n"
        "FROM events\n"
        "WHERE ts > @start_dt AND ts <= @end_dt\n"
        "GROUP BY ALL",
        "%%sqlflow\n"
        "CREATE TABLE sensor_profiles MODE UPSERT KEY (sensor) AS\n"
        "SELECT sensor, count(*) AS readings, max(ts) AS last_seen FROM events GROUP BY sensor",
        "%%sqlflow\n"
        "CREATE TABLE daily_totals MODE REPLACE AS\n"
        "SELECT ts::DATE AS day, SUM(value) AS total FROM events GROUP BY ALL",
        "%%sqlflow\n"
        "INSERT INTO events SELECT TIMESTAMP '2024-05-01 03:00:00' + INTERVAL (i) MINUTE,\n"
        "       i % 3, 1.0 FROM range(60) t(i);\n"
        "CREATE TABLE hourly_metrics MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS\n"
        "SELECT date_trunc('hour', ts) AS hour, sensor, AVG(value) AS avg_value\n"
        "FROM events\n"
        "WHERE ts > @start_dt AND ts <= @end_dt\n"
        "GROUP BY ALL",
        "%sqlflow status",
    ]
    return _new_notebook(cells)


def _new_notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _notebook_under_test(lab) -> tuple[str, bool]:
    """The quickstart tutorial when it exists, else our demo notebook; (name, is_demo)."""
    if QUICKSTART.exists():
        lab.add_notebook(QUICKSTART, name=QUICKSTART.name)
        return QUICKSTART.name, False
    lab.add_notebook(name="sqlflow_demo.ipynb", nb=_demo_notebook())
    return "sqlflow_demo.ipynb", True


# ---- helpers ------------------------------------------------------------------------------


def _menu(page: Page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def _open_panel(page: Page) -> Locator:
    tab = page.locator(".jp-SideBar.jp-mod-left li.lm-TabBar-tab[data-id='sqlflow-sidebar']")
    expect(tab).to_have_attribute("title", "SQLFlow")
    panel = page.locator("#sqlflow-sidebar")
    if not panel.is_visible():
        tab.click()
    expect(panel).to_be_visible()
    return panel


def _color(page: Page, css_var: str) -> str:
    """The computed colour a theme variable resolves to."""
    return page.evaluate(
        """v => { const e = document.createElement('span'); e.style.color = `var(${v})`;
                  document.body.appendChild(e); const c = getComputedStyle(e).color;
                  e.remove(); return c; }""",
        css_var,
    )


def _text_color(el: Locator) -> str:
    """The colour the text inside ``el`` is drawn in (its innermost element's)."""
    return el.evaluate(
        "e => { while (e.firstElementChild) e = e.firstElementChild;"
        " return getComputedStyle(e).color; }"
    )


def _saved(lab, name: str, n_code: int) -> nbformat.NotebookNode:
    """The notebook as saved on disk, once every code cell's execution count is in it."""
    deadline = time.monotonic() + 20
    while True:
        nb = nbformat.read(lab.root / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if len(code) == n_code and all(c.execution_count for c in code):
            return nb
        if time.monotonic() > deadline:
            pytest.fail(f"{name} was not saved with its outputs")
        time.sleep(0.3)


def _expected_transforms(nb: nbformat.NotebookNode) -> dict[str, str]:
    """{bare lower-case target name: MODE} of the notebook's %%sqlflow cells."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith("%%sqlflow"):
            for name, mode in TRANSFORM_RE.findall(cell.source):
                bare = re.split(r"\s*\.\s*", name)[-1].strip('"').lower()
                found[bare] = mode.upper()
    return found


def _bare(target: str) -> str:
    return target.split(".")[-1].strip('"').lower()


_TRUTH_CELL = '''\
import json as _json
from sqlflow_magic.magic import active_magics as _active
print(_json.dumps(_active().session.connection().execute("""
    WITH targets AS (SELECT target FROM sqlflow.transforms UNION SELECT target FROM sqlflow.runs)
    SELECT g.target,
           coalesce(t.mode, (SELECT any_value(mode) FROM sqlflow.runs r WHERE r.target = g.target)),
           strftime(w.watermark, '%Y-%m-%dT%H:%M:%S'),
           coalesce((SELECT list(status ORDER BY started_at DESC) FROM sqlflow.runs r
                     WHERE r.target = g.target), [])
    FROM targets g LEFT JOIN sqlflow.transforms t USING (target)
                   LEFT JOIN sqlflow.watermarks w USING (target)
""").fetchall()))'''


def _state_in_kernel(page: Page, nb: Locator) -> dict[str, tuple[str, str | None, list[str]]]:
    """{target: (mode, watermark ISO, run statuses newest first)}, from a cell added last."""
    cells = nb.locator(".jp-Notebook .jp-Cell")
    n = cells.count()
    cells.nth(n - 1).locator(".jp-InputArea-prompt").click()  # select it, in command mode
    page.keyboard.press("b")  # insert a cell below
    expect(cells).to_have_count(n + 1)
    cell = cells.nth(n)  # Shift+Enter adds another cell below: keep this one
    content = cell.locator(".cm-content")
    content.click()
    expect(cell.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"))
    page.keyboard.insert_text(_TRUTH_CELL)
    page.keyboard.press("Shift+Enter")
    out = cell.locator(".jp-OutputArea-output")
    expect(out).to_have_text(re.compile(r"^\[.*\]\s*$", re.S), timeout=30_000)
    return {t: (m, w, s) for t, m, w, s in json.loads(out.text_content())}


def _panel_time(text: str) -> str:
    """The panel's '2025-06-02 12:00 UTC' as '2025-06-02T12:00:00'."""
    stamp = text.removesuffix(" UTC").replace(" ", "T")
    return stamp if stamp.count(":") == 2 else stamp + ":00"


# ---- tests --------------------------------------------------------------------------------


def test_notebook_runs_in_lab_with_highlighting_and_panel(lab, page: Page):
    name, is_demo = _notebook_under_test(lab)
    source_nb = nbformat.read(lab.root / name, as_version=4)
    expected = _expected_transforms(source_nb)
    assert expected, f"{name} has no transform to show in the panel"

    nb = open_notebook(page, lab, name)
    code_cells = nb.locator(".jp-Notebook .jp-CodeCell")
    n_code = sum(c.cell_type == "code" for c in source_nb.cells)
    expect(code_cells).to_have_count(n_code)

    # The panel is open while the notebook runs: it must refresh on its own, after runs.
    panel = _open_panel(page)
    expect(panel.locator(".jp-SqlflowPanel-message.jp-mod-not-loaded")).to_be_visible(
        timeout=30_000
    )

    _menu(page, "Run", "Run All Cells")
    prompts = nb.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    for i in range(n_code):
        expect(prompts.nth(i)).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=RUN_ALL_TIMEOUT_MS)
    expect(nb.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(
        timeout=RUN_ALL_TIMEOUT_MS
    )
    # The panel's silent requests take no execution count: the cells count 1, 2, 3, ...
    assert prompts.all_text_contents() == [f"[{i + 1}]:" for i in range(n_code)]

    # Outputs: saved to disk and read back, so the check sees what the kernel sent.
    _menu(page, "File", "Save Notebook")
    saved = _saved(lab, name, n_code)
    problems = []
    for i, cell in enumerate(c for c in saved.cells if c.cell_type == "code"):
        tags = cell.metadata.get("tags", [])
        for out in cell.outputs:
            if out.output_type == "error" and "raises-exception" not in tags:
                problems.append(f"cell {i + 1}: {out.ename}: {out.evalue}")
            if out.output_type == "stream" and out.name == "stderr" and "Traceback" in out.text:
                problems.append(f"cell {i + 1}: stderr traceback: {out.text[:300]}")
        if TRANSFORM_RE.search(cell.source) and not cell.outputs:
            problems.append(f"cell {i + 1}: a transform cell with no output")
    assert not problems, "\n".join(problems)
    assert sum(len(c.outputs) for c in saved.cells if c.cell_type == "code") > 0
    expect(nb.locator(".jp-OutputArea-output").first).to_be_visible()
    expect(page.get_by_text("Loading widget")).to_have_count(0)

    # Highlighting: the first transform cell is SQL, with sqlflow's words marked.
    cell = code_cells.filter(has=page.locator(".cm-content", has_text=TRANSFORM_RE)).first
    cell.scroll_into_view_if_needed()
    content = cell.locator(".cm-content")
    expect(content).to_have_attribute("data-language", "sql")
    select = content.locator("span", has_text=re.compile(r"^SELECT$", re.IGNORECASE)).first
    expect(select).to_be_visible()
    assert _text_color(select) == _color(page, "--jp-mirror-editor-keyword-color")
    mode = content.locator(".cm-sqlflow-keyword", has_text=re.compile(r"^MODE$", re.IGNORECASE))
    expect(mode).to_have_count(1)
    assert _text_color(mode) == _color(page, "--jp-mirror-editor-meta-color")
    assert _text_color(mode) != _text_color(select)
    expect(content.locator(".cm-sqlflow-magic")).to_have_text("%%sqlflow")
    expect(content.locator(".cm-sqlflow-target")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "lab-notebook.png"))

    # The truth, read from the state tables with plain SQL in a cell added at the end; the
    # panel refreshes after it too (its source mentions sqlflow).
    truth = _state_in_kernel(page, nb)
    assert {_bare(t) for t in truth} >= set(expected), truth

    # The panel: every transform of this kernel, with mode, watermark and last run.
    cards = panel.locator(".jp-SqlflowTransform")
    expect(cards).to_have_count(len(truth), timeout=30_000)
    shown = {}
    for card in cards.all():
        target = card.get_attribute("data-target")
        shown[target] = card
        mode, watermark, statuses = truth[target]
        expect(card.locator(".jp-SqlflowMode")).to_have_text(mode)
        last = next((s for s in statuses if s in ("success", "failed")), None)
        assert card.get_attribute("data-status") == (last or "none"), target
        expect(card.locator(".jp-SqlflowTransform-lastRun dd")).to_contain_text(
            {"success": "ok", "failed": "failed", None: "never"}[last]
        )
        if watermark:
            text = card.locator(".jp-SqlflowTransform-watermark dd").inner_text()
            assert UTC_TIME_RE.match(text), text
            assert _panel_time(text) == watermark, (target, text, watermark)
            expect(card.locator(".jp-SqlflowTransform-lag dd")).to_have_text(
                re.compile(r"^\d+(\.\d)? (ms|s|min|h|d)")
            )
        if last == "failed":
            expect(card.locator(".jp-SqlflowTransform-error")).not_to_be_empty()
    assert set(shown) == set(truth)
    expect(panel.locator(".jp-SqlflowPanel-context")).to_contain_text(name)
    page.screenshot(path=str(ARTIFACTS / "lab-panel-overview.png"))

    # Click the transform with the most runs: its history, newest first, as recorded.
    chosen = max(truth, key=lambda t: (len(truth[t][2]), t))
    shown[chosen].click()
    expect(shown[chosen]).to_have_attribute("aria-selected", "true")
    history = panel.locator(".jp-SqlflowPanel-history")
    expect(history.locator(".jp-SqlflowPanel-historyTarget")).to_have_text(
        re.sub(r"^main\.", "", chosen)
    )
    runs = history.locator(".jp-SqlflowRun")
    statuses = truth[chosen][2]
    expect(runs).to_have_count(min(len(statuses), 50), timeout=30_000)
    assert [r.get_attribute("data-status") for r in runs.all()] == statuses[:50]
    ok = history.locator(".jp-SqlflowRun[data-status='success']").first
    expect(ok.locator(".jp-SqlflowRun-counts")).to_have_text(
        re.compile(r"^(\d[\d,]* (inserted|updated|deleted)\s*)+$|^no rows changed$")
    )
    expect(ok.locator(".jp-SqlflowRun-duration")).to_have_text(re.compile(r"\d"))
    if is_demo:
        # The second run recomputed the window (watermark − 2 hours, now].
        expect(runs.first.locator(".jp-SqlflowRun-window")).to_contain_text("(2024-05-01 00:00, ")
        expect(runs.nth(1).locator(".jp-SqlflowRun-window")).to_contain_text("(−∞, ")
    page.screenshot(path=str(ARTIFACTS / "lab-panel.png"))
    panel.screenshot(path=str(ARTIFACTS / "panel-only.png"))

    # Closing the history shows the recent runs of every transform again.
    history.locator(".jp-SqlflowPanel-close").click()
    expect(history.locator(".jp-SqlflowPanel-sectionTitle")).to_contain_text("Recent runs")


def test_typing_the_magic_switches_the_cell_to_sql_and_back(lab, page: Page):
    lab.add_notebook(name="typing.ipynb", nb=_new_notebook([""]))
    nb = open_notebook(page, lab, "typing.ipynb")
    cell = nb.locator(".jp-Notebook .jp-CodeCell").first
    content = cell.locator(".cm-content")
    content.click()
    expect(cell.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"))
    expect(content).to_have_attribute("data-language", "python")

    page.keyboard.type("%%sqlflow -o out\n")
    page.keyboard.type("CREATE TABLE main.t MODE UPSERT KEY (id)\n")
    page.keyboard.type("  EXPECT (amount >= 0) WARN\n")
    page.keyboard.type("AS SELECT 1 AS id, $limit AS amount -- KEY in a comment\n")
    page.keyboard.type("WHERE 'MODE' <> 'x' AND @start_dt IS NULL")
    expect(content).to_have_attribute("data-language", "sql")
    keywords = content.locator(".cm-sqlflow-keyword")
    expect(keywords).to_have_text(["MODE", "UPSERT", "KEY", "EXPECT", "WARN"])
    expect(content.locator(".cm-sqlflow-target")).to_have_text("main.t")
    expect(content.locator(".cm-sqlflow-macro")).to_have_text("@start_dt")
    expect(content.locator(".cm-sqlflow-param")).to_have_text("$limit")
    expect(content.locator(".cm-sqlflow-magic")).to_have_text("%%sqlflow -o out")
    page.screenshot(path=str(ARTIFACTS / "lab-typing.png"))

    # Without the magic the cell is Python again, and nothing is marked.
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("x = 1  # was")
    expect(content).to_have_attribute("data-language", "python")
    expect(content.locator(".cm-sqlflow-keyword")).to_have_count(0)


def test_panel_follows_load_ext_and_kernel_restart(lab, page: Page):
    cells = ["import sys\nprint('sqlflow_magic' in sys.modules)", "%load_ext sqlflow_magic"]
    lab.add_notebook(name="plain.ipynb", nb=_new_notebook(cells))
    nb = open_notebook(page, lab, "plain.ipynb")
    panel = _open_panel(page)
    message = panel.locator(".jp-SqlflowPanel-message.jp-mod-not-loaded")
    expect(message).to_contain_text("not loaded")
    expect(message.locator("pre")).to_have_text("%load_ext sqlflow_magic")

    code = nb.locator(".jp-Notebook .jp-CodeCell")
    code.first.locator(".cm-content").click()
    expect(code.first.locator(".cm-editor")).to_have_class(re.compile(r"\bcm-focused\b"))
    page.keyboard.press("Shift+Enter")
    expect(code.first.locator(".jp-InputArea-prompt")).to_have_text("[1]:")
    # Asking this kernel for sqlflow state imported nothing into it.
    expect(code.first.locator(".jp-OutputArea-output")).to_have_text("False")
    page.screenshot(path=str(ARTIFACTS / "lab-plain.png"))

    # %load_ext: the panel refreshes by itself, and there is nothing to show yet.
    page.keyboard.press("Shift+Enter")
    expect(code.nth(1).locator(".jp-InputArea-prompt")).to_have_text("[2]:")
    expect(message).to_have_count(0)
    expect(panel.locator(".jp-SqlflowPanel-hint").first).to_contain_text("No transforms yet")

    # A restart forgets %load_ext: the panel says so without being asked.
    _menu(page, "Kernel", "Restart Kernel…")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(message).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
