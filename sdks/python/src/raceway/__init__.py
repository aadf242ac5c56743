"""Raceway: distributed tracing with vector clocks; finds races across services.

>>> import raceway
>>> from raceway import raceway_middleware
>>> app.wsgi_app = raceway_middleware(app.wsgi_app, service_name="api-service",
...                                   server_url="http://localhost:8080")  # doctest: +SKIP
>>> headers = raceway.get_trace_headers()  # inside a request  # doctest: +SKIP
"""

from raceway.api import (
    get_trace_headers,
    merge_response_headers,
    record_error,
    record_event,
    record_lock_held,
    set_route,
    track_state_read,
    track_state_write,
    with_lock,
)
from raceway.asgi import RacewayASGIMiddleware
from raceway.clock import VectorClock
from raceway.config import Config, RacewayOptions
from raceway.context import ExecutionContext, current_context
from raceway.errors import RacewayConfigError
from raceway.fork import bind, fork, submit
from raceway.middleware import raceway_middleware
from raceway.tracer import Tracer, default_tracer, init
from raceway.transport import TransportStats
from raceway.version import __version__
from raceway.wsgi import RacewayWSGIMiddleware

__all__ = [
    "Config",
    "ExecutionContext",
    "RacewayASGIMiddleware",
    "RacewayConfigError",
    "RacewayOptions",
    "RacewayWSGIMiddleware",
    "Tracer",
    "TransportStats",
    "VectorClock",
    "__version__",
    "bind",
    "current_context",
    "fork",
    "get_trace_headers",
    "init",
    "merge_response_headers",
    "raceway_middleware",
    "record_error",
    "record_event",
    "record_lock_held",
    "set_route",
    "submit",
    "track_state_read",
    "track_state_write",
    "with_lock",
]


def flush(timeout: float | None = None) -> bool:
    """Sends what the default tracer has queued; True when done within `timeout` seconds."""
    tracer = default_tracer()
    return tracer.flush(timeout) if tracer is not None else True


def shutdown(timeout: float = 5.0) -> None:
    """Flushes the default tracer for at most `timeout` seconds and stops its transport.
    (Every transport is also flushed at interpreter exit.)"""
    tracer = default_tracer()
    if tracer is not None:
        tracer.shutdown(timeout)


__all__ += ["flush", "shutdown"]
