"""`raceway_middleware`: one entry point for WSGI and ASGI applications."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from raceway.asgi import RacewayASGIMiddleware
from raceway.tracer import Tracer, tracer_for
from raceway.wsgi import RacewayWSGIMiddleware

App = TypeVar("App")


def _is_asgi(app: object) -> bool:
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    return inspect.iscoroutinefunction(call)


def raceway_middleware(app: App, *, tracer: Tracer | None = None, **options: Any) -> App:
    """Wraps a WSGI application (Flask, Django) or an ASGI application (FastAPI, Starlette) so
    that every request joins or starts a trace, gets its own execution context, records
    `request_received`/`response_sent` and errors, and answers with the trace headers.

    Options are those of `RacewayOptions` (`service_name`, `server_url`, ...); the environment
    fills in the rest (`RACEWAY_SERVICE_NAME`, `RACEWAY_URL`, ...).

    >>> app.wsgi_app = raceway_middleware(app.wsgi_app, service_name="api-service",
    ...                                   server_url="http://localhost:8080")  # doctest: +SKIP
    """
    resolved = tracer_for(tracer, options)
    if _is_asgi(app):
        return RacewayASGIMiddleware(app, tracer=resolved)  # type: ignore[arg-type,return-value]
    return RacewayWSGIMiddleware(app, resolved)  # type: ignore[arg-type,return-value]
