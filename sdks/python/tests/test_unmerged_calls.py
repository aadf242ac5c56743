"""get_trace_headers() without merge_response_headers() loses the callee's clock: the request
that did it says so at its end, once per process, without debug."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

import raceway
from raceway import Tracer, server
from tests.servers import serve_wsgi


@pytest.fixture(autouse=True)
def _fresh_warning() -> Iterator[None]:
    server._unmerged_warned.clear()
    yield
    server._unmerged_warned.clear()


def _app(merge: bool) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = raceway.get_trace_headers("http://inventory/reserve", "POST")
        if merge:
            raceway.merge_response_headers({}, status=200, request=headers)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


@pytest.mark.parametrize("merge", [False, True])
def test_a_manual_call_never_merged_is_named_once(
    tracer: Tracer, caplog: pytest.LogCaptureFixture, merge: bool
) -> None:
    middleware = raceway.raceway_middleware(_app(merge), tracer=tracer)
    with caplog.at_level("WARNING", logger="raceway"), serve_wsgi(middleware) as url:
        for _ in range(2):
            assert requests.get(f"{url}/checkout", timeout=5).status_code == 200
    named = [
        r.getMessage() for r in caplog.records if "merge_response_headers() never" in r.getMessage()
    ]
    if merge:
        assert named == []
    else:
        assert len(named) == 1
        assert named[0].startswith(
            "raceway: a request ended with 1 call(s) made with get_trace_headers()"
        )
