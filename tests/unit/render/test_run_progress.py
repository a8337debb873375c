"""RunProgress: a bar only for slow runs, fed by DuckDB's query progress (issue 4).

Displays go to a fake ``display`` that records what would be shown, so the tests count
exactly what a notebook would get. A real DuckDB query is interrupted at a fixed time,
so the slow case costs about a second on any machine.
"""

from __future__ import annotations

import doctest
import os
import signal
import threading
import time

import duckdb
import pytest

from sqlflow_magic.render import progress
from sqlflow_magic.render.progress import RunProgress, SummaryLine, summary_line

# Big enough to outlast the interrupt below on any machine we know (~10 s here).
SLOW_SQL = "SELECT sum(i % 7) FROM range(30000000000) t(i)"


class FakeHandle:
    def __init__(self, log: list) -> None:
        self.log = log

    def update(self, obj) -> None:
        self.log.append(("update", obj))


class FakeDisplay:
    """Stands in for IPython.display.display: records every call."""

    def __init__(self) -> None:
        self.log: list = []

    def __call__(self, obj, display_id=None):
        assert display_id is True  # the bar is updated in place, never appended
        self.log.append(("display", obj))
        return FakeHandle(self.log)

    @property
    def kinds(self) -> list[str]:
        return [f"{kind}:{type(obj).__name__}" for kind, obj in self.log]


class ScriptedConnection:
    """A connection whose query_progress follows a script; SET statements are recorded."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)
        self.executed: list[str] = []

    def query_progress(self) -> float:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]

    def execute(self, sql: str):
        self.executed.append(sql)
        return self

    def fetchone(self):
        return (False, True)

    def interrupt(self) -> None:
        self.executed.append("<interrupt>")


def _progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlflow-progress" and t.is_alive()]


def _settings(con) -> tuple:
    return con.execute(
        "SELECT current_setting('enable_progress_bar'), "
        "current_setting('enable_progress_bar_print')"
    ).fetchone()


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.mark.parametrize("frontend", ["widget", "html"])
def test_a_fast_query_displays_nothing(con, frontend):
    display = FakeDisplay()
    with RunProgress(con, "main.t REPLACE", frontend=frontend, display=display) as bar:
        con.execute("SELECT count(*) FROM range(1000)").fetchall()
        bar.finish("main.t REPLACE: success")
    assert display.log == []
    assert not bar.shown
    assert _progress_threads() == []


def test_a_slow_query_shows_the_bar_with_duckdbs_progress(con):
    display = FakeDisplay()
    timer = threading.Timer(1.0, con.interrupt)
    timer.start()
    started = time.perf_counter()
    with (
        pytest.raises(duckdb.InterruptException),
        RunProgress(con, "main.big REPLACE", delay=0.2, frontend="widget", display=display) as bar,
    ):
        con.execute(SLOW_SQL).fetchall()
    timer.join()
    assert time.perf_counter() - started < 5
    # Shown once, after the delay, as the widget; then replaced by the failure line.
    assert display.kinds == ["display:HBox", "update:SummaryLine"]
    box = display.log[0][1]
    assert box.children[0].value == "<b>main.big REPLACE</b>"
    assert bar.percent > 0
    assert bar.statements == 1
    line = display.log[1][1]
    assert not line.ok
    assert line.text.startswith("main.big REPLACE: failed after ")
    assert _progress_threads() == []


def test_finish_turns_a_shown_bar_into_the_summary():
    con = ScriptedConnection([-1, 20, 55, 80, 80, -1])
    display = FakeDisplay()
    with RunProgress(con, "main.t UPSERT", delay=0.05, interval=0.02, frontend="widget",
                     display=display) as bar:  # fmt: skip
        time.sleep(0.3)
        box = display.log[0][1]
        assert box.children[1].value == 80  # the best value so far
        assert box.children[2].value.startswith("80% · ")
        bar.finish("main.t UPSERT: success, 3 rows in in 0.300s")
    assert display.kinds == ["display:HBox", "update:SummaryLine"]
    assert box.children[1].value == 100  # DuckDB stalls short of it: the end jumps there
    summary = display.log[1][1]
    assert summary._repr_mimebundle_()["text/plain"] == (
        "✓ main.t UPSERT: success, 3 rows in in 0.300s"
    )


def test_a_new_statement_starts_the_bar_over():
    con = ScriptedConnection([10, 60, -1, 5, 30, 30])
    with RunProgress(con, "t", delay=10, interval=0.01, frontend="none") as bar:
        pass
    assert bar.statements == 0  # frontend none: no polling at all
    with RunProgress(con, "t", delay=10, interval=0.01, frontend="html",
                     display=FakeDisplay()) as bar:  # fmt: skip
        time.sleep(0.2)
    assert (bar.statements, bar.percent) == (2, 30)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_the_thread_stops_on_any_exception(error):
    def run_and_fail(progress: RunProgress) -> None:
        with progress:
            time.sleep(0.15)  # long enough for the bar to show
            raise error

    display = FakeDisplay()
    bar = RunProgress(ScriptedConnection([40]), "t", delay=0.02, interval=0.01,
                      frontend="html", display=display)  # fmt: skip
    with pytest.raises(error):
        run_and_fail(bar)
    assert _progress_threads() == []
    last = display.log[-1][1]
    assert isinstance(last, SummaryLine)
    assert not last.ok
    why = "interrupted" if error is KeyboardInterrupt else "failed"
    assert last.text.startswith(f"t: {why} after ")


def test_a_failing_display_never_fails_the_run():
    def broken(obj, display_id=None):
        raise OSError("frontend gone")

    con = ScriptedConnection([50])
    with RunProgress(con, "t", delay=0.01, interval=0.01, frontend="html", display=broken) as bar:
        time.sleep(0.1)
        bar.finish("t: done")
    assert _progress_threads() == []


def test_a_terminal_that_is_not_a_tty_stays_clean(capsys):
    con = ScriptedConnection([50])
    with RunProgress(con, "t", delay=0.01, interval=0.01, frontend="terminal") as bar:
        time.sleep(0.1)
        bar.finish("t: done")
    assert capsys.readouterr() == ("", "")


def test_progress_is_measured_and_duckdbs_own_bar_silenced_once_per_connection(con):
    con.execute("SET enable_progress_bar = false")
    con.execute("SET enable_progress_bar_print = true")
    with RunProgress(con, "t", frontend="html", display=FakeDisplay()):
        assert _settings(con) == (True, False)
    assert _settings(con) == (True, False)
    # a user who wants DuckDB's own bar back keeps it: the next run leaves them alone
    con.execute("SET enable_progress_bar_print = true")
    with RunProgress(con, "t", frontend="html", display=FakeDisplay()):
        pass
    assert _settings(con) == (True, True)


def test_a_run_pays_no_statement_for_the_settings_after_the_first():
    con = ScriptedConnection([-1])
    for _ in range(3):
        with RunProgress(con, "t", frontend="html", display=FakeDisplay()):
            pass
    assert con.executed == ["SET enable_progress_bar = true; SET enable_progress_bar_print = false"]


def test_no_delay_means_no_bar(con):
    display = FakeDisplay()
    with RunProgress(con, "t", delay=None, frontend="widget", display=display) as bar:
        con.execute("SELECT count(*) FROM range(100000000)").fetchall()
        bar.finish("t: done")
    assert display.log == []
    before = _settings(con)
    with RunProgress(con, "t", delay=None, interrupt=False) as bar:
        assert _progress_threads() == []  # nothing to show, no Ctrl-C to watch: no thread
        assert _settings(con) == before  # and DuckDB's progress stays as the user set it


def test_the_frontend_follows_the_shell(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert progress._frontend() == "terminal"
    kernel_shell = type("Shell", (), {"kernel": object()})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: kernel_shell)
    assert progress._frontend() == "widget"  # ipywidgets is installed for the tests


def test_summary_line_and_doctests():
    assert doctest.testmod(progress).failed == 0
    result = type("R", (), {})()
    result.target, result.status, result.duration_s = "main.t", "success", 0.0123
    result.mode = type("M", (), {"value": "INCREMENTAL"})()
    result.outcome = type("O", (), {"rows_in": 5, "inserted": 4, "updated": 0, "deleted": 1,
                                    "left_out": 2})()  # fmt: skip
    assert summary_line(result) == (
        "main.t INCREMENTAL: success, 5 rows in, 4 inserted, 0 updated, 1 deleted, "
        "2 left out in 0.012s"
    )


def _wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def test_ctrl_c_interrupts_the_running_statement_at_once(con):
    """The stop button: DuckDB is interrupted within a poll, not when the query ends."""
    handler, wakeup = signal.getsignal(signal.SIGINT), _wakeup_fd()
    press = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    safety = threading.Timer(10, con.interrupt)  # never hang the suite
    press.start()
    safety.start()
    started = time.perf_counter()
    try:
        with (
            pytest.raises(duckdb.InterruptException),
            RunProgress(con, "t", delay=0.2, frontend="html", display=FakeDisplay()) as bar,
        ):
            con.execute(SLOW_SQL.replace("30000000000", "3000000000000")).fetchall()
    finally:
        press.join()
        safety.cancel()
    assert time.perf_counter() - started < 3
    assert bar.interrupted
    assert signal.getsignal(signal.SIGINT) is handler
    assert _wakeup_fd() == wakeup
    assert _progress_threads() == []
    assert con.execute("SELECT 42").fetchall() == [(42,)]  # the connection works on


def test_ctrl_c_interrupts_even_without_a_bar(con):
    press = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    safety = threading.Timer(10, con.interrupt)
    press.start()
    safety.start()
    started = time.perf_counter()
    try:
        # frontend "terminal": someone is watching, as in IPython at a terminal
        with (
            pytest.raises(duckdb.InterruptException),
            RunProgress(con, "t", delay=None, frontend="terminal"),
        ):
            con.execute(SLOW_SQL.replace("30000000000", "3000000000000")).fetchall()
    finally:
        press.join()
        safety.cancel()
    assert time.perf_counter() - started < 3


def test_ctrl_c_while_no_statement_runs_raises_keyboardinterrupt_at_once():
    def press_ctrl_c_inside(progress: RunProgress) -> None:
        with progress:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)  # Python code: Ctrl-C must stop it as it always does

    con = ScriptedConnection([-1])  # DuckDB idle
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        press_ctrl_c_inside(RunProgress(con, "t", delay=None, interval=0.01, frontend="none"))
    assert time.perf_counter() - started < 1
    assert "<interrupt>" not in con.executed  # nothing ran, nothing to interrupt
    assert _progress_threads() == []


def test_interrupt_can_be_turned_off():
    handler = signal.getsignal(signal.SIGINT)
    with RunProgress(ScriptedConnection([-1]), "t", frontend="none", interrupt=False):
        assert signal.getsignal(signal.SIGINT) is handler
        assert _progress_threads() == []


def test_a_bar_inside_a_bar_leaves_the_outer_one_in_charge():
    # A cell that wraps a %%sqlflow call in its own RunProgress: one bar, one Ctrl-C watch.
    con = ScriptedConnection([-1, 40, 40, -1])
    outer_display, inner_display = FakeDisplay(), FakeDisplay()
    with RunProgress(con, "outer", delay=0.02, interval=0.01, frontend="html",
                     display=outer_display):  # fmt: skip
        with RunProgress(con, "inner", delay=0.02, interval=0.01, frontend="html",
                         display=inner_display) as inner:  # fmt: skip
            time.sleep(0.15)
            inner.finish("inner done")
        assert inner.frontend == "none"
    assert inner_display.log == []
    assert outer_display.log
    assert RunProgress._open == 0
