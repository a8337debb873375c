"""Running one transform: resolve, bind, validate, apply the mode, commit data + state.

Everything a run changes (data, schema, watermark, transform definition, run record)
happens in one transaction. A failure rolls all of it back and is then recorded, on its
own, as a failed run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb

from sqlflow_magic.engine.base import Column, Query, TableRef, Window
from sqlflow_magic.engine.duckdb import DuckDBEngine, DuckDBTime
from sqlflow_magic.engine.session import Session
from sqlflow_magic.errors import (
    DatabaseError,
    ModeError,
    SqlflowError,
    WatermarkError,
    database_error,
)
from sqlflow_magic.modes.base import ModeOutcome, RunContext
from sqlflow_magic.modes.registry import HANDLERS
from sqlflow_magic.modes.window import compute_window, plan_lookback
from sqlflow_magic.namespace import bind_variables, frames_registered
from sqlflow_magic.observe.events import RunEvent, RunEvents
from sqlflow_magic.observe.redact import redact_text
from sqlflow_magic.quality.recognised import KindsOfColumns
from sqlflow_magic.quality.rules import (
    QualityCheckFailed,
    RuleResult,
    check_rule_columns,
    run_rules,
)
from sqlflow_magic.state.store import STATE_SCHEMA, RunRecord, StateStore, TargetState, utcnow
from sqlflow_magic.syntax.names import fold
from sqlflow_magic.syntax.source import CellSource
from sqlflow_magic.syntax.spec import Mode, TransformSpec

_log = logging.getLogger("sqlflow_magic")

# How the @macros appear to DuckDB: typed casts of bound parameters, never pasted text.
_MACRO_SQL = {
    "start_dt": "CAST($sqlflow_start AS TIMESTAMP)",
    "end_dt": "CAST($sqlflow_end AS TIMESTAMP)",
    "start_date": "CAST(CAST($sqlflow_start AS TIMESTAMP) AS DATE)",
    "end_date": "CAST(CAST($sqlflow_end AS TIMESTAMP) AS DATE)",
}


@dataclass(frozen=True)
class RunOptions:
    """Cell options that change how a transform runs."""

    dry_run: bool = False
    profile: bool = True  # record the seven-category profile of the rows written
    start: str | None = None
    end: str | None = None
    now: dt.datetime | None = None  # fixed "now" for tests; None means the clock


@dataclass(frozen=True)
class RunResult:
    """What one transform run did."""

    run_id: str
    target: str
    mode: Mode
    status: str  # 'success' or 'dry run'
    outcome: ModeOutcome
    started_at: dt.datetime
    duration_s: float
    window: Window | None = None
    watermark_before: dt.datetime | None = None
    watermark_after: dt.datetime | None = None
    planned: tuple[Query, ...] = ()
    notes: tuple[str, ...] = field(default=())
    rule_results: tuple[RuleResult, ...] = ()
    profile: object | None = None  # quality.model.Profile of the rows written
    # (mode, keys, time column, lookback, text) as recorded in sqlflow.transforms
    definition: tuple | None = None

    @property
    def warnings(self) -> list[str]:
        """One line per WARN rule that failed."""
        return [f"warning: {r.describe()}" for r in self.rule_results if not r.passed]


def run_transform(
    spec: TransformSpec,
    session: Session,
    namespace: Mapping[str, object],
    source: CellSource,
    options: RunOptions = RunOptions(),
    events: RunEvents | None = None,
) -> RunResult:
    """Run one transform atomically and return what it did.

    ``events`` (metrics, logs, alerts, live views) hears a ``started`` event and then a
    ``success``, ``failed`` or ``dry run`` one.

    Raises:
        SqlflowError: anything that stopped the run; nothing was changed.
    """
    con = session.connection()
    engine = DuckDBEngine(con, dry_run=options.dry_run)
    # The lock is keyed by the name as written, so that the table is resolved under it:
    # a run that waited sees what the run before it created. Two spellings of one table
    # from two threads fall back on DuckDB's own write-conflict error.
    with session.target_lock(".".join(spec.target.parts())):
        if session.place is None or con is not session.connection_of_owner():
            place = engine.place()
            if con is session.connection_of_owner():
                session.place = place
        else:
            place = session.place
        table = _resolve(engine, spec, source, session.known_targets, place)
        store = StateStore(con, table.catalog)
        if not options.dry_run:
            session.ensure_state(table.catalog, store.create_tables)
        started, clock = utcnow(), time.perf_counter()
        run_id = uuid.uuid4().hex[:12]
        # A dry run changes nothing and records nothing, so it tells observers nothing.
        emit = events.emit if events is not None and not options.dry_run else _ignore
        emit(RunEvent(run_id, table.key, spec.mode.value, "started", started))
        failure: SqlflowError | None = None
        # What this kernel last committed as the target's definition: a run that finds
        # it unchanged need not read it back (see Session.definitions).
        remembered_at = (table.catalog.lower(), fold(table.key))
        known = session.definitions.get(remembered_at)
        try:
            with frames_registered(con, spec.names, namespace), engine.transaction():
                result = _run(
                    spec, table, engine, store, namespace, source, options, run_id, started,
                    known, session.kinds.of(table.key, spec.source),
                )  # fmt: skip
            if result.definition is not None:
                session.definitions[remembered_at] = result.definition
        except SqlflowError as err:
            failure = err
            raise
        except duckdb.InterruptException as err:
            failure = SqlflowError(
                "the run was interrupted", hint="nothing was changed; run the cell again"
            )
            raise failure from err
        except duckdb.Error as err:
            failure = _database_error(err, spec)
            raise failure from err
        except KeyboardInterrupt:
            failure = SqlflowError("the run was interrupted", hint="nothing was changed")
            raise
        finally:
            if failure is not None:
                duration = time.perf_counter() - clock
                _record_failure(store, spec, table, run_id, started, duration, failure, options)
                emit(_failed_event(spec, table, run_id, started, duration, failure))
        emit(_result_event(result))
        return result


def _run(
    spec: TransformSpec,
    table: TableRef,
    engine: DuckDBEngine,
    store: StateStore,
    namespace: Mapping[str, object],
    source: CellSource,
    options: RunOptions,
    run_id: str,
    started: dt.datetime,
    known_definition: tuple | None = None,
    kinds: KindsOfColumns | None = None,
) -> RunResult:
    clock = time.perf_counter()
    table, table_columns = _existing_columns(engine, spec, table, source)
    window = lookback = None
    notes: list[str] = []
    if spec.mode is Mode.INCREMENTAL:
        lookback = plan_lookback(spec, source, _query_text(spec), DuckDBTime(engine.con))
    state = _read_state(store, table, options, lookback, spec, known_definition)
    watermark = state.watermark
    if spec.mode is Mode.INCREMENTAL:
        window = compute_window(
            spec, state.watermark_start, DuckDBTime(engine.con),
            start=options.start, end=options.end, now=options.now,
        )  # fmt: skip
        if not any(not m.is_variable for m in spec.query.macros):
            notes.append(
                f"{table.key} reads its whole source on every run: filter it with "
                f"WHERE <time> > @start_dt AND <time> <= @end_dt to read only the window"
            )
    query = _bind(spec, namespace, source, window)
    columns = tuple(engine.query_columns(query))
    _check_columns(spec, columns, source, engine)
    check_rule_columns(spec.rules, columns, source, table.key)
    wants_rows = bool(spec.rules) or (options.profile and not options.dry_run)
    ctx = RunContext(spec, table, query, columns, engine, window, wants_rows, table_columns)
    outcome = HANDLERS[spec.mode].apply(ctx)
    rule_results: list[RuleResult] = []
    if spec.rules and not options.dry_run:
        tz = frozenset(fold(c.name) for c in columns if c.type == "TIMESTAMP WITH TIME ZONE")
        assert outcome.written is not None
        rule_results = run_rules(
            engine, spec.rules, outcome.written, engine.table_sql(table), tz,
            # FRESH is judged as of the time the run processes up to: the window's end
            # for INCREMENTAL (so a backfill or a replay with --end is judged then).
            window.end if window else (options.now or utcnow()),
        )  # fmt: skip
        if any(not r.passed and not r.rule.warn for r in rule_results):
            raise QualityCheckFailed(table.key, rule_results)
    profile = None
    if options.profile and not options.dry_run and outcome.written is not None:
        profile = _profile(engine, spec, table, outcome, rule_results, window, options, kinds)
    if outcome.staged is not None:
        engine.drop_staged(outcome.staged)
    watermark_after = watermark
    duration = time.perf_counter() - clock
    definition = None
    if not options.dry_run:
        definition = (spec.mode.value, spec.keys, spec.time_column, lookback, spec.source)
        store.save_transform(table.key, definition, state.definition)
        if spec.mode is Mode.INCREMENTAL and outcome.newest is not None:
            newest = outcome.newest
            moved = store.advance_watermark(
                table.key, spec.time_column or "", (newest.sql, newest.params), run_id,
                exists=state.has_watermark_row,
            )  # fmt: skip
            watermark_after = moved if moved is not None else watermark
        store.record_schema_changes(run_id, table.key, outcome.schema_changes)
        if profile is not None:
            store.record_profile(run_id, table.key, profile)
        store.record_rule_results(run_id, table.key, rule_results)
        store.record_run(
            RunRecord(
                run_id=run_id,
                target=table.key,
                mode=spec.mode.value,
                status="success",
                started_at=started,
                finished_at=utcnow(),
                duration_s=duration,
                window_start=window.start if window else None,
                window_end=window.end if window else None,
                rows_in=outcome.rows_in,
                rows_inserted=outcome.inserted,
                rows_updated=outcome.updated,
                rows_deleted=outcome.deleted,
                rows_left_out=outcome.left_out,
                watermark_before=watermark,
                watermark_after=watermark_after,
            )
        )
    return RunResult(
        run_id=run_id, target=table.key, mode=spec.mode,
        status="dry run" if options.dry_run else "success", outcome=outcome,
        started_at=started, duration_s=duration, window=window,
        watermark_before=watermark, watermark_after=watermark_after,
        planned=tuple(engine.planned()), notes=tuple(notes),
        rule_results=tuple(rule_results),
        profile=profile, definition=definition,
    )  # fmt: skip


def _ignore(event: RunEvent) -> None:
    return None


def _result_event(result: RunResult) -> RunEvent:
    out = result.outcome
    window = result.window
    return RunEvent(
        run_id=result.run_id, target=result.target, mode=result.mode.value,
        status=result.status, started_at=result.started_at, duration_s=result.duration_s,
        rows_in=out.rows_in, rows_inserted=out.inserted, rows_updated=out.updated,
        rows_deleted=out.deleted, rows_left_out=out.left_out,
        window_start=window.start if window else None,
        window_end=window.end if window else None, watermark=result.watermark_after,
        rules_passed=sum(r.passed for r in result.rule_results),
        rules_warned=sum(not r.passed and r.rule.warn for r in result.rule_results),
        schema_changes=tuple(c.describe() for c in out.schema_changes),
        quality_scores=_scores(result.profile),
    )  # fmt: skip


def _scores(profile) -> dict[str, int]:
    if profile is None:
        return {}
    from sqlflow_magic.quality.model import CATEGORIES

    return {c: profile.score(c) for c in CATEGORIES}


def _failed_event(spec, table, run_id, started, duration, err: SqlflowError) -> RunEvent:
    results = getattr(err, "results", ())
    return RunEvent(
        run_id=run_id, target=table.key, mode=spec.mode.value, status="failed",
        started_at=started, duration_s=duration, error=redact_text(err.message),
        error_type=type(err).__name__,
        rules_passed=sum(r.passed for r in results),
        rules_failed=sum(not r.passed and not r.rule.warn for r in results),
    )  # fmt: skip


def _resolve(
    engine: DuckDBEngine,
    spec: TransformSpec,
    source: CellSource,
    known: dict | None = None,
    here: tuple | None = None,
) -> TableRef:
    parts = spec.target.parts()
    table = engine.resolve(parts) if known is None else engine.locate(parts, known, here)
    if table.schema.lower() == STATE_SCHEMA:
        pos = spec.positions["target"]
        raise ModeError(
            f"schema {STATE_SCHEMA} holds sqlflow's state tables; transforms cannot write there",
            hint="choose another schema for the target",
            table=table.key,
            **source.where(pos.offset, pos.length),
        )
    return table


def _profile(engine, spec, table, outcome, rule_results, window, options, kinds):
    """The profile of the rows this run wrote, inside its transaction.

    A bug in the profile's Python never costs the run (it goes without a profile); a
    failing profile query does, since DuckDB aborts the transaction it ran in.
    """
    from sqlflow_magic.quality.model import RuleOutcome
    from sqlflow_magic.quality.profile import profile_relation

    written, staged = outcome.written, outcome.staged
    # Rows read straight from the staged batch have its columns: no need to bind them.
    columns = staged.columns if staged is not None and written == engine.scan(staged) else None
    try:
        return profile_relation(
            engine.con, written.sql, written.params, columns=columns,
            # UPSERT keys were proven unique before the merge: no need to count them again
            keys=() if spec.mode is Mode.UPSERT else spec.keys,
            time_columns=(spec.time_column,) if spec.time_column else None,
            rule_results=[RuleOutcome.from_result(r) for r in rule_results],
            target=table, now=window.end if window else (options.now or utcnow()), kinds=kinds,
        )  # fmt: skip
    except duckdb.Error as err:
        raise DatabaseError(
            f"the quality profile of {table.key} failed: {err}",
            hint="report it; meanwhile %config SqlflowMagics.profile_runs = False turns "
            "the per-run profile off",
            table=table.key,
        ) from err
    except Exception:  # a profile is a report, not a gate
        _log.exception("sqlflow: profiling %s failed; the run goes on without it", table.key)
        return None


def _existing_columns(
    engine: DuckDBEngine, spec: TransformSpec, table: TableRef, source: CellSource
) -> tuple[TableRef, tuple[Column, ...]]:
    """The target's columns (DESCRIBE); a remembered table dropped since is looked up anew."""
    if not table.exists:
        return table, ()
    try:
        return table, tuple(engine.table_columns(table))
    except duckdb.CatalogException:
        fresh = _resolve(engine, spec, source)
        return fresh, tuple(engine.table_columns(fresh)) if fresh.exists else ()


def _read_state(
    store: StateStore,
    table: TableRef,
    options: RunOptions,
    lookback: str | None,
    spec: TransformSpec,
    known_definition: tuple | None,
) -> TargetState:
    if (
        options.dry_run
        and not store.con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = $c AND schema_name = $s "
            "AND table_name = 'watermarks'",
            {"c": store.catalog, "s": STATE_SCHEMA},
        ).fetchall()
    ):
        return TargetState(None, None, False)  # a dry run creates nothing, state included
    # Only INCREMENTAL has a watermark; the other modes report none.
    state = store.read(
        table.key, lookback,
        definition=known_definition is None,
        watermark=spec.mode is Mode.INCREMENTAL,
    )  # fmt: skip
    if known_definition is not None:
        return dataclasses.replace(state, definition=known_definition)
    return state


def _query_text(spec: TransformSpec) -> str:
    """The query text with @macros swapped for casts of typed parameters."""
    text = spec.query.text
    macros = [m for m in spec.query.macros if not m.is_variable]
    for use in sorted(macros, key=lambda m: m.offset, reverse=True):
        text = text[: use.offset] + _MACRO_SQL[use.name] + text[use.offset + use.length :]
    return text


def _bind(
    spec: TransformSpec,
    namespace: Mapping[str, object],
    source: CellSource,
    window: Window | None,
) -> Query:
    """The query ready to run: macros as typed parameters, every value bound."""
    params = bind_variables(spec.query.macros, namespace, source, spec.query.offset)
    if window is not None:
        # Only the bounds the query uses: DuckDB refuses a parameter it does not use.
        used = {m.name.split("_")[0] for m in spec.query.macros if not m.is_variable}
        if "start" in used:
            params["sqlflow_start"] = window.start or "-infinity"
        if "end" in used:
            params["sqlflow_end"] = window.end
    return Query(_query_text(spec), params)


def _check_columns(
    spec: TransformSpec, columns: tuple[Column, ...], source: CellSource, engine: DuckDBEngine
) -> None:
    by_name = {fold(c.name): c for c in columns}
    if len(by_name) != len(columns):
        seen: set[str] = set()
        dup = next(c.name for c in columns if fold(c.name) in seen or seen.add(fold(c.name)))
        raise ModeError(
            f"the query returns column '{dup}' more than once",
            hint="give each column its own name with AS",
            table=str(spec.target),
            column=dup,
        )
    wanted = [(f"KEY:{k.lower()}", k, "KEY") for k in spec.keys]
    if spec.time_column:
        wanted.append(("BY", spec.time_column, "BY"))
    for pos_key, name, clause in wanted:
        pos = spec.positions.get(pos_key)
        where = source.where(pos.offset, pos.length) if pos else {}
        col = by_name.get(fold(name))
        if col is None:
            close = difflib.get_close_matches(name, [c.name for c in columns], n=1)
            suggestion = f"did you mean '{close[0]}'? " if close else ""
            raise ModeError(
                f"no such column for {clause}: {spec.target}.{name}; the query returns "
                + ", ".join(c.name for c in columns),
                hint=f"{suggestion}name a column the query returns, or add it to the SELECT",
                table=str(spec.target),
                column=name,
                **where,
            )
        if clause == "BY" and not engine.is_time_type(col.type):
            raise WatermarkError(
                f"the time column {name} is {col.type}, not a DATE or TIMESTAMP",
                hint=f"cast it in the query, e.g. CAST({name} AS TIMESTAMP) AS {name}",
                table=str(spec.target),
                column=name,
                **where,
            )


def _database_error(err: duckdb.Error, spec: TransformSpec) -> DatabaseError:
    # The query body starts on the spec's line only when AS is on the first line; DuckDB's
    # LINE counts from the statement we sent, which may wrap the body, so stay at spec.line.
    wrapped = database_error(
        err,
        spec.line,
        f"the transform of {spec.target} failed: ",
        "fix the query and run the cell again; nothing was changed",
    )
    wrapped.line, wrapped.table = spec.line, str(spec.target)
    return wrapped


def _record_failure(
    store: StateStore,
    spec: TransformSpec,
    table: TableRef,
    run_id: str,
    started: dt.datetime,
    duration: float,
    err: SqlflowError,
    options: RunOptions,
) -> None:
    """Record a failed run after the rollback; never hide the original error."""
    if options.dry_run:
        return
    # If the database itself is failing, the user sees the first error, not this one.
    with contextlib.suppress(duckdb.Error), store.con.cursor() as cursor:
        # The failed run's rule results explain it; record them with it, in one transaction.
        failed = StateStore(cursor, store.catalog)
        cursor.execute("BEGIN TRANSACTION")
        failed.record_rule_results(run_id, table.key, getattr(err, "results", ()))
        failed.record_run(
            RunRecord(
                run_id=run_id,
                target=table.key,
                mode=spec.mode.value,
                status="failed",
                started_at=started,
                finished_at=utcnow(),
                duration_s=duration,
                # Error text can quote the data (DuckDB names the value it choked on).
                error=redact_text(err.message),
            )
        )
        cursor.execute("COMMIT")
