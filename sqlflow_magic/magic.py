"""``%%sqlflow`` and ``%sqlflow``: argument parsing and wiring, nothing else."""

from __future__ import annotations

import argparse
import functools
import os
import shlex
from collections.abc import Sequence

import duckdb
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, default

from sqlflow_magic.engine.duckdb import DuckDBEngine
from sqlflow_magic.engine.session import MEMORY, Session
from sqlflow_magic.errors import DatabaseError, SqlflowError, UsageError, database_error
from sqlflow_magic.namespace import bind_variables, frames_registered
from sqlflow_magic.observe.events import RunEvents
from sqlflow_magic.render.tables import print_rich, summary_frame
from sqlflow_magic.runner import RunOptions, run_transform
from sqlflow_magic.state import views
from sqlflow_magic.state.store import STATE_SCHEMA, RunRecord, StateStore, utcnow
from sqlflow_magic.syntax.parse import parse_cell
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import Mode, PlainStatement, TransformSpec

_ACTIVE: list[SqlflowMagics] = []
_LINE_COMMANDS = (
    "connect", "status", "history", "reset", "quality", "metrics", "serve-metrics", "alert",
    "log",
)  # fmt: skip


def active_magics() -> SqlflowMagics | None:
    """The loaded SqlflowMagics instance, or None before ``%load_ext sqlflow_magic``."""
    return _ACTIVE[-1] if _ACTIVE else None


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit the kernel
        raise UsageError(message, hint=f"usage: {self.format_usage().strip()}")


def _shortened(text: str, width: int = 40) -> str:
    """A statement on one line, cut to ``width`` characters (for a progress label)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@functools.cache  # parse_args keeps no state: one parser serves every cell
def _cell_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="%%sqlflow", add_help=False)
    parser.add_argument("-o", "--output", metavar="NAME", help="store the value in NAME")
    parser.add_argument("--dry-run", action="store_true", help="print, change nothing")
    parser.add_argument("--start", metavar="T", help="INCREMENTAL window start (UTC)")
    parser.add_argument("--end", metavar="T", help="INCREMENTAL window end (UTC)")
    return parser


@magics_class
class SqlflowMagics(Magics):
    """SQL transforms over a DuckDB connection that lives in the kernel."""

    rich_tables = Bool(
        None,
        allow_none=True,
        help="Print status/history as rich tables (default: only outside a notebook kernel).",
    ).tag(config=True)

    progress_after = Float(
        0.5,
        allow_none=True,
        help="Seconds a run must last before a live progress bar appears (None: never). "
        "The environment variable SQLFLOW_PROGRESS_AFTER (seconds, or 'off') sets the default.",
    ).tag(config=True)
    lag_warn_after = Float(3600.0, help="Watermark lag (s) shown amber in status.").tag(config=True)
    lag_alert_after = Float(86400.0, help="Watermark lag (s) shown red in status.").tag(config=True)

    @default("progress_after")
    def _progress_after_from_environment(self) -> float | None:
        value = os.environ.get("SQLFLOW_PROGRESS_AFTER", "0.5")
        return None if value.strip().lower() in ("off", "none", "") else float(value)

    profile_runs = Bool(
        True,
        help="Record a seven-category quality profile of the rows each run writes.",
    ).tag(config=True)

    def __init__(self, shell=None, **kwargs) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Session | None = None
        self.events = RunEvents()
        self._observers = None

    @property
    def observers(self):
        """Metrics, run log and alerts; made on first use (prometheus is slow to import)."""
        if self._observers is None:
            from sqlflow_magic.observe.observers import Observers

            self._observers = Observers(connection=lambda: self.session.connection())
            self.events.subscribe(self._observers)
            self._observers.connected()
        return self._observers

    @property
    def session(self) -> Session:
        """The kernel's database session, an in-memory DuckDB until ``connect``."""
        if self._session is None:
            self._session = Session(MEMORY)
        return self._session

    # IPython expands $name and {name} in the line, as for any magic: `%sqlflow connect $path`
    # works. An alert rule's {label='value'} is not a Python expression, so it stays as written.
    @line_cell_magic
    def sqlflow(self, line: str, cell: str | None = None):
        """Run SQL and transforms over the kernel's DuckDB connection.

        A cell holds statements separated by ``;``. ``CREATE TABLE t MODE REPLACE |
        APPEND | UPSERT KEY (k, ...) | INCREMENTAL BY c [LOOKBACK '...'] AS SELECT ...``
        is a transform; every other statement is DuckDB's, run as written. The value is
        the result of the last statement that returns rows.

        Cell options::

            -o NAME         also store the value in the variable NAME
            --dry-run       print the SQL and parameters that would run; change nothing
            --start T       INCREMENTAL: window start (UTC), instead of watermark - LOOKBACK
            --end T         INCREMENTAL: window end (UTC), instead of now

        Line commands::

            %sqlflow connect PATH     switch database (:memory: or a file)
            %sqlflow status           every transform: mode, keys, watermark, last run
            %sqlflow history [TABLE]  past runs with outcome, counts, window, duration
            %sqlflow reset TABLE      forget the watermark: the next run is a full one
            %sqlflow quality TABLE    profile a whole table; what changed since the last one
            %sqlflow metrics [--prometheus]   live metrics (Prometheus text on request)
            %sqlflow serve-metrics [PORT]     serve /metrics on 127.0.0.1 for a scraper
            %sqlflow alert add EXPR [--cooldown 30m] [--name N] | list | remove NAME
            %sqlflow log PATH|off     structured JSON run log (personal data redacted)

        Examples::

            %load_ext sqlflow_magic
            %sqlflow connect warehouse.duckdb

            %%sqlflow
            CREATE TABLE hourly MODE INCREMENTAL BY hour LOOKBACK '2 hours' AS
            SELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM events
            WHERE ts > @start_dt AND ts <= @end_dt GROUP BY ALL

            %%sqlflow -o top
            SELECT * FROM hourly WHERE n > $threshold ORDER BY n DESC
        """
        if cell is None:
            return self._line_command(line)
        return self._run_cell(line, cell)

    # -- cells ---------------------------------------------------------------------------

    def _run_cell(self, line: str, cell: str):
        args = _cell_parser().parse_args(_split_args(line))
        source = CellSource(cell, first_line=2)
        statements = parse_cell(cell, first_line=2)
        options = RunOptions(
            dry_run=args.dry_run, profile=self.profile_runs, start=args.start, end=args.end
        )
        if (args.start or args.end) and not any(
            isinstance(s, TransformSpec) and s.mode is Mode.INCREMENTAL for s in statements
        ):
            raise UsageError(
                "--start and --end set the window of MODE INCREMENTAL transforms, and this "
                "cell has none",
                hint="remove them, or make a transform MODE INCREMENTAL BY <time column>",
            )
        last_value_at = max(
            (i for i, s in enumerate(statements)
             if isinstance(s, TransformSpec) or s.returns_rows),
            default=-1,
        )  # fmt: skip
        value = None
        namespace = self.shell.user_ns if self.shell is not None else {}
        if any(isinstance(s, TransformSpec) for s in statements):
            self.observers  # noqa: B018 -- subscribe metrics, log and alerts before the runs
        try:
            value = self._run_statements(statements, source, namespace, options, last_value_at)
        finally:
            self._show_alerts()
        if args.output:
            namespace[args.output] = value
        return value

    def _run_statements(self, statements, source, namespace, options, last_value_at):
        value = None
        for i, statement in enumerate(statements):
            if isinstance(statement, TransformSpec):
                result = self._run_transform(statement, namespace, source, options)
                for note in result.notes:
                    print(f"note: {note}")
                for warning in result.warnings:
                    print(warning)
                if options.dry_run:
                    _print_plan(result)
                value = summary_frame(result) if i == last_value_at else value
            else:
                fetched = self._run_plain(statement, source, namespace, options, i == last_value_at)
                value = fetched if i == last_value_at else value
        return value

    def _run_transform(self, statement: TransformSpec, namespace, source, options):
        """One transform, with a live progress bar when it lasts (see progress_after)."""
        from sqlflow_magic.render.progress import RunProgress, summary_line

        label = f"{statement.target} {statement.mode.value}"
        delay = None if options.dry_run else self.progress_after
        with RunProgress(self.session.connection(), label, delay=delay) as progress:
            result = run_transform(statement, self.session, namespace, source, options, self.events)
            progress.finish(summary_line(result))
        return result

    def _show_alerts(self) -> None:
        """Show the alerts that fired during the cell, inline, below it."""
        if self._observers is None:
            return
        fired = self._observers.alerts.pop_fired()
        if fired:
            from IPython.display import display

            for alert in fired:
                display(alert)

    def _run_plain(self, st: PlainStatement, source: CellSource, namespace, options, fetch: bool):
        base = _offset_of_line(source, st.line)
        params = bind_variables(st.variables, namespace, source, source.text.find(st.text, base))
        if options.dry_run:
            print(f"-- would run (line {st.line}):\n{st.text};")
            if params:
                print(f"-- parameters: {params!r}")
            return None
        from sqlflow_magic.render.progress import RunProgress

        con = self.session.connection()
        # A slow plain statement gets the same bar (and Ctrl-C) as a transform: DuckDB's
        # own printed bar is off on this connection (see RunProgress).
        label = f"line {st.line}: {_shortened(st.text)}"
        try:
            with (
                frames_registered(con, st.names, namespace),
                RunProgress(con, label, delay=self.progress_after),
            ):
                self.session.forget_after(st.text.split(None, 1)[0])
                cursor = con.execute(st.text, params or None)
                return cursor.df() if fetch and cursor.description else None
        except duckdb.Error as err:
            raise database_error(
                err, st.line, "", "fix the statement and run the cell again"
            ) from err

    # -- line commands -------------------------------------------------------------------

    def _line_command(self, line: str):
        words = _split_args(line)
        if not words or words[0] not in _LINE_COMMANDS:
            raise UsageError(
                f"unknown command {words[0]!r}" if words else "%sqlflow needs a command",
                hint="commands: " + ", ".join(_LINE_COMMANDS) + "; run %%sqlflow? for help",
            )
        command, rest = words[0], words[1:]
        return getattr(self, f"_cmd_{command.replace('-', '_')}")(rest)

    def _cmd_connect(self, rest: Sequence[str]):
        if len(rest) != 1:
            raise UsageError("connect needs one PATH", hint="%sqlflow connect warehouse.duckdb")
        try:
            new = Session(rest[0])
        except duckdb.Error as err:
            raise DatabaseError(
                f"cannot open {rest[0]}: {err}",
                hint="check the path and that no other process holds it",
            ) from err
        old, self._session = self._session, new
        if old is not None:
            old.close()
        if self._observers is not None:
            self._observers.connected()  # metrics and alert rules belong to the database
        print(f"connected to {new.path}")

    def _cmd_status(self, rest: Sequence[str]):
        from datetime import timedelta

        from sqlflow_magic.render.views import StatusView

        frame = views.status_frame(self.session.connection())
        return self._show_view(StatusView(
            frame, warn_after=timedelta(seconds=self.lag_warn_after),
            alert_after=timedelta(seconds=self.lag_alert_after),
        ))  # fmt: skip

    def _cmd_history(self, rest: Sequence[str]):
        from sqlflow_magic.render.views import HistoryView

        if len(rest) > 1:
            raise UsageError("history takes at most one TABLE", hint="%sqlflow history orders")
        target = rest[0] if rest else None
        frame = views.history_frame(self.session.connection(), target)
        return self._show_view(HistoryView(frame, target))

    def _cmd_reset(self, rest: Sequence[str]):
        if len(rest) != 1:
            raise UsageError("reset needs one TABLE", hint="%sqlflow reset hourly_metrics")
        con = self.session.connection()
        engine = DuckDBEngine(con)
        table = engine.resolve(_table_parts(rest[0]))
        store = StateStore(con, table.catalog)
        self.session.ensure_state(table.catalog, store.create_tables)
        lock = self.session.target_lock(".".join(_table_parts(rest[0])))
        with lock, engine.transaction():
            if not store.known_target(table.key):
                raise UsageError(
                    f"{table.key} is not a sqlflow transform",
                    hint="%sqlflow status lists the transforms",
                    table=table.key,
                )
            before = store.watermark(table.key)
            store.set_watermark(table.key, "", None, "")
            now = utcnow()
            store.record_run(RunRecord(
                run_id="reset", target=table.key, mode="RESET", status="reset",
                started_at=now, finished_at=now, duration_s=0.0, watermark_before=before,
            ))  # fmt: skip
        if self._observers is not None:
            self._observers.metrics.set_watermark(table.key, None)
        print(f"{table.key}: watermark {before or 'none'} forgotten; the next run is a full one")

    def _cmd_quality(self, rest: Sequence[str]):
        if len(rest) != 1:
            raise UsageError("quality needs one TABLE", hint="%sqlflow quality orders")
        from sqlflow_magic.quality.whole import profile_table
        from sqlflow_magic.render.quality_view import ProfileDisplay, print_profile_rich

        table, profile, changes = profile_table(self.session, _table_parts(rest[0]))
        title = f"Quality of {table.key}"
        if self._in_terminal():
            print_profile_rich(profile, title, changes)
            return None
        return ProfileDisplay(profile, title, changes, widget=True)

    def _cmd_metrics(self, rest: Sequence[str]):
        if rest not in ([], ["--prometheus"]):
            raise UsageError(
                "metrics takes only --prometheus", hint="%sqlflow metrics --prometheus"
            )
        if rest:
            print(self.observers.metrics.exposition(), end="")
            return None
        from sqlflow_magic.render.views import MetricsView

        return self._show_view(MetricsView(self.observers.metrics.snapshot()))

    def _cmd_serve_metrics(self, rest: Sequence[str]):
        if rest == ["stop"]:
            self.observers.stop_serving()
            print("metrics server stopped")
            return
        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            raise UsageError(
                "serve-metrics takes one PORT number, or stop", hint="%sqlflow serve-metrics 9464"
            )
        server, _ = self.observers.serve(int(rest[0]) if rest else 0)
        print(f"serving metrics on {server.url} (127.0.0.1 only)")

    def _cmd_alert(self, rest: Sequence[str]):
        usage = "%sqlflow alert add \"watermark_lag{target='main.hourly'} > 2h\" --cooldown 30m"
        action, words = (rest[0], list(rest[1:])) if rest else ("", [])
        alerts = self.observers.alerts
        if action == "list" and not words:
            return self._show(alerts.frame(), "sqlflow alerts")
        if action == "remove" and len(words) == 1:
            rule = alerts.remove(words[0])
            print(f"removed alert {rule.name}")
            return None
        if action == "add" and words:
            options = {"--cooldown": None, "--name": None}
            for flag in options:
                if flag in words:
                    at = words.index(flag)
                    if at + 1 >= len(words):
                        raise UsageError(f"{flag} needs a value", hint=usage)
                    options[flag] = words.pop(at + 1)
                    words.pop(at)
            rule = alerts.add(
                " ".join(words), name=options["--name"], cooldown=options["--cooldown"]
            )
            print(f"added alert {rule.name}: {rule.expression}")
            return None
        raise UsageError("alert needs add EXPR, list or remove NAME", hint=usage)

    def _cmd_log(self, rest: Sequence[str]):
        if len(rest) != 1:
            raise UsageError("log needs a PATH (or off)", hint="%sqlflow log runs.jsonl")
        target = None if rest[0] == "off" else rest[0]
        self.observers.log_to(target)
        print("run log off" if target is None else f"logging runs as JSON lines to {target}")

    def _in_terminal(self) -> bool:
        in_kernel = getattr(self.shell, "kernel", None) is not None
        return bool(self.rich_tables or (self.rich_tables is None and not in_kernel))

    def _show_view(self, view):
        """A view object in a notebook; printed as a rich table in a terminal."""
        if self._in_terminal():
            view.print_rich()
            return None
        return view

    def _show(self, frame, title: str):
        if self._in_terminal():
            print_rich(frame, title)
            return None
        return frame


def _split_args(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as err:
        raise UsageError(f"cannot read the options: {err}", hint="close the quotes") from err


def _table_parts(text: str) -> tuple[str, ...]:
    from sqlglot import exp

    table = exp.to_table(text, dialect="duckdb")
    return tuple(p.name for p in table.parts)


def _offset_of_line(source: CellSource, line: int) -> int:
    offset = 0
    for _ in range(line - source.first_line):
        offset = source.text.index("\n", offset) + 1
    return offset


def _print_plan(result) -> None:
    print(f"-- dry run of {result.target} (MODE {result.mode.value}); nothing was changed")
    if result.window is not None:
        start = result.window.start or "-infinity"
        print(f"-- window: ({start}, {result.window.end}]")
    for query in result.planned:
        print(query.sql + ";")
        if query.params:
            print(f"-- parameters: {query.params!r}")


def load(shell) -> SqlflowMagics:
    """Register the magics on ``shell`` and remember the instance for the side panel."""
    magics = SqlflowMagics(shell=shell)
    shell.register_magics(magics)
    _ACTIVE.append(magics)
    return magics


def unload(shell) -> None:
    """Close the database, metrics server and run log of the most recent instance."""
    if _ACTIVE:
        magics = _ACTIVE.pop()
        if magics._observers is not None:
            magics._observers.close()
        if magics._session is not None:
            magics._session.close()


__all__ = ["SqlflowMagics", "active_magics", "SqlflowError", "STATE_SCHEMA"]
