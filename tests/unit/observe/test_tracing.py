"""Tracing: spans with OpenTelemetry when it is installed; a no-op (always tested) without."""

from __future__ import annotations

import sys

import pytest

from sqlflow_magic.observe import tracing


@pytest.fixture
def without_opentelemetry(monkeypatch):
    """Make ``import opentelemetry`` fail, as on a machine without it."""
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    tracing._trace_api.cache_clear()
    yield
    tracing._trace_api.cache_clear()


def test_without_opentelemetry_spans_are_no_ops(without_opentelemetry):
    assert not tracing.available()
    with (
        tracing.span("sqlflow.run", target="main.t", mode="APPEND") as run,
        tracing.span("sqlflow.query") as child,
    ):
        assert run is None
        assert child is None
    with pytest.raises(ValueError, match="boom"), tracing.span("sqlflow.commit"):
        raise ValueError("boom")


@pytest.fixture
def exporter():
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is not installed")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracing._trace_api.cache_clear()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider is set once a process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    memory = InMemorySpanExporter()
    processor = SimpleSpanProcessor(memory)
    provider.add_span_processor(processor)
    yield memory
    memory.clear()
    processor.shutdown()


def test_with_opentelemetry_a_run_is_a_span_with_stage_children(exporter):
    assert tracing.available()
    with tracing.span("sqlflow.run", target="main.t", mode="UPSERT", rows=None,
                      keys=("id",), window=object(), password="hunter2") as run:  # fmt: skip
        for stage in ("sqlflow.parse", "sqlflow.query", "sqlflow.quality", "sqlflow.commit"):
            with tracing.span(stage) as child:
                child.set_attribute("stage", stage)
        run.set_attribute("rows_inserted", 3)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["sqlflow.run"]
    assert root.parent is None
    for stage in ("sqlflow.parse", "sqlflow.query", "sqlflow.quality", "sqlflow.commit"):
        assert spans[stage].parent.span_id == root.context.span_id
        assert spans[stage].context.trace_id == root.context.trace_id
    attrs = dict(root.attributes)
    assert attrs["target"] == "main.t"
    assert attrs["mode"] == "UPSERT"
    assert attrs["keys"] == ("id",)
    assert attrs["rows_inserted"] == 3
    assert "rows" not in attrs  # None is dropped
    assert attrs["password"] == "[REDACTED:secret]"
    assert attrs["window"].startswith("<object")


def test_with_opentelemetry_errors_are_recorded_redacted(exporter):
    from opentelemetry.trace import StatusCode

    with (
        pytest.raises(ValueError, match="could not convert"),
        tracing.span("sqlflow.run"),
        tracing.span("sqlflow.commit"),
    ):
        raise ValueError("could not convert 'alice@example.com'")
    for span in exporter.get_finished_spans():
        assert span.status.status_code is StatusCode.ERROR
        assert "alice@example.com" not in (span.status.description or "")
        (event,) = span.events
        assert event.attributes["exception.message"] == "could not convert '[REDACTED:email]'"
        assert event.attributes["exception.type"] == "ValueError"
