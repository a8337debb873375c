"""The observers of one magics instance, fed in order: metrics, the run log, alerts.

Alerts read the metrics, so the metrics must have seen an event before the alerts judge
it; one observer that calls the three in order keeps that true whatever else subscribes
to the hub. Each is guarded on its own: a failing log never stops the alerts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlflow_magic.observe.alerts import Alerts
from sqlflow_magic.observe.events import RunEvent
from sqlflow_magic.observe.logs import RunLog, RunLogFile, configure_run_log
from sqlflow_magic.observe.metrics import MetricsRegistry

_log = logging.getLogger("sqlflow_magic.observe")


class Observers:
    """Metrics, structured log and alerts for one magics instance.

    Args:
        clock: seconds since the epoch (``time.time``); tests pass a fixed one.
        connection: returns the connected database's connection (``lambda:
            session.connection()``), for the state tables alerts and metrics read.

    Example::

        obs = Observers(connection=lambda: self.session.connection())
        self.events.subscribe(obs)        # the RunEvents hub
        obs.connected()                   # after %sqlflow connect (and on first use)
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        connection: Callable[[], object] | None = None,
    ) -> None:
        self.connection = connection
        self.metrics = MetricsRegistry(clock=clock)
        self.log = RunLog()
        self.alerts = Alerts(self.metrics, clock=clock, connection=connection)
        self.alerts.subscribe(self.log.alert)
        self.log_file: RunLogFile | None = None
        self.server = None

    def __call__(self, event: RunEvent) -> None:
        """Hand ``event`` to the metrics, then the log, then the alerts."""
        for observer in (self.metrics, self.log, self.alerts):
            try:
                observer(event)
            except Exception:  # auxiliary, as in RunEvents.emit
                _log.exception("sqlflow observer %r failed on %s", observer, event.status)

    def connected(self) -> None:
        """Rebuild the metrics and reload the alert rules from the connected database."""
        con = self.connection() if self.connection is not None else None
        if con is not None:
            self.metrics.load_from_state(con)
        self.alerts.load()

    def log_to(self, path) -> RunLogFile | None:
        """Write the run log to ``path`` (None: stop); the previous file is closed."""
        self.log_file = configure_run_log(path)
        return self.log_file

    def serve(self, port: int = 0):
        """Serve ``/metrics`` on 127.0.0.1 (replacing a running server); ``(server, port)``."""
        self.stop_serving()
        self.server, bound = self.metrics.serve(port)
        return self.server, bound

    def stop_serving(self) -> None:
        """Stop the metrics server, if one runs."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        """Stop serving and close the log file (on unload_ipython_extension)."""
        self.stop_serving()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None
