"""The `aiohttp.web` server side: each request joins or starts a trace through the lifecycle
every server integration shares (`raceway.server.ServerRequest`), with the route template
from aiohttp's router.

The middleware runs the handler with the request's execution context set; aiohttp runs each
request in a task of its own, so everything the handler awaits is inside the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from aiohttp import web

from raceway.context import _current
from raceway.integrations.aiohttp.headers import header_getter
from raceway.server import RESPONSE_HEADER_NAMES, ServerRequest, _current_request
from raceway.tracer import Tracer, tracer_for

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_of(request: web.Request) -> str | None:
    # The resource's canonical form is its template (`/items/{item_id}`), a sub-application's
    # prefix included; unmatched requests (404, 405) have no resource.
    with suppress(Exception):
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else None
        if isinstance(canonical, str) and canonical:
            return canonical
    return None


def _set_headers(response: web.StreamResponse | web.HTTPException, request: ServerRequest) -> None:
    """The trace headers on a response not sent yet, replacing any the handler set."""
    with suppress(Exception):
        for name in RESPONSE_HEADER_NAMES:
            response.headers.popall(name, None)
        for name, value in request.response_headers():
            response.headers[name] = value


async def add_response_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """An `on_response_prepare` handler: puts the trace headers on a response the handler
    sends itself (`await response.prepare(request)`: streaming, server-sent events), which the
    middleware only sees once it is sent. `instrument_app` registers it."""
    server_request = _current_request.get()
    if server_request is not None:
        _set_headers(response, server_request)


def _status_of_error(error: BaseException) -> int:
    # What aiohttp answers for an exception that escapes the handler.
    return 504 if isinstance(error, asyncio.TimeoutError) else 500


def aiohttp_middleware(*, tracer: Tracer | None = None, **options: Any) -> Middleware:
    """An aiohttp middleware that traces every request. Options are those of
    `RacewayOptions`. Prefer `instrument_app`, which also adds the headers to responses that
    handlers send themselves.

    >>> middleware = aiohttp_middleware(service_name="orders")  # doctest: +SKIP
    >>> app = web.Application(middlewares=[middleware])  # doctest: +SKIP
    """
    resolved = tracer_for(tracer, options)

    @web.middleware
    async def raceway(request: web.Request, handler: Handler) -> web.StreamResponse:
        if resolved.disabled or resolved.should_ignore_path(request.path):
            return await handler(request)
        try:
            traced = ServerRequest(
                resolved, request.method, request.path, header_getter(request.headers)
            )
        except Exception:
            return await handler(request)
        token = _current.set(traced.ctx)
        request_token = _current_request.set(traced)
        try:
            response = await handler(request)
        except web.HTTPException as answer:  # a response raised as an exception: no error
            _set_headers(answer, traced)
            traced.finish(answer.status, _route_of(request))
            raise
        except BaseException as error:
            traced.error(error)
            traced.finish(_status_of_error(error), _route_of(request))
            raise
        finally:
            _current_request.reset(request_token)
            _current.reset(token)
        if not response.prepared:
            _set_headers(response, traced)
        traced.finish(response.status, _route_of(request))
        return response

    return raceway


def instrument_app(
    app: web.Application, *, tracer: Tracer | None = None, **options: Any
) -> web.Application:
    """Traces every request of `app`: the middleware first in the chain (so that it sees what
    the other middlewares answer) and the trace headers on every response. Call it before the
    application starts; returns `app`.

    >>> app = instrument_app(web.Application(), service_name="orders")  # doctest: +SKIP
    """
    if app.frozen:
        raise RuntimeError(
            "raceway: instrument_app() needs an aiohttp application that has not started yet;"
            " call it right after web.Application()"
        )
    app.middlewares.insert(0, aiohttp_middleware(tracer=tracer, **options))
    app.on_response_prepare.append(add_response_headers)
    return app
