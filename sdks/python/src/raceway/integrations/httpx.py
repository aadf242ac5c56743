"""`httpx` integration: transports that wrap another transport (no monkey-patching).

>>> client = httpx.Client(transport=RacewayTransport())  # doctest: +SKIP
>>> async_client = httpx.AsyncClient(transport=AsyncRacewayTransport())  # doctest: +SKIP
"""

from __future__ import annotations

import httpx

from raceway.client_call import ClientCall


def _prepare(request: httpx.Request) -> ClientCall | None:
    call = ClientCall.start(request.method, str(request.url))
    if call is not None:
        for name, value in call.headers:
            request.headers[name] = value  # httpx.Headers: replaces every spelling
    return call


class RacewayTransport(httpx.BaseTransport):
    """Records each call and propagates the trace; sends through `wrapped` (default
    `httpx.HTTPTransport()`). `response_received` is recorded when the headers arrive."""

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
        return response

    async def aclose(self) -> None:
        await self._wrapped.aclose()
