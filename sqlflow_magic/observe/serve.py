"""Serve one registry's ``/metrics`` on 127.0.0.1 from a daemon thread, stoppably.

prometheus_client's ``start_http_server`` binds 0.0.0.0 by default and offers no stop
before 0.20; this small WSGI server binds the loopback interface only (a notebook's
metrics are no business of the network) and stops with ``stop()``.
"""

from __future__ import annotations

import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from sqlflow_magic.errors import UsageError

HOST = "127.0.0.1"


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never keeps the kernel from exiting


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # wsgiref writes each request to stderr, i.e. into the notebook


class MetricsServer:
    """``GET /metrics`` (and ``/``) on ``127.0.0.1:port`` for one registry.

    Args:
        registry: what to serve.
        port: the port; 0 picks a free one (read it back from ``port``).

    Raises:
        UsageError: the port is taken or not allowed.
    """

    def __init__(self, registry: CollectorRegistry, port: int = 0) -> None:
        metrics_app = make_wsgi_app(registry)

        def app(environ, start_response):
            if environ.get("PATH_INFO", "/") in ("/", "/metrics"):
                return metrics_app(environ, start_response)
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"sqlflow serves /metrics\n"]

        try:
            self._server = make_server(
                HOST, port, app, server_class=_Server, handler_class=_QuietHandler
            )
        except OSError as err:
            raise UsageError(
                f"cannot serve metrics on {HOST}:{port}: {err.strerror}",
                hint="pick another port, or 0 for a free one",
            ) from err
        self.port: int = self._server.server_port
        self.url = f"http://{HOST}:{self.port}/metrics"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sqlflow-metrics-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "serving" if self.running else "stopped"
        return f"<MetricsServer {self.url} {state}>"
