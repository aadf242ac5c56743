"""`requests` integration, per session or for the whole process.

>>> session = raceway.integrations.requests.instrument_session(requests.Session())  # doctest: +SKIP
>>> session.get("http://inventory/items/1")  # trace headers sent, response clock merged
>>> raceway.integrations.requests.instrument()  # doctest: +SKIP
>>> requests.get("http://inventory/items/1")  # every session, module-level calls included
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from raceway.integrations.patching import MethodPatch, recorded_send

Send = Callable[[requests.PreparedRequest], requests.Response]


def send_traced(request: requests.PreparedRequest, send: Send) -> requests.Response:
    """Sends `request` through `send` as one recorded client call: `request_sent`, the trace
    headers (when `propagate_to` allows the target), the response's clock merged, then
    `response_received`. Passes through when an outer layer records the call already."""
    with recorded_send(request.method or "GET", request.url or "", request.headers) as call:
        response = send(request)
    if call is not None:
        with suppress(Exception):
            call.finish(response.status_code, response.headers.get)
    return response


class RacewayAdapter(HTTPAdapter):
    """An `HTTPAdapter` that records the call, sets the trace headers (replacing any) when
    `propagate_to` allows the target, and merges the response's clock."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        return send_traced(
            request, lambda prepared: super(RacewayAdapter, self).send(prepared, **kwargs)
        )


def instrument_session(
    session: requests.Session, *, adapter_options: Mapping[str, Any] | None = None
) -> requests.Session:
    """Mounts a `RacewayAdapter` for http:// and https:// on `session` and returns it."""
    options = dict(adapter_options or {})
    session.mount("http://", RacewayAdapter(**options))
    session.mount("https://", RacewayAdapter(**options))
    return session


def traced_session() -> requests.Session:
    """A new `requests.Session` with Raceway mounted."""
    return instrument_session(requests.Session())


def _traced_adapter_send(original: Callable[..., requests.Response]) -> Callable[..., Any]:
    def send(
        adapter: HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        return send_traced(request, lambda prepared: original(adapter, prepared, *args, **kwargs))

    return send


# The hook is `HTTPAdapter.send`, the transport level where `RacewayAdapter` works, rather than
# `Session.send` (OpenTelemetry's choice): every request a session sends, module-level
# `requests.get` included, goes through an `HTTPAdapter`, which is told one prepared request per
# trip on the wire (each redirect hop is a call of its own, as with `RacewayAdapter`). Session
# hooks, cookies, redirects and auth stay untouched, and adapters that never reach the network
# (test doubles such as requests-mock's) are not traced.
_PATCH = MethodPatch(HTTPAdapter, "send", _traced_adapter_send)


def instrument() -> None:
    """Traces every `requests` call of the process from now on: `requests.get(...)`, any
    `requests.Session()`, any adapter built on `HTTPAdapter`. Idempotent; a session with a
    `RacewayAdapter` still records each call once. Outside an execution context a call goes
    out as it would without Raceway."""
    _PATCH.install()


def uninstrument() -> None:
    """Undoes `instrument` (sessions with a `RacewayAdapter` stay traced)."""
    _PATCH.remove()


def is_instrumented() -> bool:
    return _PATCH.active
