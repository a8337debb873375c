"""Live progress of a transform run: a bar that appears only when the run is slow (issue 4).

DuckDB reports how far the running statement is (``query_progress()``) when
``enable_progress_bar`` is on; a background thread polls the connection that runs the
statement and feeds a bar. Short runs show nothing at all: the bar appears only when the
run is still going after ``delay`` seconds, so fast cells never flicker. When the run
ends, a bar that was shown turns into a one-line summary, which is what a saved notebook
keeps.

Where it shows:

- a Jupyter kernel with ipywidgets: an ``HBox(HTML, FloatProgress, Label)`` displayed
  with a display id, replaced by the summary (text/plain + text/html) at the end;
- a kernel without ipywidgets: the same bar as HTML, updated through the display id;
- a terminal: a transient rich bar on stderr (only when stderr is a terminal), then the
  summary line on stdout; nothing at all for a fast run.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import importlib.util
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("sqlflow_magic.render")

# DuckDB's progress stalls at 66-85 % and reads -1 between statements and at the end.
_DONE = 100.0

# Connections whose progress settings sqlflow has set, once each (see _enable_progress).
_CONFIGURED: weakref.WeakSet = weakref.WeakSet()


class RunProgress:
    """Show a run's progress if it is slow, and its summary when it ends.

    Use it around the code that runs a transform on ``con``::

        with RunProgress(con, label="main.hourly INCREMENTAL") as progress:
            result = run_transform(...)
            progress.finish(summary_line(result))

    Args:
        con: the DuckDB connection that runs the statements (DuckDB reports progress per
            connection: a cursor is a connection of its own).
        label: what is running, shown before the bar and in the summary.
        delay: seconds before the bar appears; a run that ends sooner shows nothing.
            ``None`` never shows a bar (the summary is not shown either).
        interval: seconds between two polls of ``con.query_progress()``.
        frontend: ``"widget"``, ``"html"``, ``"terminal"`` or ``"none"``; by default
            chosen from the running IPython (a kernel: widget if ipywidgets is installed,
            else html; otherwise terminal).
        display: the function that shows objects (``IPython.display.display``); tests
            pass a fake to count what is shown.
        interrupt: make Ctrl-C (the notebook's stop button) interrupt the running DuckDB
            statement at once (main thread only; see below).

    The polling thread stops when the block ends, whatever ends it (KeyboardInterrupt
    included), and the connection's progress settings are restored.

    Ctrl-C: while the main thread waits inside DuckDB, Python cannot raise
    KeyboardInterrupt, so the kernel would stay busy until the statement ends. With
    ``interrupt``, the block watches for SIGINT from its thread: when a statement is
    running, it calls ``con.interrupt()``; the statement fails with DuckDB's
    InterruptException and the run rolls back and records the failure as for any
    database error. Python's own KeyboardInterrupt for that Ctrl-C is dropped, so that it
    cannot land in the middle of the rollback. A Ctrl-C while no statement runs raises
    KeyboardInterrupt as usual.
    """

    def __init__(
        self,
        con: Any,
        label: str,
        *,
        delay: float | None = 0.5,
        interval: float = 0.1,
        frontend: str | None = None,
        display: Callable[..., Any] | None = None,
        interrupt: bool = True,
    ) -> None:
        self.con = con
        self.interrupt = interrupt
        self.label = label
        self.delay = delay
        self.interval = interval
        self.frontend = frontend or _frontend()
        self._display = display
        self._stop = threading.Event()
        self._signals: _SignalWatch | None = None
        self._sigint_handler: Any = None
        self._decided = threading.Event()  # the thread has looked at the latest Ctrl-C
        self._took_it = False  # ...and interrupted a running statement for it
        self.interrupted = False  # a Ctrl-C interrupted a DuckDB statement of the block
        self._thread: threading.Thread | None = None
        self._view: _View | None = None
        self._t0 = 0.0
        self._elapsed = 0.0
        self.percent = -1.0  # best progress of the current statement, -1 when unknown
        self.statements = 0  # statements that reported progress so far
        self.finished = False

    # -- context manager ----------------------------------------------------------------

    # Bars open on the main thread: a RunProgress inside another (a run inside a cell that
    # shows its own bar) leaves the outer one in charge, so one Ctrl-C is handled once.
    _open = 0

    def __enter__(self) -> RunProgress:
        self._t0 = time.perf_counter()
        self._nested = threading.current_thread() is threading.main_thread() and (
            RunProgress._open > 0
        )
        if self._nested:
            self.frontend = "none"
        elif threading.current_thread() is threading.main_thread():
            RunProgress._open += 1
        showing = self.delay is not None and self.frontend != "none"
        # Ctrl-C (or a kernel's stop button) does not reach a running DuckDB statement on
        # its own: watch for it wherever someone is watching. A script or a test ("none")
        # keeps plain DuckDB's behaviour, and saves the watch's ~2 ms per run.
        if self.interrupt and self.frontend != "none":
            self._signals = _SignalWatch.start()
            if self._signals is not None:
                self._sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)
        if showing or self._signals is not None:
            # Progress also tells the Ctrl-C watch whether a statement is running.
            self._enable_progress()
            context = contextvars.copy_context()  # output from the thread goes to this cell
            self._thread = threading.Thread(
                target=context.run, args=(self._poll,), name="sqlflow-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._stop_polling()
            if not self.finished and self._view is not None:
                if exc_type is None and not self.interrupted:
                    self._end(f"{self.label}: done in {_seconds(self._elapsed)}", ok=True)
                else:
                    interrupted = self.interrupted or exc_type is KeyboardInterrupt
                    why = "interrupted" if interrupted else "failed"
                    self._end(f"{self.label}: {why} after {_seconds(self._elapsed)}", ok=False)
        finally:
            self.finished = True
            if threading.current_thread() is threading.main_thread() and not self._nested:
                RunProgress._open -= 1
            if self._signals is not None:
                self._signals.stop()
                self._signals = None
            if self._sigint_handler is not None:
                signal.signal(signal.SIGINT, self._sigint_handler)
                self._sigint_handler = None

    def _on_sigint(self, signum, frame) -> None:
        # Python's handler, run in the main thread between bytecodes. If the thread
        # interrupted a running statement for this Ctrl-C, DuckDB's InterruptException is
        # already on its way: drop the KeyboardInterrupt (see the class doc).
        decided = self._decided.wait(0.2)
        self._decided.clear()
        if decided and self._took_it:
            self._took_it = False
            return
        raise KeyboardInterrupt

    # -- the public surface -------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Seconds since the block started (frozen when it finished)."""
        return self._elapsed if self.finished else time.perf_counter() - self._t0

    @property
    def shown(self) -> bool:
        """Whether the bar was ever displayed (the run outlasted ``delay``)."""
        return self._view is not None

    def finish(self, summary: str) -> None:
        """End the bar: a shown bar becomes ``summary``; a bar never shown leaves nothing.

        Args:
            summary: one line, e.g. from :func:`summary_line`.
        """
        if self.finished:
            return
        self._stop_polling()
        if self._view is not None:
            self._end(summary, ok=True)
        self.finished = True

    # -- polling ------------------------------------------------------------------------

    def _poll(self) -> None:
        showing = self.delay is not None and self.frontend != "none"
        idle = True
        while not self._stop.is_set():
            if self._signals is not None and self._signals.wait(self.interval):
                self._interrupt()
            elif self._signals is None:
                self._stop.wait(self.interval)
            if self._stop.is_set():
                break
            if not showing:
                continue
            try:
                value = float(self.con.query_progress())
            except Exception:  # the connection closed or refused: stop measuring, not the run
                _log.debug("query_progress failed", exc_info=True)
                value = -1.0
            if value >= 0:
                if idle and value < self.percent:  # a new statement: DuckDB starts over
                    self.statements += 1
                    self.percent = value
                else:
                    self.statements = max(self.statements, 1)
                    self.percent = max(self.percent, value)
            idle = value < 0
            elapsed = time.perf_counter() - self._t0
            if self._view is None and elapsed >= (self.delay or 0.0):
                self._view = self._safe(_VIEWS[self.frontend], self.label, self._display)
            if self._view is not None:
                self._safe(self._view.update, self.percent, elapsed, self.statements)

    def _interrupt(self) -> None:
        # Ctrl-C reaches Python only between bytecodes, and the main thread is inside
        # DuckDB: without this the kernel stays busy until the statement ends. One
        # interrupt per Ctrl-C, and only while a statement reports progress: a stray one
        # could hit the run's ROLLBACK.
        try:
            running = float(self.con.query_progress()) >= 0
            if running:
                self._took_it = self.interrupted = True
                self.con.interrupt()
        except Exception:
            _log.debug("cannot interrupt", exc_info=True)
        finally:
            self._decided.set()

    def _safe(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run a display call; a display that fails must never fail the run."""
        try:
            return call(*args)
        except Exception:
            _log.debug("progress display failed", exc_info=True)
            return None

    def _stop_polling(self) -> None:
        self._stop.set()
        if self._signals is not None:
            self._signals.wake()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, 10 * self.interval))
            self._thread = None
        if not self.finished:
            self._elapsed = time.perf_counter() - self._t0

    def _end(self, text: str, ok: bool) -> None:
        view = self._view
        if view is not None:
            self._safe(view.finish, text, ok, self._elapsed)

    # -- DuckDB settings ----------------------------------------------------------------

    def _enable_progress(self) -> None:
        # The bar is fed by DuckDB's progress measure, which some DuckDB versions leave
        # off; and DuckDB must not print a bar of its own beside this one. Both are set
        # once per connection and then left alone: a run pays no statement for them, and
        # a user who SETs them otherwise afterwards keeps what they chose.
        if self.con in _CONFIGURED:
            return
        try:
            self.con.execute(
                "SET enable_progress_bar = true; SET enable_progress_bar_print = false"
            )
        except Exception:  # progress is a nicety: a connection that refuses runs without it
            _log.debug("cannot enable query progress", exc_info=True)
        with contextlib.suppress(TypeError):  # an object without weak references
            _CONFIGURED.add(self.con)


class _SignalWatch:
    """Lets the polling thread see Ctrl-C while the main thread is blocked in DuckDB.

    ``signal.set_wakeup_fd`` makes the C-level handler write each signal's number to a
    socket at once; Python's own handler (KeyboardInterrupt) still runs as usual, later.
    Bytes are passed on to the wakeup fd that was set before (an asyncio loop's), so its
    signal handling sees every signal too. Only possible from the main thread.
    """

    def __init__(self, reader: socket.socket, writer: socket.socket, previous: int) -> None:
        self.reader, self.writer, self.previous = reader, writer, previous
        # A second pair wakes the waiting thread when the block ends, so that leaving the
        # block never waits out a poll interval.
        self.bell, self.ring = socket.socketpair()

    @classmethod
    def start(cls) -> _SignalWatch | None:
        if threading.current_thread() is not threading.main_thread():
            return None
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        try:
            previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):
            reader.close()
            writer.close()
            return None
        return cls(reader, writer, previous)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when SIGINT arrived meanwhile."""
        ready, _, _ = select.select([self.reader, self.bell], [], [], timeout)
        if self.reader not in ready:
            return False
        try:
            data = self.reader.recv(512)
        except OSError:
            return False
        if self.previous >= 0:
            with contextlib.suppress(OSError):
                os.write(self.previous, data)
        return signal.SIGINT in data

    def wake(self) -> None:
        """End a ``wait`` now (the block is ending)."""
        with contextlib.suppress(OSError):
            self.ring.send(b"\0")

    def stop(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self.previous)
        for sock in (self.reader, self.writer, self.bell, self.ring):
            sock.close()


def summary_line(result: Any) -> str:
    """The one-line summary of a finished run (a ``RunResult``).

    >>> from types import SimpleNamespace as NS
    >>> out = NS(rows_in=1234, inserted=1200, updated=34, deleted=0, left_out=0)
    >>> mode = NS(value="INCREMENTAL")
    >>> print(summary_line(NS(target="main.hourly", mode=mode, status="success", outcome=out,
    ...                       duration_s=3.4121)))
    main.hourly INCREMENTAL: success, 1,234 rows in, 1,200 inserted, 34 updated, 0 deleted in 3.412s
    """
    out = result.outcome
    parts = [f"{out.rows_in:,} rows in", f"{out.inserted:,} inserted", f"{out.updated:,} updated",
             f"{out.deleted:,} deleted"]  # fmt: skip
    if getattr(out, "left_out", 0):
        parts.append(f"{out.left_out:,} left out")
    text = f"{result.target} {result.mode.value}: {result.status}, " + ", ".join(parts)
    return f"{text} in {_seconds(result.duration_s)}"


def _seconds(value: float) -> str:
    # The notebooks' sanitizer knows durations as digits, a dot, three digits and "s".
    return f"{value:.3f}s"


def _frontend() -> str:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return "terminal"
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        return "widget" if importlib.util.find_spec("ipywidgets") else "html"
    return "terminal"


def _show(display: Callable[..., Any] | None, obj: Any) -> Any:
    if display is None:
        from IPython.display import display
    return display(obj, display_id=True)


# -- the views: what the thread draws ---------------------------------------------------


class _View:
    def update(self, percent: float, elapsed: float, statements: int) -> None:
        raise NotImplementedError

    def finish(self, text: str, ok: bool, elapsed: float) -> None:
        raise NotImplementedError


def _live_text(percent: float, elapsed: float, statements: int) -> str:
    shown = "running" if percent < 0 else f"{percent:.0f}%"
    step = f" · statement {statements}" if statements > 1 else ""
    return f"{shown} · {elapsed:.1f} s{step}"


class SummaryLine:
    """A finished run's line, as text/plain and a small text/html line."""

    def __init__(self, text: str, ok: bool = True) -> None:
        self.text = text
        self.ok = ok

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        mark, cls = ("✓", "ok") if self.ok else ("✗", "failed")
        body = (
            f'<div class="sqlflow-run sqlflow-run-{cls}" style="font-family: '
            "var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px); "
            'color: var(--jp-ui-font-color1, inherit)">'
            f'<span style="color: var(--jp-{"success" if self.ok else "error"}-color1, '
            f'{"#388e3c" if self.ok else "#d32f2f"}); font-weight: 600">{mark}</span> '
            f"{html.escape(self.text)}</div>"
        )
        return {"text/plain": f"{mark} {self.text}", "text/html": body}


class _WidgetView(_View):
    """An ipywidgets bar; the finished summary replaces it through the display id."""

    def __init__(self, label: str, display: Callable[..., Any] | None) -> None:
        import ipywidgets as w

        self.bar = w.FloatProgress(
            value=0, min=0, max=100, bar_style="info", layout=w.Layout(width="240px")
        )
        self.title = w.HTML(f"<b>{html.escape(label)}</b>")
        self.text = w.Label("")
        self.box = w.HBox(
            [self.title, self.bar, self.text],
            layout=w.Layout(align_items="center", grid_gap="8px"),
        )
        self.box.add_class("sqlflow-progress")  # a handle for styles and browser tests
        self.text.add_class("sqlflow-progress-text")
        self.handle = _show(display, self.box)

    def update(self, percent: float, elapsed: float, statements: int) -> None:
        if percent >= 0:
            self.bar.value = percent
        self.text.value = _live_text(percent, elapsed, statements)

    def finish(self, text: str, ok: bool, elapsed: float) -> None:
        self.bar.value = _DONE
        if self.handle is not None:
            self.handle.update(SummaryLine(text, ok))
        self.box.close()  # the saved notebook keeps the summary, not a dead widget model
        self.bar.close()
        self.title.close()
        self.text.close()


class _HtmlBar:
    def __init__(self, label: str, percent: float, live: str) -> None:
        self.label, self.percent, self.live = label, percent, live

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        value = f' value="{self.percent:.0f}"' if self.percent >= 0 else ""
        body = (
            '<div style="display: flex; gap: 8px; align-items: center; font-family: '
            'var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px)">'
            f"<b>{html.escape(self.label)}</b>"
            f'<progress max="100"{value} style="width: 240px"></progress>'
            f"<span>{html.escape(self.live)}</span></div>"
        )
        return {"text/plain": f"{self.label}: {self.live}", "text/html": body}


class _HtmlView(_View):
    """The bar as HTML, for kernels without ipywidgets: redrawn through the display id."""

    REDRAW_S = 0.25  # each redraw is a message to the frontend: a few a second is enough

    def __init__(self, label: str, display: Callable[..., Any] | None) -> None:
        self.label = label
        self.drawn = -1.0
        self.handle = _show(display, _HtmlBar(label, -1, _live_text(-1, 0, 0)))

    def update(self, percent: float, elapsed: float, statements: int) -> None:
        if elapsed - self.drawn >= self.REDRAW_S and self.handle is not None:
            self.handle.update(_HtmlBar(self.label, percent, _live_text(percent, elapsed,
                                                                       statements)))  # fmt: skip
            self.drawn = elapsed

    def finish(self, text: str, ok: bool, elapsed: float) -> None:
        if self.handle is not None:
            self.handle.update(SummaryLine(text, ok))


class _TerminalView(_View):
    """A transient rich bar on stderr, then the summary line on stdout."""

    def __init__(self, label: str, display: Callable[..., Any] | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = Console(stderr=True)
        self.progress = None
        if not self.console.is_terminal:  # a pipe or a log: keep it clean
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[live]}"),
            console=self.console,
            transient=True,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.progress.add_task(label, total=100, live="")
        self.progress.start()

    def update(self, percent: float, elapsed: float, statements: int) -> None:
        if self.progress is not None:
            live = _live_text(percent, elapsed, statements)
            self.progress.update(self.task, completed=max(percent, 0), live=live)
            self.progress.refresh()

    def finish(self, text: str, ok: bool, elapsed: float) -> None:
        if self.progress is not None:
            self.progress.stop()
            print(("✓ " if ok else "✗ ") + text, file=sys.stdout)


class _NoView(_View):
    def __init__(self, label: str, display: Callable[..., Any] | None) -> None:
        pass

    def update(self, percent: float, elapsed: float, statements: int) -> None:
        pass

    def finish(self, text: str, ok: bool, elapsed: float) -> None:
        pass


_VIEWS: dict[str, Callable[[str, Callable[..., Any] | None], _View]] = {
    "widget": _WidgetView,
    "html": _HtmlView,
    "terminal": _TerminalView,
    "none": _NoView,
}
