"""The aiohttp client side, through aiohttp's own tracing hooks (`TraceConfig`), without
patching: each request of a session is one client call (`raceway.client_call.ClientCall`), its
trace headers set before it is sent, the response's clock merged when it arrives.

>>> async with aiohttp.ClientSession(trace_configs=[trace_config()]) as session:  # doctest: +SKIP
...     await session.get("http://inventory/items/1")
"""

from __future__ import annotations

from contextlib import suppress
from types import SimpleNamespace

import aiohttp

from raceway.client_call import ClientCall
from raceway.integrations.aiohttp.headers import header_getter

_CALL = "raceway_call"
"""Where the call in progress waits in aiohttp's per-request `trace_config_ctx`."""


async def _on_request_start(
    _session: aiohttp.ClientSession,
    request_ctx: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    # Called in the task that makes the request, so the current context is the caller's; the
    # headers are those aiohttp is about to send, redirects included.
    with suppress(Exception):
        call = ClientCall.start(params.method, str(params.url))
        if call is not None:
            for name, value in call.headers:
                params.headers[name] = value  # a CIMultiDict: replaces every spelling
            setattr(request_ctx, _CALL, call)


async def _on_request_end(
    _session: aiohttp.ClientSession,
    request_ctx: SimpleNamespace,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    call = getattr(request_ctx, _CALL, None)
    if isinstance(call, ClientCall):
        with suppress(Exception):
            call.finish(params.response.status, header_getter(params.response.headers))


async def _on_request_exception(
    _session: aiohttp.ClientSession,
    request_ctx: SimpleNamespace,
    params: aiohttp.TraceRequestExceptionParams,
) -> None:
    call = getattr(request_ctx, _CALL, None)
    if isinstance(call, ClientCall):
        call.fail(params.exception)


def trace_config() -> aiohttp.TraceConfig:
    """A `TraceConfig` for `aiohttp.ClientSession(trace_configs=[...])`: every request the
    session makes inside an execution context records `request_sent`/`response_received`,
    carries the trace headers (when `propagate_to` allows the target) and merges the clock the
    callee answers with. Outside a context requests go out untouched."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    return config
