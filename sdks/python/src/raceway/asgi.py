"""ASGI middleware (FastAPI, Starlette, any ASGI 3 application).

The application runs with the request's execution context set, so everything it awaits,
including a streaming body sent through `send`, is inside the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from raceway.context import _current
from raceway.propagation.carrier import HeaderValue
from raceway.server import RESPONSE_HEADER_NAMES, ServerRequest, _current_request
from raceway.tracer import Tracer, tracer_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _scope_getter(scope: Scope) -> Callable[[str], HeaderValue]:
    index: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        try:
            index.setdefault(raw_name.decode("latin-1").lower(), []).append(
                raw_value.decode("latin-1")
            )
        except Exception:
            continue

    def get_header(name: str) -> HeaderValue:
        values = index.get(name)
        if values is None:
            return None
        return values[0] if len(values) == 1 else values

    return get_header


def _route_of(scope: Scope) -> str | None:
    # Starlette's router puts the matched route in the scope; its path is the template.
    route = scope.get("route")
    path = getattr(route, "path", None) if route is not None else None
    if isinstance(path, str):
        return scope.get("root_path", "") + path if scope.get("root_path") else path
    return None


class RacewayASGIMiddleware:
    """Traces every HTTP request of an ASGI application.

    >>> app.add_middleware(RacewayASGIMiddleware, service_name="orders")  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, /, *, tracer: Tracer | None = None, **options: Any) -> None:
        self.app = app
        self.tracer = tracer_for(tracer, options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = self.tracer
        path = scope.get("path") or "/"
        if scope.get("type") != "http" or tracer.disabled or tracer.should_ignore_path(path):
            await self.app(scope, receive, send)
            return
        try:
            request = ServerRequest(tracer, scope.get("method", "GET"), path, _scope_getter(scope))
        except Exception:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def traced_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                try:
                    status[:] = [int(message.get("status", 200))]
                    headers = [
                        (name, value)
                        for name, value in message.get("headers") or ()
                        if name.decode("latin-1").lower() not in RESPONSE_HEADER_NAMES
                    ]
                    headers.extend(
                        (name.encode("latin-1"), value.encode("latin-1"))
                        for name, value in request.response_headers()
                    )
                    message = {**message, "headers": headers}
                except Exception:
                    pass
            await send(message)
            # A 5xx is finished when the app returns: Starlette's ServerErrorMiddleware sends
            # its 500 first and raises the exception that caused it right after.
            done = kind == "http.response.body" and not message.get("more_body", False)
            if done and (not status or status[0] < 500):
                request.finish(status[0] if status else None, _route_of(scope))

        token = _current.set(request.ctx)
        request_token = _current_request.set(request)
        try:
            await self.app(scope, receive, traced_send)
        except BaseException as error:
            request.error(error)
            request.finish(500 if not status else status[0], _route_of(scope))
            raise
        finally:
            # An app that returned without completing a response (a client that went away).
            request.finish(status[0] if status else None, _route_of(scope))
            _current_request.reset(request_token)
            _current.reset(token)


def asgi_middleware(app: ASGIApp, *, tracer: Tracer | None = None, **options: Any) -> ASGIApp:
    """Wraps an ASGI application (see `raceway_middleware`)."""
    return RacewayASGIMiddleware(app, tracer=tracer, **options)
