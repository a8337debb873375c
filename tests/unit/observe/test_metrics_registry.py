"""MetricsRegistry: events in, Prometheus text out, parsed back and compared with sums
computed here from the same events."""

from __future__ import annotations

import collections
import datetime as dt
import random

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.metrics import DURATION_BUCKETS, METRICS, MetricsRegistry, epoch

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


class Clock:
    def __init__(self, moment: dt.datetime = T0) -> None:
        self.now = epoch(moment)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from Prometheus text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def random_events(n: int, seed: int = 7) -> list[RunEvent]:
    rng = random.Random(seed)
    targets = ["main.orders", "main.hourly", "sales.daily", "main.audit"]
    modes = {"main.orders": "UPSERT", "main.hourly": "INCREMENTAL", "sales.daily": "REPLACE",
             "main.audit": "APPEND"}  # fmt: skip
    events = []
    for i in range(n):
        target = rng.choice(targets)
        status = rng.choice(["started", "success", "success", "success", "failed", "dry run"])
        ok = status == "success"
        events.append(
            RunEvent(
                run_id=f"r{i}", target=target, mode=modes[target], status=status,
                started_at=T0 + dt.timedelta(minutes=i),
                duration_s=None if status == "started" else rng.choice(
                    [0.0005, 0.001, 0.003, 0.2, 1.0, 7.5, 45.0, 700.0]),
                rows_inserted=rng.randint(0, 100) if ok else None,
                rows_updated=rng.randint(0, 10) if ok else None,
                rows_deleted=rng.randint(0, 5) if ok else None,
                watermark=T0 + dt.timedelta(minutes=i - 90) if ok and target == "main.hourly"
                else None,
                error=None if ok else "boom",
                rules_passed=rng.randint(0, 3), rules_warned=rng.randint(0, 1),
                rules_failed=0 if ok else rng.randint(0, 2),
            )
        )  # fmt: skip
    return events


def test_counters_and_histogram_match_independent_sums():
    events = random_events(400)
    metrics = MetricsRegistry(clock=Clock(T0 + dt.timedelta(days=1)))
    for e in events:
        metrics(e)
    got = samples(metrics.exposition())
    finished = [e for e in events if e.status in ("success", "failed")]

    runs = collections.Counter((e.target, e.mode, e.status) for e in finished)
    for (t, m, s), n in runs.items():
        labels = tuple(sorted({"target": t, "mode": m, "status": s}.items()))
        assert got[("sqlflow_runs_total", labels)] == n
    assert sum(v for (name, _), v in got.items() if name == "sqlflow_runs_total") == len(finished)

    for kind in ("inserted", "updated", "deleted"):
        for t in {e.target for e in finished if e.status == "success"}:
            want = sum(getattr(e, f"rows_{kind}") for e in finished
                       if e.target == t and e.status == "success")  # fmt: skip
            assert got[("sqlflow_rows_total", (("kind", kind), ("target", t)))] == want

    for result in ("passed", "warned", "failed"):
        for t in {e.target for e in finished}:
            want = sum(getattr(e, f"rules_{result}") for e in finished if e.target == t)
            key = ("sqlflow_rules_total", (("result", result), ("target", t)))
            assert got.get(key, 0) == want

    for t, m in {(e.target, e.mode) for e in finished}:
        durations = [e.duration_s for e in finished if e.target == t]
        base = (("mode", m), ("target", t))
        assert got[("sqlflow_run_duration_seconds_count", base)] == len(durations)
        assert got[("sqlflow_run_duration_seconds_sum", base)] == pytest.approx(sum(durations))
        for bound in (*DURATION_BUCKETS, float("inf")):
            le = "+Inf" if bound == float("inf") else prometheus_client.utils.floatToGoString(bound)
            key = ("sqlflow_run_duration_seconds_bucket", tuple(sorted((*base, ("le", le)))))
            assert got[key] == sum(d <= bound for d in durations), (t, le)

    for t in {e.target for e in finished}:
        mine = [e for e in finished if e.target == t]
        assert got[("sqlflow_last_run_duration_seconds", (("target", t),))] == mine[-1].duration_s
        streak = 0
        for e in mine:
            streak = 0 if e.status == "success" else streak + 1
        assert got[("sqlflow_consecutive_failures", (("target", t),))] == streak


def test_started_and_dry_run_events_change_nothing():
    metrics = MetricsRegistry()
    before = metrics.exposition()
    metrics(RunEvent("a", "main.t", "APPEND", "started", T0))
    metrics(RunEvent("b", "main.t", "APPEND", "dry run", T0, duration_s=0.1, rows_inserted=9))
    assert metrics.exposition() == before


def test_watermark_lag_grows_between_runs_and_can_be_forgotten():
    clock = Clock(T0)
    metrics = MetricsRegistry(clock=clock)
    metrics(RunEvent("a", "main.hourly", "INCREMENTAL", "success", T0, duration_s=2.0,
                     watermark=T0 - dt.timedelta(hours=1)))  # fmt: skip
    key = ("sqlflow_watermark_lag_seconds", (("target", "main.hourly"),))
    assert samples(metrics.exposition())[key] == 3600
    clock.advance(1800)
    assert samples(metrics.exposition())[key] == 5400
    assert metrics.series("sqlflow_last_success_age_seconds") == [
        ({"target": "main.hourly"}, 1800 - 2.0)
    ]
    # A failed run leaves the watermark (and so the lag) as it was.
    metrics(RunEvent("b", "main.hourly", "INCREMENTAL", "failed", T0, duration_s=1.0))
    assert samples(metrics.exposition())[key] == 5400
    metrics.set_watermark("main.hourly", None)
    assert key not in samples(metrics.exposition())


def test_quality_scores_are_gauges_of_the_last_run():
    metrics = MetricsRegistry()
    metrics(RunEvent("a", "main.t", "REPLACE", "success", T0, duration_s=0.1,
                     quality_scores={"completeness": 90, "validity": 70}))  # fmt: skip
    metrics(RunEvent("b", "main.t", "REPLACE", "success", T0, duration_s=0.1,
                     quality_scores={"completeness": 100}))  # fmt: skip
    got = samples(metrics.exposition())
    assert (
        got[("sqlflow_quality_score", (("category", "completeness"), ("target", "main.t")))] == 100
    )
    assert got[("sqlflow_quality_score", (("category", "validity"), ("target", "main.t")))] == 70


def test_each_registry_is_its_own_and_not_the_global_one():
    a, b = MetricsRegistry(), MetricsRegistry()
    a(RunEvent("a", "main.t", "APPEND", "success", T0, duration_s=0.1, rows_inserted=1))
    assert "main.t" in a.exposition()
    assert "main.t" not in b.exposition()
    assert "sqlflow_runs" not in prometheus_client.generate_latest().decode()


def test_every_documented_family_is_exposed_with_its_type():
    metrics = MetricsRegistry()
    families = {f.name: f.type for f in text_string_to_metric_families(metrics.exposition())}
    want = {info.name.removesuffix("_total"): info.kind for info in METRICS.values()}
    assert families == want


def test_snapshot_lists_samples_without_buckets():
    metrics = MetricsRegistry(clock=Clock())
    metrics(RunEvent("a", "main.t", "UPSERT", "success", T0, duration_s=0.25,
                     rows_inserted=3, rows_updated=2, rows_deleted=0))  # fmt: skip
    frame = metrics.snapshot()
    assert list(frame.columns) == ["metric", "labels", "value"]
    assert not frame.metric.str.endswith("_bucket").any()
    row = frame[(frame.metric == "sqlflow_rows_total") & frame.labels.str.contains("inserted")]
    assert row.labels.tolist() == ["target=main.t, kind=inserted"]
    assert row.value.tolist() == [3.0]
    assert frame[frame.metric == "sqlflow_run_duration_seconds_count"].value.tolist() == [1.0]


def test_load_from_state_without_state_tables_is_empty():
    import duckdb

    con = duckdb.connect()
    metrics = MetricsRegistry()
    metrics(RunEvent("a", "main.t", "APPEND", "success", T0, duration_s=0.1))
    assert metrics.load_from_state(con) == 0
    assert metrics.series("sqlflow_runs_total") == []
    con.close()


def test_load_from_state_equals_replaying_the_recorded_runs():
    import duckdb

    from sqlflow_magic.state.store import RunRecord, StateStore

    con = duckdb.connect()
    store = StateStore(con, "memory")
    store.create_tables()
    fed = MetricsRegistry(clock=Clock(T0 + dt.timedelta(days=1)))
    for e in random_events(120, seed=3):
        if e.status not in ("success", "failed"):
            continue
        store.record_run(RunRecord(
            run_id=e.run_id, target=e.target, mode=e.mode, status=e.status,
            started_at=e.started_at, finished_at=e.started_at, duration_s=e.duration_s,
            rows_inserted=e.rows_inserted, rows_updated=e.rows_updated,
            rows_deleted=e.rows_deleted, watermark_after=e.watermark, error=e.error,
        ))  # fmt: skip
        for result, n in (("passed", e.rules_passed), ("warned", e.rules_warned),
                          ("failed", e.rules_failed)):  # fmt: skip
            for _ in range(n):
                con.execute(
                    "INSERT INTO sqlflow.rule_results (run_id, target, severity, passed) "
                    "VALUES ($r, $t, $s, $p)",
                    {"r": e.run_id, "t": e.target, "s": "warn" if result == "warned" else "error",
                     "p": result == "passed"},
                )  # fmt: skip
        fed(e)
    newest = {}
    for e in random_events(120, seed=3):
        if e.status == "success" and e.watermark is not None:
            newest[e.target] = e.watermark
    for target, w in newest.items():
        con.execute("INSERT INTO sqlflow.watermarks (target, watermark) VALUES ($t, $w)",
                    {"t": target, "w": w})  # fmt: skip
    # A reset run is state, not a finished run: it must not count.
    store.record_run(
        RunRecord(
            run_id="reset",
            target="main.orders",
            mode="RESET",
            status="reset",
            started_at=T0,
            finished_at=T0,
            duration_s=0.0,
        )
    )
    loaded = MetricsRegistry(clock=Clock(T0 + dt.timedelta(days=1)))
    assert loaded.load_from_state(con) == sum(
        e.status in ("success", "failed") for e in random_events(120, seed=3)
    )
    assert samples(loaded.exposition()) == pytest.approx(samples(fed.exposition()))
    con.close()
