"""`httpx` integration: transports that wrap another transport, or, for the whole process,
`instrument()`.

>>> client = httpx.Client(transport=RacewayTransport())  # doctest: +SKIP
>>> async_client = httpx.AsyncClient(transport=AsyncRacewayTransport())  # doctest: +SKIP
>>> raceway.integrations.httpx.instrument()  # doctest: +SKIP: every client from now on
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from typing import Any

import httpx

from raceway.client_call import ClientCall
from raceway.integrations.patching import MethodPatch, recorded_send


class _ReportingStream(httpx.SyncByteStream):
    """The response body as the application reads it; a read that breaks off is recorded."""

    def __init__(self, wrapped: httpx.SyncByteStream, call: ClientCall) -> None:
        self._wrapped = wrapped
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._wrapped
        except Exception as error:
            self._call.body_failed(error)
            raise

    def close(self) -> None:
        self._wrapped.close()


class _AsyncReportingStream(httpx.AsyncByteStream):
    def __init__(self, wrapped: httpx.AsyncByteStream, call: ClientCall) -> None:
        self._wrapped = wrapped
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._wrapped:
                yield chunk
        except Exception as error:
            self._call.body_failed(error)
            raise

    async def aclose(self) -> None:
        await self._wrapped.aclose()


def _finish(call: ClientCall, response: httpx.Response, *, read_async: bool) -> None:
    """`response_received` when the headers arrive; a body that breaks off afterwards is an
    `error` in the call's span. (Some streams are both sync and async: the client that reads
    it decides which form wraps it.)"""
    with suppress(Exception):
        call.finish(response.status_code, response.headers.get)
        if not read_async and isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _ReportingStream(response.stream, call)
        elif read_async and isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _AsyncReportingStream(response.stream, call)


def send_traced(
    request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
) -> httpx.Response:
    """Sends `request` through `send` as one recorded client call (headers, clock merge,
    `request_sent`/`response_received`). Passes through when an outer layer records it."""
    with recorded_send(request.method, str(request.url), request.headers) as call:
        response = send(request)
    if call is not None:
        _finish(call, response, read_async=False)
    return response


async def send_traced_async(
    request: httpx.Request, send: Callable[[httpx.Request], Awaitable[httpx.Response]]
) -> httpx.Response:
    """The asyncio form of `send_traced`."""
    with recorded_send(request.method, str(request.url), request.headers) as call:
        response = await send(request)
    if call is not None:
        _finish(call, response, read_async=True)
    return response


class RacewayTransport(httpx.BaseTransport):
    """Records each call and propagates the trace; sends through `wrapped` (default
    `httpx.HTTPTransport()`). `response_received` is recorded when the headers arrive; a body
    that breaks off afterwards is an `error` in the call's span."""

    def __init__(self, wrapped: httpx.BaseTransport | None = None) -> None:
        self._wrapped = wrapped if wrapped is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return send_traced(request, self._wrapped.handle_request)

    def close(self) -> None:
        self._wrapped.close()


class AsyncRacewayTransport(httpx.AsyncBaseTransport):
    """The asyncio form of `RacewayTransport` (default `httpx.AsyncHTTPTransport()`)."""

    def __init__(self, wrapped: httpx.AsyncBaseTransport | None = None) -> None:
        self._wrapped = wrapped if wrapped is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await send_traced_async(request, self._wrapped.handle_async_request)

    async def aclose(self) -> None:
        await self._wrapped.aclose()


def _traced_handle_request(original: Callable[..., httpx.Response]) -> Callable[..., Any]:
    def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        return send_traced(request, lambda sent: original(transport, sent))

    return handle_request


def _traced_handle_async_request(
    original: Callable[..., Awaitable[httpx.Response]],
) -> Callable[..., Any]:
    async def handle_async_request(
        transport: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        return await send_traced_async(request, lambda sent: original(transport, sent))

    return handle_async_request


# The hooks are the network transports' own methods, as OpenTelemetry's httpx instrumentation
# does: every `httpx.Client` and `httpx.AsyncClient` (module-level `httpx.get` included) sends
# through an `HTTPTransport`/`AsyncHTTPTransport` unless given another transport, which is told
# one request per trip on the wire (each redirect hop a call of its own). Patching the transport
# rather than `Client.send` leaves the clients' redirect, auth and event-hook logic untouched,
# covers clients built before `instrument()` too, and leaves mock transports (`MockTransport`,
# respx) untraced.
_PATCHES = (
    MethodPatch(httpx.HTTPTransport, "handle_request", _traced_handle_request),
    MethodPatch(httpx.AsyncHTTPTransport, "handle_async_request", _traced_handle_async_request),
)


def instrument() -> None:
    """Traces every `httpx` call of the process from now on, sync and async, whatever client
    sends it. Idempotent; a client with a `RacewayTransport` still records each call once.
    Outside an execution context a call goes out as it would without Raceway."""
    for patch in _PATCHES:
        patch.install()


def uninstrument() -> None:
    """Undoes `instrument` (clients with a `RacewayTransport` stay traced)."""
    for patch in _PATCHES:
        patch.remove()


def is_instrumented() -> bool:
    return all(patch.active for patch in _PATCHES)
