"""Benchmark: what metrics + the JSON run log + alert evaluation add to each run.

Run it from the repository root (it needs the package installed, e.g. ``make setup``)::

    python bench/observe.py                        # 10,000 events, 20 targets, 5 rules
    python bench/observe.py --events 50000 --json bench-observe.json

N synthetic RunEvents (a ``started`` then a ``success`` / ``failed`` / ``dry run`` per run,
one failure in ten with an error that quotes an email and a card number, quality scores
on half the successes) go through a RunEvents hub into the observers the magic uses: a
MetricsRegistry, a RunLog writing JSON lines to a real file, and Alerts with five rules
whose firings are written to ``sqlflow.alerts_fired`` in an in-memory DuckDB. A simulated
clock moves one second per event, so rules fire and cool down as they would. Each event
is timed on its own (``perf_counter_ns`` around ``emit``); the table gives the median and
tail per event (and for starts and ends apart: a start only writes a log line, an end
also updates the metrics and judges the rules), per run (start + end), and each observer
alone on the same events.

Target: the median run (two events) costs < 1 ms with every observer attached.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from sqlflow_magic.observe.alerts import Alerts
from sqlflow_magic.observe.events import RunEvent, RunEvents
from sqlflow_magic.observe.logs import RunLog, configure_run_log
from sqlflow_magic.observe.metrics import MetricsRegistry, epoch
from sqlflow_magic.observe.observers import Observers
from sqlflow_magic.observe.redact import redact_text

BUDGET_MS = 1.0
START = dt.datetime(2026, 1, 1)
RULES = [
    ("watermark_lag > 2h", "late"),
    ("consecutive_failures > 0", "broken"),
    ("rows_inserted{target='main.t3'} == 0", "empty"),
    ("quality_score < 70", "poor"),
    ("run_duration > 30s", "slow"),
]
MODES = ("REPLACE", "APPEND", "UPSERT", "INCREMENTAL")


class Clock:
    def __init__(self) -> None:
        self.now = epoch(START)

    def __call__(self) -> float:
        return self.now


def make_events(n: int, targets: int, seed: int = 42) -> list[RunEvent]:
    """``n`` events: started/finished pairs on ``targets`` targets."""
    rng = random.Random(seed)
    events: list[RunEvent] = []
    i = 0
    while len(events) < n:
        t = rng.randrange(targets)
        target, mode = f"main.t{t}", MODES[t % len(MODES)]
        started = START + dt.timedelta(seconds=len(events))
        run_id = f"{i:012x}"
        events.append(RunEvent(run_id, target, mode, "started", started))
        roll = rng.random()
        status = "failed" if roll < 0.1 else "dry run" if roll < 0.15 else "success"
        ok = status == "success"
        events.append(
            RunEvent(
                run_id=run_id, target=target, mode=mode, status=status, started_at=started,
                duration_s=rng.lognormvariate(-3, 1.5),
                rows_in=rng.randint(0, 10_000) if ok else None,
                rows_inserted=rng.randint(0, 10_000) if ok else None,
                rows_updated=rng.randint(0, 100) if ok else None,
                rows_deleted=rng.randint(0, 100) if ok else None,
                window_start=started - dt.timedelta(hours=2) if mode == "INCREMENTAL" else None,
                window_end=started if mode == "INCREMENTAL" else None,
                watermark=started - dt.timedelta(minutes=rng.randint(0, 240))
                if ok and mode == "INCREMENTAL" else None,
                error=None if ok or status == "dry run" else (
                    "the transform of main.t failed: Conversion Error: Could not convert string "
                    f"'user{i}@example.com' to INT32 (card 4111 1111 1111 1111)"),
                error_type="DatabaseError" if status == "failed" else None,
                rules_passed=rng.randint(0, 3), rules_warned=rng.randint(0, 1),
                quality_scores={"completeness": rng.randint(50, 100),
                                "validity": rng.randint(50, 100)} if ok and rng.random() < 0.5
                else {},
            )
        )  # fmt: skip
        i += 1
    return events[:n]


def time_events(events: list[RunEvent], observer, clock: Clock) -> list[int]:
    """Nanoseconds per event through a RunEvents hub holding ``observer``."""
    hub = RunEvents()
    hub.subscribe(observer)
    out = []
    perf = time.perf_counter_ns
    for event in events:
        clock.now += 1.0
        t0 = perf()
        hub.emit(event)
        out.append(perf() - t0)
    return out


def summarize(name: str, ns: list[int]) -> dict[str, float]:
    ms = sorted(x / 1e6 for x in ns)
    q = statistics.quantiles(ms, n=100)
    return {
        "case": name,
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "p90_ms": q[89],
        "p99_ms": q[98],
        "max_ms": ms[-1],
    }


def run(n: int, targets: int, folder: Path) -> tuple[list[dict], dict]:
    events = make_events(n, targets)
    con = duckdb.connect()
    results = []

    def observers() -> tuple[Observers, Clock]:
        clock = Clock()
        obs = Observers(clock=clock, connection=lambda: con)
        for expression, name in RULES:
            obs.alerts.add(expression, name=name, cooldown="30m")
        return obs, clock

    # Warm up imports, regex caches and the file system on a throwaway instance.
    warm, clock = observers()
    warm.log_to(folder / "warmup.jsonl")
    time_events(events[:1000], warm, clock)
    warm.close()
    con.execute("DELETE FROM sqlflow.alert_rules; DELETE FROM sqlflow.alerts_fired")

    obs, clock = observers()
    obs.log_to(folder / "runs.jsonl")
    all_ns = time_events(events, obs, clock)
    fired = con.execute("SELECT count(*) FROM sqlflow.alerts_fired").fetchall()[0][0]
    obs.close()
    results.append(summarize("all observers, per event", all_ns))
    starts = [ns for ns, e in zip(all_ns, events, strict=True) if e.status == "started"]
    ends = [ns for ns, e in zip(all_ns, events, strict=True) if e.status != "started"]
    results.append(summarize("  started events (log only)", starts))
    results.append(summarize("  end events (metrics, log, alerts)", ends))
    per_run = [a + b for a, b in zip(all_ns[::2], all_ns[1::2], strict=False)]
    results.append(summarize("all observers, per run (start + end)", per_run))

    clock = Clock()
    results.append(summarize("metrics alone", time_events(events, MetricsRegistry(clock), clock)))
    handle = configure_run_log(folder / "alone.jsonl")
    results.append(summarize("JSON log alone", time_events(events, RunLog(), Clock())))
    handle.close()
    clock = Clock()
    metrics = MetricsRegistry(clock)
    alerts = Alerts(metrics, clock=clock, connection=lambda: con)
    for expression, name in RULES:
        alerts.add(expression, name=f"{name}_alone", cooldown="30m")

    def metrics_then_alerts(event: RunEvent) -> None:
        metrics(event)
        alerts(event)

    with_alerts = time_events(events, metrics_then_alerts, clock)
    results.append(summarize("metrics + alert evaluation", with_alerts))
    errors = [e.error for e in events if e.error]
    t0 = time.perf_counter_ns()
    for text in errors:
        redact_text(text)
    results.append(
        {"case": "redact_text on a failed run's error", "n": len(errors),
         "median_ms": (time.perf_counter_ns() - t0) / 1e6 / max(len(errors), 1)}
    )  # fmt: skip
    t0 = time.perf_counter()
    obs_scrape, _ = observers()
    for event in events:
        obs_scrape.metrics(event)
    scrapes = 200
    t0 = time.perf_counter()
    for _ in range(scrapes):
        obs_scrape.metrics.exposition()
    results.append(
        {"case": f"exposition() with {targets} targets", "n": scrapes,
         "median_ms": (time.perf_counter() - t0) * 1e3 / scrapes}
    )  # fmt: skip
    obs_scrape.close()
    written = (folder / "runs.jsonl").read_text(encoding="utf-8")
    log_lines, leaked = len(written.splitlines()), "@example.com" in written
    con.close()
    facts = {
        "events": n, "targets": targets, "rules": len(RULES), "alerts_fired": fired,
        "log_lines": log_lines, "personal_values_in_log": leaked,
        "budget_ms_per_run": BUDGET_MS,
        "within_budget": results[3]["median_ms"] < BUDGET_MS,
    }  # fmt: skip
    return results, facts


def print_table(results: list[dict], facts: dict) -> None:
    print(f"{'case':<40} {'n':>7} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in results:
        cells = [f"{r[k]:>8.4f}" if k in r else f"{'':>8}" for k in ("p90_ms", "p99_ms", "max_ms")]
        print(f"{r['case']:<40} {r['n']:>7} {r['median_ms']:>10.4f} {' '.join(cells)}")
    print()
    for key, value in facts.items():
        print(f"{key}: {value}")
    verdict = "PASS" if facts["within_budget"] else "FAIL"
    print(f"{verdict}: median per run {results[3]['median_ms']:.4f} ms (budget {BUDGET_MS} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events to time (10,000)")
    parser.add_argument("--targets", type=int, default=20, help="distinct targets (20)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sqlflow-bench-observe-") as folder:
        results, facts = run(args.events, args.targets, Path(folder))
    print_table(results, facts)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "facts": facts}, indent=2))
    return 0 if facts["within_budget"] and not facts["personal_values_in_log"] else 1


if __name__ == "__main__":
    sys.exit(main())
