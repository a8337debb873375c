"""OpenTelemetry spans for runs, when opentelemetry-api is installed; nothing otherwise.

The runner wraps a run in ``span("sqlflow.run", ...)`` and its stages in child spans
(``sqlflow.parse``, ``sqlflow.query``, ``sqlflow.quality``, ``sqlflow.commit``). With
opentelemetry-api importable the spans go to whatever tracer provider the application
configured (none configured: the API's no-op tracer, which records nothing). Without it,
``span`` yields None and costs one function call. opentelemetry is never a dependency.

Attributes go through ``redact_value`` (a span's attributes leave the kernel as logs do);
None values are dropped and values OpenTelemetry cannot hold become strings.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from sqlflow_magic.observe.redact import redact_text, redact_value

TRACER_NAME = "sqlflow_magic"


@functools.cache
def _trace_api():
    """The ``opentelemetry.trace`` module, or None when it cannot be imported."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def available() -> bool:
    """Whether opentelemetry-api is importable (spans are real, if a provider records)."""
    return _trace_api() is not None


def _attribute(name: str, value: Any) -> Any:
    value = redact_value(name, value)
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return str(value)


@contextlib.contextmanager
def span(name: str, **attrs: Any) -> Iterator[Any]:
    """A span named ``name``, the current span's child, for the ``with`` block.

    Args:
        name: e.g. ``sqlflow.run`` or ``sqlflow.commit``.
        **attrs: attributes, e.g. ``target="main.orders", mode="UPSERT"``.

    Yields:
        The OpenTelemetry span (``set_attribute`` works on it), or None without
        opentelemetry. An exception leaving the block is recorded on the span (type and
        redacted message; status ERROR) and re-raised.

    >>> with span("sqlflow.example", target="main.t") as s:
    ...     pass
    """
    trace = _trace_api()
    if trace is None:
        yield None
        return
    tracer = trace.get_tracer(TRACER_NAME)
    attributes = {k: _attribute(k, v) for k, v in attrs.items() if v is not None}
    # OpenTelemetry would record the exception's raw text; record a redacted one instead.
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as err:
            message = redact_text(str(err))
            current.add_event(
                "exception",
                {"exception.type": type(err).__name__, "exception.message": message},
            )
            current.set_status(trace.Status(trace.StatusCode.ERROR, message))
            raise
