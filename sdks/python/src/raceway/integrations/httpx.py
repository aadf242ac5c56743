"""`httpx` integration: transports that wrap another transport (no monkey-patching).

>>> client = httpx.Client(transport=RacewayTransport())  # doctest: +SKIP
>>> async_client = httpx.AsyncClient(transport=AsyncRacewayTransport())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

from raceway.client_call import ClientCall


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


def _prepare(request: httpx.Request) -> ClientCall | None:
    call = ClientCall.start(request.method, str(request.url))
    if call is not None:
        for name, value in call.headers:
            request.headers[name] = value  # httpx.Headers: replaces every spelling
    return call


class RacewayTransport(httpx.BaseTransport):
    """Records each call and propagates the trace; sends through `wrapped` (default
    `httpx.HTTPTransport()`). `response_received` is recorded when the headers arrive; a body
    that breaks off afterwards is an `error` in the call's span."""

    def __init__(self, wrapped: httpx.BaseTransport | None = None) -> None:
        self._wrapped = wrapped if wrapped is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = _prepare(request)
        if call is None:
            return self._wrapped.handle_request(request)
        try:
            response = self._wrapped.handle_request(request)
        except BaseException as error:
            call.fail(error)
            raise
        call.finish(response.status_code, response.headers.get)
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _ReportingStream(response.stream, call)
        return response

    def close(self) -> None:
        self._wrapped.close()


class AsyncRacewayTransport(httpx.AsyncBaseTransport):
    """The asyncio form of `RacewayTransport` (default `httpx.AsyncHTTPTransport()`)."""

    def __init__(self, wrapped: httpx.AsyncBaseTransport | None = None) -> None:
        self._wrapped = wrapped if wrapped is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = _prepare(request)
        if call is None:
            return await self._wrapped.handle_async_request(request)
        try:
            response = await self._wrapped.handle_async_request(request)
        except BaseException as error:
            call.fail(error)
            raise
        call.finish(response.status_code, response.headers.get)
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _AsyncReportingStream(response.stream, call)
        return response

    async def aclose(self) -> None:
        await self._wrapped.aclose()
