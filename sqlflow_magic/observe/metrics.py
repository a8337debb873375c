"""Run metrics in a Prometheus registry owned by one object (one per magics instance).

``MetricsRegistry`` is an observer of run events. It keeps plain totals and exposes them
through one custom collector in its own ``CollectorRegistry`` (never the global default
one), which is what lets it:

- rebuild every total from the state tables on connect (``load_from_state``): counters are
  *set* to what ``sqlflow.runs`` says, which prometheus_client's ``Counter`` cannot do;
- compute the watermark lag and the age of the last success when scraped, so they grow
  between runs;
- answer the alert evaluator without rendering the exposition.

The families (label names in brackets):

========================================  =========  ===============================
``sqlflow_runs_total``                    counter    target, mode, status
``sqlflow_run_duration_seconds``          histogram  target, mode (1 ms .. 10 min)
``sqlflow_rows_total``                    counter    target, kind (inserted, updated,
                                                     deleted)
``sqlflow_rules_total``                   counter    target, result (passed, warned,
                                                     failed)
``sqlflow_quality_score``                 gauge      target, category (0..100)
``sqlflow_watermark_lag_seconds``         gauge      target (now - watermark, at scrape)
``sqlflow_watermark_timestamp_seconds``   gauge      target (the watermark, epoch s)
``sqlflow_last_run_duration_seconds``     gauge      target
``sqlflow_last_success_age_seconds``      gauge      target (now - end of last success)
``sqlflow_consecutive_failures``          gauge      target (failed runs since a success)
========================================  =========  ===============================

Only runs that finish (``success`` or ``failed``) count: ``started`` events and dry runs
change nothing, as they leave nothing in ``sqlflow.runs``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from sqlflow_magic.observe.events import RunEvent

# 1 ms to 10 min: a REPLACE of a small table takes milliseconds, a full INCREMENTAL
# build of a large one minutes (bench/results: 10M rows).
DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
ROW_KINDS = ("inserted", "updated", "deleted")
RULE_RESULTS = ("passed", "warned", "failed")
FINISHED = ("success", "failed")


@dataclass(frozen=True)
class MetricInfo:
    """One metric family: its exposed name, type, labels and unit."""

    name: str
    kind: str  # 'counter' | 'gauge' | 'histogram'
    labels: tuple[str, ...]
    unit: str  # 'seconds', 'runs', 'rows', 'rules', 'score'
    help: str


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("sqlflow_runs_total", "counter", ("target", "mode", "status"), "runs",
                   "Finished transform runs"),
        MetricInfo("sqlflow_run_duration_seconds", "histogram", ("target", "mode"), "seconds",
                   "Duration of finished runs"),
        MetricInfo("sqlflow_rows_total", "counter", ("target", "kind"), "rows",
                   "Rows written by successful runs"),
        MetricInfo("sqlflow_rules_total", "counter", ("target", "result"), "rules",
                   "EXPECT rule checks by result"),
        MetricInfo("sqlflow_quality_score", "gauge", ("target", "category"), "score",
                   "Quality score of the last profiled run, 0..100"),
        MetricInfo("sqlflow_watermark_lag_seconds", "gauge", ("target",), "seconds",
                   "Now minus the target's watermark"),
        MetricInfo("sqlflow_watermark_timestamp_seconds", "gauge", ("target",), "seconds",
                   "The target's watermark, seconds since the epoch"),
        MetricInfo("sqlflow_last_run_duration_seconds", "gauge", ("target",), "seconds",
                   "Duration of the target's last finished run"),
        MetricInfo("sqlflow_last_success_age_seconds", "gauge", ("target",), "seconds",
                   "Now minus the end of the target's last successful run"),
        MetricInfo("sqlflow_consecutive_failures", "gauge", ("target",), "runs",
                   "Failed runs since the target's last success"),
    )
}  # fmt: skip

Labels = dict[str, str]
Series = list[tuple[Labels, float]]


def epoch(moment: dt.datetime) -> float:
    """Seconds since the epoch of a naive UTC timestamp (how the state tables store time)."""
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()


class _Histogram:
    __slots__ = ("counts", "total", "n")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        # le is inclusive: a value equal to a bound belongs to that bucket.
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.n += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append((floatToGoString(bound), float(running)))
        return out


class MetricsRegistry:
    """Observer: run events become Prometheus metrics in a registry of its own.

    Args:
        clock: seconds since the epoch, ``time.time`` unless a test fixes it; lag and ages
            are measured against it when read.

    Example::

        metrics = MetricsRegistry()
        events.subscribe(metrics)          # the RunEvents hub of the magics instance
        metrics.load_from_state(con)       # on connect: totals as sqlflow.runs records them
        print(metrics.exposition())        # %sqlflow metrics --prometheus
        server, port = metrics.serve(0)    # %sqlflow serve-metrics; server.stop()
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=False)
        self._lock = threading.Lock()
        self._reset()
        self.registry.register(_Collector(self))

    def _reset(self) -> None:
        self._runs: dict[tuple[str, str, str], int] = {}
        self._durations: dict[tuple[str, str], _Histogram] = {}
        self._rows: dict[tuple[str, str], int] = {}
        self._rules: dict[tuple[str, str], int] = {}
        self._quality: dict[tuple[str, str], float] = {}
        self._watermarks: dict[str, float] = {}
        self._last_duration: dict[str, float] = {}
        self._last_success: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    # -- recording ------------------------------------------------------------------------

    def __call__(self, event: RunEvent) -> None:
        """Record a finished run; ``started`` and ``dry run`` events change nothing."""
        if event.status not in FINISHED:
            return
        with self._lock:
            self._record(event)

    observe = __call__

    def _record(self, e: RunEvent) -> None:
        t = e.target
        key = (t, e.mode, e.status)
        self._runs[key] = self._runs.get(key, 0) + 1
        if e.duration_s is not None:
            hist = self._durations.get((t, e.mode))
            if hist is None:
                hist = self._durations[(t, e.mode)] = _Histogram()
            hist.observe(e.duration_s)
            self._last_duration[t] = e.duration_s
        if e.status == "success":
            for kind, n in zip(
                ROW_KINDS, (e.rows_inserted, e.rows_updated, e.rows_deleted), strict=True
            ):
                self._rows[(t, kind)] = self._rows.get((t, kind), 0) + (n or 0)
            self._failures[t] = 0
            self._last_success[t] = epoch(e.started_at) + (e.duration_s or 0.0)
        else:
            self._failures[t] = self._failures.get(t, 0) + 1
        for result, n in zip(
            RULE_RESULTS, (e.rules_passed, e.rules_warned, e.rules_failed), strict=True
        ):
            if n:
                self._rules[(t, result)] = self._rules.get((t, result), 0) + n
        for category, score in e.quality_scores.items():
            self._quality[(t, category)] = float(score)
        if e.watermark is not None:
            self._watermarks[t] = epoch(e.watermark)

    def set_watermark(self, target: str, watermark: dt.datetime | None) -> None:
        """Set (or, with None, forget) a target's watermark, as ``%sqlflow reset`` does."""
        with self._lock:
            if watermark is None:
                self._watermarks.pop(target, None)
            else:
                self._watermarks[target] = epoch(watermark)

    def load_from_state(self, con) -> int:
        """Rebuild every metric from the connected database's state tables.

        Totals become what ``sqlflow.runs`` and ``sqlflow.rule_results`` record (every
        finished run ever, so they are the truth after a kernel restart on a file
        database), and watermarks what ``sqlflow.watermarks`` holds. DuckDB aggregates:
        the Python work is per target, not per run, so a long history loads in
        milliseconds. The result equals a registry that saw every run as an event (the
        tests hold the two side by side). Quality scores are not in the state tables:
        they come back with each target's next run. Other attached databases are not read.

        Args:
            con: a DuckDB connection to the database.

        Returns:
            The number of finished runs counted (0 when there are no state tables).
        """
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name = 'sqlflow'"
            ).fetchall()
        }
        with self._lock:
            self._reset()
            if "watermarks" in present:
                self._watermarks = {
                    target: epoch(w)
                    for target, w in con.execute(
                        "SELECT target, watermark FROM sqlflow.watermarks "
                        "WHERE watermark IS NOT NULL"
                    ).fetchall()
                }
            if "runs" not in present:
                return 0
            if "quality_profiles" in present:
                self._load_quality(con)
            return self._load_runs(con, "rule_results" in present)

    def _load_quality(self, con) -> None:
        """The scores of each target's latest run profile (whole-table ones are reports)."""
        from sqlflow_magic.quality.model import CATEGORIES

        columns = ", ".join(CATEGORIES)
        rows = con.execute(
            f'SELECT target, {columns} FROM sqlflow.quality_profiles WHERE NOT "full" '
            "QUALIFY row_number() OVER (PARTITION BY target ORDER BY profiled_at DESC) = 1"
        ).fetchall()
        for target, *scores in rows:
            for category, score in zip(CATEGORIES, scores, strict=True):
                self._quality[(target, category)] = float(score)

    def _load_runs(self, con, with_rules: bool) -> int:
        finished = "(SELECT * FROM sqlflow.runs WHERE status IN ('success', 'failed'))"
        total = 0
        for target, mode, status, n in con.execute(
            f"SELECT target, mode, status, count(*) FROM {finished} GROUP BY ALL"
        ).fetchall():
            self._runs[(target, mode, status)] = n
            total += n
        # The bucket a live observe() picks (bisect_left: the first bound >= the value).
        bucket = " ".join(
            f"WHEN duration_s <= {b!r} THEN {i}" for i, b in enumerate(DURATION_BUCKETS)
        )
        for target, mode, index, n, seconds in con.execute(
            f"SELECT target, mode, CASE {bucket} ELSE {len(DURATION_BUCKETS)} END, count(*), "
            f"sum(duration_s) FROM {finished} WHERE duration_s IS NOT NULL GROUP BY ALL"
        ).fetchall():
            hist = self._durations.setdefault((target, mode), _Histogram())
            hist.counts[index] += n
            hist.total += seconds
            hist.n += n
        for row in con.execute(
            f"""
            WITH r AS {finished},
            last AS (SELECT target, max(started_at) FILTER (status = 'success') AS ok_at
                     FROM r GROUP BY target)
            SELECT target,
                   count(*) FILTER (status = 'success'),
                   sum(coalesce(rows_inserted, 0)) FILTER (status = 'success'),
                   sum(coalesce(rows_updated, 0)) FILTER (status = 'success'),
                   sum(coalesce(rows_deleted, 0)) FILTER (status = 'success'),
                   arg_max(duration_s, started_at) FILTER (duration_s IS NOT NULL),
                   any_value(ok_at),
                   arg_max(coalesce(duration_s, 0), started_at) FILTER (status = 'success'),
                   count(*) FILTER (status = 'failed' AND (ok_at IS NULL OR started_at > ok_at))
            FROM r JOIN last USING (target) GROUP BY target
            """
        ).fetchall():
            target, successes, inserted, updated, deleted, last, ok_at, ok_s, failures = row
            if successes:
                for kind, n in zip(ROW_KINDS, (inserted, updated, deleted), strict=True):
                    self._rows[(target, kind)] = n
                self._last_success[target] = epoch(ok_at) + ok_s
            if last is not None:
                self._last_duration[target] = last
            self._failures[target] = failures
        if with_rules:
            for target, result, n in con.execute(
                f"SELECT r.target, CASE WHEN q.passed THEN 'passed' WHEN q.severity = 'warn' "
                f"THEN 'warned' ELSE 'failed' END, count(*) FROM sqlflow.rule_results q "
                f"JOIN {finished} r USING (run_id) GROUP BY ALL"
            ).fetchall():
                self._rules[(target, result)] = n
        return total

    # -- reading --------------------------------------------------------------------------

    def series(self, name: str) -> Series:
        """The current samples of one metric: ``[(labels, value), ...]``.

        Args:
            name: a family name from ``METRICS`` or a histogram's ``_count`` / ``_sum``.

        Raises:
            KeyError: for any other name.
        """
        with self._lock:
            return self._series(name, self.clock())

    def _series(self, name: str, now: float) -> Series:
        if name == "sqlflow_runs_total":
            return [({"target": t, "mode": m, "status": s}, float(n))
                    for (t, m, s), n in self._runs.items()]  # fmt: skip
        if name in ("sqlflow_run_duration_seconds_count", "sqlflow_run_duration_seconds_sum"):
            count = name.endswith("_count")
            return [({"target": t, "mode": m}, float(h.n) if count else h.total)
                    for (t, m), h in self._durations.items()]  # fmt: skip
        if name == "sqlflow_rows_total":
            return [({"target": t, "kind": k}, float(n)) for (t, k), n in self._rows.items()]
        if name == "sqlflow_rules_total":
            return [({"target": t, "result": r}, float(n)) for (t, r), n in self._rules.items()]
        if name == "sqlflow_quality_score":
            return [({"target": t, "category": c}, v) for (t, c), v in self._quality.items()]
        per_target = {
            "sqlflow_watermark_lag_seconds": {t: now - w for t, w in self._watermarks.items()},
            "sqlflow_watermark_timestamp_seconds": self._watermarks,
            "sqlflow_last_run_duration_seconds": self._last_duration,
            "sqlflow_last_success_age_seconds": {t: now - s for t, s in self._last_success.items()},
            "sqlflow_consecutive_failures": self._failures,
        }[name]
        return [({"target": t}, float(v)) for t, v in per_target.items()]

    def _families(self) -> list[Metric]:
        # Built whole under the lock, then handed out: a scrape never holds it while the
        # exposition is written.
        out: list[Metric] = []
        with self._lock:
            now = self.clock()
            for info in METRICS.values():
                # prometheus_client appends _total to a counter family's name itself.
                base = info.name.removesuffix("_total")
                if info.kind == "histogram":
                    family = HistogramMetricFamily(base, info.help, labels=info.labels)
                    for (t, m), h in sorted(self._durations.items()):
                        family.add_metric([t, m], h.cumulative(), sum_value=h.total)
                    out.append(family)
                    continue
                cls = CounterMetricFamily if info.kind == "counter" else GaugeMetricFamily
                family = cls(base, info.help, labels=info.labels)
                for labels, value in sorted(
                    self._series(info.name, now), key=lambda s: tuple(s[0].values())
                ):
                    family.add_metric(list(labels.values()), value)
                out.append(family)
        return out

    def exposition(self) -> str:
        """The metrics in Prometheus text format (what ``/metrics`` serves)."""
        return generate_latest(self.registry).decode("utf-8")

    def snapshot(self):
        """The metrics as a pandas DataFrame with columns metric, labels, value.

        Histogram buckets are left out (their ``_count`` and ``_sum`` stay); labels read
        ``target=main.orders, mode=UPSERT``.
        """
        import pandas as pd

        rows = [
            (s.name, ", ".join(f"{k}={v}" for k, v in s.labels.items() if k != "le"), s.value)
            for family in self.registry.collect()
            for s in family.samples
            if not s.name.endswith("_bucket")
        ]
        return pd.DataFrame(rows, columns=["metric", "labels", "value"])

    def serve(self, port: int = 0):
        """Serve ``/metrics`` on 127.0.0.1 in a daemon thread.

        Args:
            port: the port; 0 picks a free one.

        Returns:
            ``(server, port)``; ``server.stop()`` stops it.
        """
        from sqlflow_magic.observe.serve import MetricsServer

        server = MetricsServer(self.registry, port)
        return server, server.port


class _Collector:
    """The registry's view of a MetricsRegistry, built at each scrape."""

    def __init__(self, owner: MetricsRegistry) -> None:
        self._owner = owner

    def collect(self) -> Iterator[Metric]:
        return iter(self._owner._families())

    def describe(self) -> list[Metric]:
        return []  # names are checked at collect time; nothing else registers here
