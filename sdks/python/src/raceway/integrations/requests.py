"""`requests` integration: a transport adapter, mounted on a Session (no monkey-patching).

>>> session = raceway.integrations.requests.instrument_session(requests.Session())  # doctest: +SKIP
>>> session.get("http://inventory/items/1")  # trace headers sent, response clock merged
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from raceway.client_call import ClientCall


class RacewayAdapter(HTTPAdapter):
    """An `HTTPAdapter` that records the call, sets the trace headers (replacing any) when
    `propagate_to` allows the target, and merges the response's clock."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        call = ClientCall.start(request.method or "GET", request.url or "")
        if call is None:
            return super().send(request, **kwargs)
        for name, value in call.headers:
            request.headers[name] = value  # a case-insensitive dict: this replaces
        try:
            response = super().send(request, **kwargs)
        except BaseException as error:
            call.fail(error)
            raise
        call.finish(response.status_code, response.headers.get)
        return response


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
