"""Threshold alerts on the run metrics, with a cool-down, kept in the state tables.

A rule reads ``METRIC[{label='value', ...}] OP THRESHOLD``::

    watermark_lag{target='main.hourly'} > 2h
    runs_failed >= 3
    consecutive_failures{target='orders'} > 0
    quality_score{category='validity'} < 80
    sqlflow_rows_total{kind='inserted', target='main.audit'} == 0

- METRIC is a short name (``SHORT_NAMES``) or a family of ``metrics.METRICS``.
- Labels filter the series: ``=`` or ``!=``, the value quoted or bare. ``target`` compares
  case-insensitively, and a value without a dot matches any schema (``target='orders'``
  is ``main.orders``).
- OP is one of ``> >= < <= == !=``.
- THRESHOLD is a number, or for a metric in seconds a duration: ``500ms 90s 5m 2h 1d 1w``
  and sums like ``1h30m``.

A rule is judged per target. A counter's series of one target are summed
(``runs_failed{target='x'}`` counts the failures of every mode); among a gauge's series
the one that fares worst against the threshold counts (the lowest quality category for
``<``). A rule that fires for a target does not fire again for it until its cool-down has
passed; then it fires again if it still holds. Counters are totals since the first run
in ``sqlflow.runs``: to hear about a new failure, prefer ``consecutive_failures > 0`` to
``runs_failed > 0``, which holds for good after one failure.

Rules live in ``sqlflow.alert_rules`` and firings in ``sqlflow.alerts_fired``, in the
connected database, so a file database keeps its rules (and their cool-downs) across a
kernel restart; ``Alerts.load()`` reads them after a connect.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import logging
import math
import operator
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlflow_magic.errors import UsageError
from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.metrics import METRICS, RULE_RESULTS, MetricsRegistry

_log = logging.getLogger("sqlflow_magic.observe")

DEFAULT_COOLDOWN_S = 3600.0  # one reminder an hour for a condition that persists

# short name -> (sample name, labels it fixes)
SHORT_NAMES: dict[str, tuple[str, dict[str, str]]] = {
    "runs": ("sqlflow_runs_total", {}),
    "runs_failed": ("sqlflow_runs_total", {"status": "failed"}),
    "runs_succeeded": ("sqlflow_runs_total", {"status": "success"}),
    "run_duration": ("sqlflow_last_run_duration_seconds", {}),
    "rows_inserted": ("sqlflow_rows_total", {"kind": "inserted"}),
    "rows_updated": ("sqlflow_rows_total", {"kind": "updated"}),
    "rows_deleted": ("sqlflow_rows_total", {"kind": "deleted"}),
    "rules_passed": ("sqlflow_rules_total", {"result": "passed"}),
    "rules_warned": ("sqlflow_rules_total", {"result": "warned"}),
    "rules_failed": ("sqlflow_rules_total", {"result": "failed"}),
    "quality_score": ("sqlflow_quality_score", {}),
    "watermark_lag": ("sqlflow_watermark_lag_seconds", {}),
    "last_success_age": ("sqlflow_last_success_age_seconds", {}),
    "consecutive_failures": ("sqlflow_consecutive_failures", {}),
}
_SAMPLES = {
    name: info for name, info in METRICS.items() if info.kind != "histogram"
} | {
    f"sqlflow_run_duration_seconds{suffix}": METRICS["sqlflow_run_duration_seconds"]
    for suffix in ("_count", "_sum")
}  # fmt: skip
_LABEL_VALUES = {
    "status": ("success", "failed"),
    "kind": ("inserted", "updated", "deleted"),
    "result": RULE_RESULTS,
    "mode": ("REPLACE", "APPEND", "UPSERT", "INCREMENTAL"),
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


class AlertRuleError(UsageError):
    """An alert rule, duration or name that cannot be read; ``col`` is 1-based in it."""

    title = "Alert rule error"


# -- durations --------------------------------------------------------------------------


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in ``90s``, ``5m``, ``2h``, ``1d``, ``1w``, ``500ms``, ``1h30m`` or ``90``.

    Args:
        text: the duration; a plain number is seconds.
        what: how an error names it (``--cooldown``).

    Raises:
        AlertRuleError: text that is not a duration.

    >>> parse_duration("90s"), parse_duration("1h30m"), parse_duration("2.5")
    (90.0, 5400.0, 2.5)
    """
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)([a-z]+)", stripped)
    if not parts or "".join(n + u for n, u in parts) != stripped:
        raise AlertRuleError(
            f"cannot read the {what} {text!r}",
            hint="write a number of seconds or a duration such as 500ms, 90s, 5m, 2h, 1d, "
            "1w, 1h30m",
        )
    for _, unit in parts:
        if unit not in _UNITS:
            close = difflib.get_close_matches(unit, _UNITS, n=1)
            raise AlertRuleError(
                f"unknown unit {unit!r} in the {what} {text!r}",
                hint=(f"did you mean {close[0]!r}? " if close else "") + "units: ms, s, m, h, d, w",
            )
    return sum(float(n) * _UNITS[u] for n, u in parts)


def format_value(value: float, unit: str) -> str:
    """A value as a person reads it: durations as ``2h 05m``, counts without ``.0``.

    >>> format_value(7500, "seconds"), format_value(0.35, "seconds"), format_value(3.0, "runs")
    ('2h 05m', '350 ms', '3')
    """
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if unit == "seconds":
        sign, v = ("-" if value < 0 else ""), abs(value)
        if v < 1:
            return f"{sign}{v * 1000:.0f} ms"
        if v < 60:
            return f"{sign}{v:.1f} s"
        minutes, hours, days = int(v // 60), int(v // 3600), int(v // 86400)
        if v < 3600:
            return f"{sign}{minutes}m {int(v % 60):02d}s"
        if v < 86400:
            return f"{sign}{hours}h {int(v % 3600 // 60):02d}m"
        return f"{sign}{days}d {int(v % 86400 // 3600):02d}h"
    return f"{value:g}" if value != int(value) else str(int(value))


# -- rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelFilter:
    """``label = value`` or ``label != value`` on a series."""

    label: str
    value: str
    negate: bool = False

    def __post_init__(self) -> None:
        # Judged against every series after every run: compare prepared lowercase text.
        want = self.value.lower()
        bare = self.label == "target" and "." not in want
        object.__setattr__(self, "_want", want)
        object.__setattr__(self, "_suffix", "." + want if bare else None)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with ``labels`` passes."""
        have = labels.get(self.label, "").lower()
        hit = have == self._want or (self._suffix is not None and have.endswith(self._suffix))
        return hit != self.negate

    def __str__(self) -> str:
        return f"{self.label}{'!=' if self.negate else '='}'{self.value}'"


@dataclass(frozen=True)
class AlertExpr:
    """A parsed rule: which series, which comparison, which threshold."""

    text: str  # as written
    metric: str  # as written: a short name or a family
    sample: str  # the name MetricsRegistry.series() knows
    filters: tuple[LabelFilter, ...]  # the written ones and those the short name fixes
    op: str
    threshold: float
    unit: str  # of the metric: 'seconds', 'runs', 'rows', 'rules', 'score'
    counter: bool  # series of one target are summed, not compared one by one

    def holds(self, value: float) -> bool:
        """Whether ``value`` meets the condition."""
        return _OPS[self.op](value, self.threshold)

    @property
    def severity(self) -> str:
        """'critical' for rules on failures, 'warning' for the rest (red or amber)."""
        failing = self.sample == "sqlflow_consecutive_failures" or any(
            f.label in ("status", "result") and f.value.lower() == "failed" and not f.negate
            for f in self.filters
        )
        return "critical" if failing else "warning"


def parse_rule(text: str) -> AlertExpr:
    """Read ``METRIC[{label='value', ...}] OP THRESHOLD``.

    Raises:
        AlertRuleError: what is wrong, its column, and how to write it instead.

    >>> rule = parse_rule("watermark_lag{target='main.hourly'} > 2h")
    >>> rule.sample, [str(f) for f in rule.filters], rule.op, rule.threshold
    ('sqlflow_watermark_lag_seconds', ["target='main.hourly'"], '>', 7200.0)
    """
    return _RuleParser(text).parse()


class _RuleParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, hint: str, at: int | None = None) -> AlertRuleError:
        at = self.pos if at is None else at
        caret = " " * at + "^"
        return AlertRuleError(
            f"{message} (column {at + 1} of the rule)",
            hint=hint,
            excerpt=f"{self.text}\n{caret}",
            col=at + 1,
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, pattern: str) -> str | None:
        self.skip()
        found = re.compile(pattern).match(self.text, self.pos)
        if not found:
            return None
        self.pos = found.end()
        return found[0]

    def parse(self) -> AlertExpr:
        example = "write e.g. watermark_lag{target='main.hourly'} > 2h"
        start = (self.skip(), self.pos)[1]
        metric = self.take(r"[A-Za-z_][A-Za-z0-9_]*")
        if metric is None:
            raise self.error("a rule starts with a metric name", example)
        sample, fixed = self._metric(metric, start)
        info = _SAMPLES[sample]
        filters = [LabelFilter(k, v) for k, v in fixed.items()]
        if self.take(r"\{"):
            filters.extend(self._labels(metric, info.labels, fixed))
        at = (self.skip(), self.pos)[1]
        op = self.take(r">=|<=|==|!=|>|<|=")
        if op is None or op == "=":
            written = self.text[at:].strip()
            shown = self.text[:at].strip()
            raise self.error(
                f"expected a comparison after {shown}"
                + (f", found {written.split()[0]!r}" if written else ""),
                f"use one of > >= < <= == != (== to test equality), "
                f"e.g. {shown} > {'2h' if info.unit == 'seconds' else '0'}",
                at,
            )
        at = (self.skip(), self.pos)[1]
        word = self.take(
            r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
            r"(?:[A-Za-z]+(?:\d+(?:\.\d+)?[A-Za-z]+)*)?"
        )
        if word is None:
            raise self.error(
                "expected a threshold: a number"
                + (" or a duration" if info.unit == "seconds" else ""),
                "e.g. > 0, >= 3, < 80" + (", > 90s, > 2h, > 1d" if info.unit == "seconds" else ""),
                at,
            )
        threshold = self._threshold(word, info.unit, metric, at)
        self.skip()
        if self.pos < len(self.text):
            raise self.error(
                f"unexpected {self.text[self.pos :]!r} after the threshold",
                "a rule is one comparison; add another rule for another condition",
            )
        return AlertExpr(
            text=self.text.strip(), metric=metric, sample=sample, filters=tuple(filters),
            op=op, threshold=threshold, unit=info.unit, counter=info.kind != "gauge",
        )  # fmt: skip

    def _metric(self, metric: str, at: int) -> tuple[str, dict[str, str]]:
        if metric in SHORT_NAMES:
            return SHORT_NAMES[metric]
        if metric in _SAMPLES:
            return metric, {}
        known = [*SHORT_NAMES, *_SAMPLES]
        close = difflib.get_close_matches(metric, known, n=1)
        if metric == "sqlflow_run_duration_seconds":
            hint = "alert on run_duration (the last run), or on its _count or _sum"
        else:
            hint = (
                (f"did you mean {close[0]}? " if close else "")
                + "metrics: "
                + ", ".join(SHORT_NAMES)
            )
        raise self.error(f"unknown metric {metric!r}", hint, at)

    def _labels(self, metric: str, allowed: tuple[str, ...], fixed: dict[str, str]):
        out: list[LabelFilter] = []
        while True:
            at = (self.skip(), self.pos)[1]
            if self.take(r"\}"):
                return out
            label = self.take(r"[A-Za-z_][A-Za-z0-9_]*")
            if label is None:
                raise self.error("expected a label name or }", "e.g. {target='main.orders'}")
            if label not in allowed:
                close = difflib.get_close_matches(label, allowed, n=1)
                raise self.error(
                    f"{metric} has no label {label!r}",
                    (f"did you mean {close[0]}? " if close else "")
                    + f"its labels: {', '.join(allowed)}",
                    at,
                )
            if label in fixed:
                raise self.error(
                    f"{metric} already means {label}='{fixed[label]}'",
                    f"drop the {label} filter, or use {_SAMPLES[SHORT_NAMES[metric][0]].name}",
                    at,
                )
            op_at = (self.skip(), self.pos)[1]
            op = self.take(r"!=|==|=")
            if op is None:
                raise self.error(
                    f"expected = or != after {label}", f"e.g. {{{label}='...'}}", op_at
                )
            value_at = (self.skip(), self.pos)[1]
            value = self.take(r"'[^']*'|\"[^\"]*\"|[^\s,}'\"]+")
            if value is None:
                raise self.error(
                    f"expected a value for {label}",
                    f"quote it: {{{label}='...'}}" + ("" if self.pos < len(self.text) else
                                                     " and close the braces"),
                    value_at,
                )  # fmt: skip
            value = value.strip("'\"")
            self._check_value(label, value, value_at)
            out.append(LabelFilter(label, value, negate=op == "!="))
            self.skip()
            if self.take(r","):
                continue
            if self.pos >= len(self.text) or self.text[self.pos] != "}":
                raise self.error("expected , or } after a label filter",
                                 "close the filters with }")  # fmt: skip

    def _check_value(self, label: str, value: str, at: int) -> None:
        allowed = _LABEL_VALUES.get(label)
        if allowed and value.lower() not in (v.lower() for v in allowed):
            raise self.error(
                f"{label} is never {value!r}", f"{label} is one of: {', '.join(allowed)}", at
            )
        if label == "category":
            from sqlflow_magic.quality.model import CATEGORIES

            if value.lower() not in CATEGORIES:
                raise self.error(
                    f"no quality category {value!r}",
                    f"categories: {', '.join(CATEGORIES)}",
                    at,
                )

    def _threshold(self, word: str, unit: str, metric: str, at: int) -> float:
        try:
            return float(word)
        except ValueError:
            pass
        if unit != "seconds":
            raise self.error(
                f"{metric} counts {unit}, so the threshold {word!r} cannot be a duration",
                "write a plain number, e.g. >= 3",
                at,
            )
        try:
            return parse_duration(word)
        except AlertRuleError as err:
            raise self.error(err.message, err.hint or "", at) from None


# -- firing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """A named rule with its cool-down."""

    name: str
    expr: AlertExpr
    cooldown_s: float = DEFAULT_COOLDOWN_S
    created_at: dt.datetime | None = None  # naive UTC

    @property
    def expression(self) -> str:
        """The rule as written."""
        return self.expr.text


@dataclass(frozen=True)
class AlertFired:
    """One firing of a rule for one target: shown inline, logged, kept in alerts_fired."""

    alert: str
    expression: str
    target: str
    value: float
    threshold: float
    op: str
    unit: str
    fired_at: dt.datetime  # naive UTC
    severity: str = "warning"  # 'critical' (red) or 'warning' (amber)
    labels: Mapping[str, str] = field(default_factory=dict)  # the series that counted

    def describe(self) -> str:
        """``hourly_late: watermark_lag of main.hourly is 2h 05m > 2h``."""
        value = format_value(self.value, self.unit)
        threshold = format_value(self.threshold, self.unit)
        metric = self.expression.split("{")[0].split()[0]
        extra = ", ".join(f"{k}={v}" for k, v in self.labels.items() if k != "target")
        return (
            f"{self.alert}: {metric} of {self.target or 'all targets'}"
            f"{f' ({extra})' if extra else ''} is {value} {self.op} {threshold}"
        )

    def __repr__(self) -> str:
        return f"ALERT {self.describe()} (fired {self.fired_at:%Y-%m-%d %H:%M:%S} UTC)"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        color, background = (
            ("#b71c1c", "#fdecea") if self.severity == "critical" else ("#8a5300", "#fff4e0")
        )
        return (
            f'<div class="sqlflow-alert sqlflow-alert-{self.severity}" style="border-left:4px '
            f"solid {color};background:{background};color:{color};padding:4px 8px;"
            f'font-family:var(--jp-code-font-family,monospace)">'
            f"&#9888; <b>ALERT {html.escape(self.alert)}</b>: "
            f"{html.escape(self.describe().partition(': ')[2])} "
            f'<span style="opacity:.7">(fired {self.fired_at:%Y-%m-%d %H:%M:%S} UTC; '
            f"{html.escape(self.expression)})</span></div>"
        )

    def as_record(self) -> dict[str, object]:
        """The fields a log line or a state row takes."""
        return {
            "alert": self.alert, "expression": self.expression, "target": self.target,
            "value": self.value, "threshold": self.threshold, "op": self.op,
            "severity": self.severity, "fired_at": self.fired_at,
        }  # fmt: skip


_DDL = """
CREATE SCHEMA IF NOT EXISTS sqlflow;
CREATE TABLE IF NOT EXISTS sqlflow.alert_rules (
    name VARCHAR, expression VARCHAR, cooldown_s DOUBLE, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS sqlflow.alerts_fired (
    alert VARCHAR, expression VARCHAR, target VARCHAR, value DOUBLE, threshold DOUBLE,
    fired_at TIMESTAMP);
"""


class Alerts:
    """The alert rules of one magics instance, judged against its metrics.

    Args:
        metrics: the registry the rules read.
        clock: seconds since the epoch; ``time.time`` unless a test fixes it.
        connection: returns the connected database's connection (or None), called each
            time rules or firings are read or written, so a ``connect`` is followed.

    Example::

        alerts = Alerts(metrics, connection=lambda: session.connection())
        events.subscribe(metrics); events.subscribe(alerts)   # metrics first
        alerts.add("watermark_lag{target='main.hourly'} > 2h", name="hourly_late",
                   cooldown="30m")
        for fired in alerts.pop_fired(): display(fired)       # after a cell's runs
    """

    def __init__(
        self,
        metrics: MetricsRegistry,
        *,
        clock: Callable[[], float] = time.time,
        connection: Callable[[], object] | None = None,
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self._connection = connection
        self._lock = threading.Lock()
        self._rules: dict[str, AlertRule] = {}
        self._last_fired: dict[tuple[str, str], float] = {}
        self._pending: list[AlertFired] = []
        self._listeners: list[Callable[[AlertFired], None]] = []

    # -- rules ----------------------------------------------------------------------------

    def add(
        self, expression: str, *, name: str | None = None, cooldown: str | float | None = None
    ) -> AlertRule:
        """Add a rule (and keep it in ``sqlflow.alert_rules``).

        Args:
            expression: ``METRIC[{label='value'}] OP THRESHOLD``.
            name: the rule's name; by default made from the metric and target.
            cooldown: seconds or a duration (``30m``); default one hour.

        Raises:
            AlertRuleError: an unreadable rule, cool-down or name, or a name in use.
        """
        expr = parse_rule(expression)
        cooldown_s = (
            DEFAULT_COOLDOWN_S
            if cooldown is None
            else parse_duration(str(cooldown), what="cool-down")
        )
        if cooldown_s < 0:
            raise AlertRuleError("a cool-down cannot be negative", hint="e.g. --cooldown 30m")
        with self._lock:
            if name is None:
                name = self._default_name(expr)
            elif not _NAME.match(name):
                raise AlertRuleError(
                    f"{name!r} cannot name an alert",
                    hint="use letters, digits, _ . - and start with a letter",
                )
            if name.lower() in (n.lower() for n in self._rules):
                raise AlertRuleError(
                    f"an alert named {name!r} exists",
                    hint=f"pick another --name, or remove it first: %sqlflow alert remove {name}",
                )
            rule = AlertRule(name, expr, cooldown_s, _utc(self.clock()))
            self._rules[name] = rule
        self._write(
            "INSERT INTO sqlflow.alert_rules VALUES ($n, $e, $c, $t)",
            {"n": name, "e": expr.text, "c": cooldown_s, "t": rule.created_at},
        )
        return rule

    def remove(self, name: str) -> AlertRule:
        """Remove the rule ``name`` (its past firings stay in ``sqlflow.alerts_fired``).

        Raises:
            AlertRuleError: no rule has that name.
        """
        with self._lock:
            found = next((n for n in self._rules if n.lower() == name.lower()), None)
            if found is None:
                close = difflib.get_close_matches(name, self._rules, n=1)
                raise AlertRuleError(
                    f"no alert named {name!r}",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "%sqlflow alert list shows the rules",
                )
            rule = self._rules.pop(found)
        self._write("DELETE FROM sqlflow.alert_rules WHERE lower(name) = lower($n)", {"n": found})
        return rule

    def rules(self) -> list[AlertRule]:
        """The rules, in the order they were added."""
        with self._lock:
            return list(self._rules.values())

    def load(self) -> int:
        """Replace the rules by those of the connected database; returns how many.

        Rules belong to a database, as its transforms do: after ``connect`` the rules are
        that database's, and each rule's cool-down continues from its last firing there.
        """
        con = self._con()
        rules: list[AlertRule] = []
        last: dict[tuple[str, str], float] = {}
        if con is not None and _has_tables(con):
            con = con.cursor()  # a connection of its own, as _write uses
            for name, text, cooldown_s, created in con.execute(
                "SELECT name, expression, cooldown_s, created_at FROM sqlflow.alert_rules "
                "ORDER BY created_at, name"
            ).fetchall():
                try:
                    rules.append(AlertRule(name, parse_rule(text), cooldown_s, created))
                except AlertRuleError as err:  # written by an older or newer version
                    _log.warning("sqlflow: skipping stored alert %s: %s", name, err.message)
            for alert, target, fired in con.execute(
                "SELECT alert, target, max(fired_at) FROM sqlflow.alerts_fired GROUP BY ALL"
            ).fetchall():
                last[(alert, target or "")] = _epoch(fired)
            con.close()
        with self._lock:
            self._rules = {r.name: r for r in rules}
            self._last_fired = last
        return len(rules)

    def frame(self):
        """The rules as a DataFrame: name, expression, cooldown, state, value, last_fired.

        ``state`` is ``firing`` when the condition holds now for some target (``value``
        then is the worst such value), ``ok`` when it holds for none, ``no data`` when no
        series matches.
        """
        import pandas as pd

        rows = []
        with self._lock:
            rules = list(self._rules.values())
            last = dict(self._last_fired)
        for rule in rules:
            judged = self._judge(rule.expr)
            holding = [(t, v) for t, v, _ in judged if rule.expr.holds(v)]
            state = "no data" if not judged else ("firing" if holding else "ok")
            shown = holding or [(t, v) for t, v, _ in judged]
            fired = [ts for (n, _), ts in last.items() if n == rule.name]
            rows.append({
                "name": rule.name,
                "expression": rule.expression,
                "cooldown": format_value(rule.cooldown_s, "seconds"),
                "state": state,
                "value": ", ".join(
                    f"{t}: {format_value(v, rule.expr.unit)}" for t, v in shown[:3]
                ),
                "last_fired": _utc(max(fired)) if fired else None,
            })  # fmt: skip
        return pd.DataFrame(
            rows, columns=["name", "expression", "cooldown", "state", "value", "last_fired"]
        )

    # -- evaluation -----------------------------------------------------------------------

    def subscribe(self, listener: Callable[[AlertFired], None]) -> None:
        """Call ``listener`` with every firing (the run log, for one)."""
        self._listeners.append(listener)

    def __call__(self, event: RunEvent) -> None:
        """Observer: judge every rule when a run ends; firings wait in ``pop_fired``.

        A ``started`` event changes no metric, and judging there would show a firing
        about the state before the run just ahead of the run's own result.
        """
        if event.status == "started":
            return
        fired = self.evaluate()
        if fired:
            with self._lock:
                self._pending.extend(fired)

    def pop_fired(self) -> list[AlertFired]:
        """The firings observed since the last call (for the magic to show inline)."""
        with self._lock:
            out, self._pending = self._pending, []
        return out

    def evaluate(self) -> list[AlertFired]:
        """Judge every rule now; returns the firings (each also recorded and announced)."""
        now = self.clock()
        fired: list[AlertFired] = []
        with self._lock:
            rules = list(self._rules.values())
        for rule in rules:
            for target, value, labels in self._judge(rule.expr):
                if not rule.expr.holds(value):
                    continue
                key = (rule.name, target)
                with self._lock:
                    last = self._last_fired.get(key)
                    if last is not None and now - last < rule.cooldown_s:
                        continue
                    self._last_fired[key] = now
                fired.append(
                    AlertFired(
                        alert=rule.name, expression=rule.expression, target=target,
                        value=value, threshold=rule.expr.threshold, op=rule.expr.op,
                        unit=rule.expr.unit, fired_at=_utc(now),
                        severity=rule.expr.severity, labels=labels,
                    )
                )  # fmt: skip
        if fired:
            self._record(fired)
        return fired

    def _judge(self, expr: AlertExpr) -> list[tuple[str, float, dict[str, str]]]:
        """Per target: the value the rule compares, and the labels of the series used.

        A counter's series of one target are summed; of a gauge's, the one that fares
        worst against the threshold counts (the highest for > and >=, the lowest for <
        and <=, the first that holds for == and !=).
        """
        filters = expr.filters
        worst = max if expr.op in (">", ">=") else min if expr.op in ("<", "<=") else None
        picked: dict[str, tuple[dict[str, str], float]] = {}
        for labels, value in self.metrics.series(expr.sample):
            if filters and not all(f.matches(labels) for f in filters):
                continue
            target = labels.get("target", "")
            seen = picked.get(target)
            if seen is None:
                picked[target] = ({"target": target} if expr.counter else labels, value)
            elif expr.counter:
                picked[target] = (seen[0], seen[1] + value)
            elif worst is not None:
                if worst(seen[1], value) != seen[1]:
                    picked[target] = (labels, value)
            elif not expr.holds(seen[1]) and expr.holds(value):
                picked[target] = (labels, value)
        return [(target, value, labels) for target, (labels, value) in picked.items()]

    def _record(self, fired: list[AlertFired]) -> None:
        for alert in fired:
            for listener in list(self._listeners):
                try:
                    listener(alert)
                except Exception:  # a listener is auxiliary, as observers are
                    _log.exception("sqlflow alert listener %r failed", listener)
        rows = [(a.alert, a.expression, a.target, a.value, a.threshold, a.fired_at) for a in fired]
        self._write("INSERT INTO sqlflow.alerts_fired VALUES (?, ?, ?, ?, ?, ?)", rows, many=True)

    # -- state ----------------------------------------------------------------------------

    def _con(self):
        return self._connection() if self._connection is not None else None

    def _write(self, sql: str, params, *, many: bool = False) -> None:
        """Write through a cursor of its own (outside any transaction a run or the user
        holds); a database that refuses (read-only, closed) leaves the rules in memory."""
        import duckdb

        con = self._con()
        if con is None:
            return
        run = "executemany" if many else "execute"
        try:
            with con.cursor() as cur:
                try:
                    getattr(cur, run)(sql, params)
                except duckdb.CatalogException:  # the first rule of this database
                    cur.execute(_DDL)
                    getattr(cur, run)(sql, params)
        except duckdb.Error as err:
            _log.warning("sqlflow: could not keep alerts in the database: %s", err)

    def _default_name(self, expr: AlertExpr) -> str:
        target = next((f.value for f in expr.filters if f.label == "target"), "")
        base = re.sub(r"[^A-Za-z0-9_]+", "_", f"{expr.metric}_{target.rpartition('.')[2]}")
        base = base.strip("_")
        name, n = base, 2
        while name.lower() in (r.lower() for r in self._rules):
            name, n = f"{base}_{n}", n + 1
        return name


def _has_tables(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'sqlflow' AND table_name IN ('alert_rules', 'alerts_fired')"
    ).fetchall()[0][0]
    return found == 2


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()
