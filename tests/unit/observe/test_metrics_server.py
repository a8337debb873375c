"""The /metrics server: loopback only, live values, stoppable."""

from __future__ import annotations

import datetime as dt
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.metrics import MetricsRegistry
from sqlflow_magic.observe.observers import Observers

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def runs_total(text: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "sqlflow_runs_total"
    )


def test_serves_live_metrics_on_loopback_and_stops():
    metrics = MetricsRegistry()
    server, port = metrics.serve(0)
    try:
        assert port > 0
        assert server.port == port
        assert server._server.server_address[0] == "127.0.0.1"
        assert runs_total(fetch(server.url)) == 0
        metrics(RunEvent("r", "main.t", "APPEND", "success", T0, duration_s=0.1))
        assert runs_total(fetch(server.url)) == 1
        assert runs_total(fetch(f"http://127.0.0.1:{port}/")) == 1
        with pytest.raises(urllib.error.HTTPError) as info:
            fetch(f"http://127.0.0.1:{port}/other")
        assert info.value.code == 404
        info.value.close()
    finally:
        server.stop()
    assert not server.running
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass
    server.stop()  # idempotent


def test_observers_replace_and_stop_their_server():
    obs = Observers()
    first, _ = obs.serve(0)
    second, port = obs.serve(0)
    assert not first.running
    assert second.running
    obs(RunEvent("r", "main.t", "APPEND", "success", T0, duration_s=0.1))
    assert runs_total(fetch(f"http://127.0.0.1:{port}/metrics")) == 1
    obs.close()
    assert not second.running
    assert obs.server is None


def test_a_taken_port_is_a_usage_error():
    from sqlflow_magic.errors import UsageError

    metrics = MetricsRegistry()
    server, port = metrics.serve(0)
    try:
        with pytest.raises(UsageError, match=f"cannot serve metrics on 127.0.0.1:{port}") as info:
            metrics.serve(port)
        assert "0 for a free one" in info.value.hint
    finally:
        server.stop()
