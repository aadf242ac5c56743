"""`instrument()` for requests and httpx: plain clients, built without anything of Raceway,
against a real traced service on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests

import raceway
import raceway.integrations.httpx as raceway_httpx
import raceway.integrations.requests as raceway_requests
from raceway import Tracer
from raceway.client_call import ClientCall
from raceway.integrations.httpx import RacewayTransport
from raceway.integrations.requests import traced_session
from tests.helpers import flushed_events, happens_before, of_kind, one_event
from tests.servers import FakeCollector

Callee = tuple[str, list[dict[str, str]]]


def _module_get(url: str) -> int:
    return requests.get(url, timeout=5).status_code


def _plain_session(url: str) -> int:
    with requests.Session() as session:
        return session.get(url, timeout=5).status_code


def _plain_httpx(url: str) -> int:
    with httpx.Client() as client:
        return client.get(url).status_code


def _plain_async_httpx(url: str) -> int:
    async def call() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).status_code

    return asyncio.run(call())


PLAIN_CLIENTS: dict[str, Callable[[str], int]] = {
    "requests.get": _module_get,
    "requests.Session": _plain_session,
    "httpx.Client": _plain_httpx,
    "httpx.AsyncClient": _plain_async_httpx,
}


@pytest.fixture
def instrumented() -> Iterator[None]:
    raceway_requests.instrument()
    raceway_httpx.instrument()
    yield
    raceway_requests.uninstrument()
    raceway_httpx.uninstrument()


def _in_trace(tracer: Tracer, call: Callable[[str], int], url: str) -> str:
    with tracer.start_trace() as ctx:
        assert ctx is not None
        assert call(url) == 200
        raceway.track_state_read("stock:1", 4)
        return ctx.trace_id


@pytest.mark.parametrize("client", sorted(PLAIN_CLIENTS))
@pytest.mark.usefixtures("instrumented")
def test_a_plain_client_propagates_and_merges_the_callee_clock(
    client: str, tracer: Tracer, callee_tracer: Tracer, collector: FakeCollector, callee: Callee
) -> None:
    url, seen = callee
    trace_id = _in_trace(tracer, PLAIN_CLIENTS[client], f"{url}/stock")
    callee_tracer.flush(5)
    events = flushed_events(tracer, collector)
    sent = one_event(events, "request_sent", "py-test")
    received = one_event(events, "response_received", "py-test")
    server_in = one_event(events, "request_received", "callee")
    write = one_event(events, "state_write", "callee")
    after = one_event(events, "state_read", "py-test")
    assert seen[0]["X-Raceway-Trace-Id"] == trace_id
    assert seen[0]["Traceparent"] == f"00-{trace_id}-{sent['span_id']}-03"
    assert server_in["trace_id"] == trace_id
    assert server_in["parent_span_id"] == sent["span_id"]
    assert received["span_id"] == sent["span_id"]
    assert received["data"]["remote_clock"] is True
    assert received["data"]["status"] == 200
    assert happens_before(sent, server_in)
    assert happens_before(write, received)
    assert happens_before(write, after)


def test_nothing_is_traced_until_instrument_and_after_uninstrument(
    tracer: Tracer, collector: FakeCollector, callee: Callee
) -> None:
    url, seen = callee
    assert not raceway_requests.is_instrumented()
    assert not raceway_httpx.is_instrumented()
    for call in PLAIN_CLIENTS.values():
        _in_trace(tracer, call, f"{url}/stock")
    raceway_requests.instrument()
    raceway_httpx.instrument()
    try:
        for call in PLAIN_CLIENTS.values():
            _in_trace(tracer, call, f"{url}/stock")
    finally:
        raceway_requests.uninstrument()
        raceway_httpx.uninstrument()
    for call in PLAIN_CLIENTS.values():
        _in_trace(tracer, call, f"{url}/stock")
    traced = ["X-Raceway-Trace-Id" in headers for headers in seen]
    assert traced == [False] * 4 + [True] * 4 + [False] * 4
    events = flushed_events(tracer, collector, until=lambda e: len(of_kind(e, "state_read")) == 12)
    assert len(of_kind(events, "request_sent")) == 4


def test_instrument_twice_and_a_raceway_client_on_top_record_each_call_once(
    tracer: Tracer, collector: FakeCollector, callee: Callee
) -> None:
    url, seen = callee

    def raceway_clients(target: str) -> int:
        assert traced_session().get(target, timeout=5).status_code == 200
        with httpx.Client(transport=RacewayTransport()) as client:
            return client.get(target).status_code

    raceway_requests.instrument()
    raceway_requests.instrument()
    raceway_httpx.instrument()
    raceway_httpx.instrument()
    try:
        _in_trace(tracer, _module_get, f"{url}/stock")
        _in_trace(tracer, _plain_httpx, f"{url}/stock")
        _in_trace(tracer, raceway_clients, f"{url}/stock")
    finally:
        raceway_requests.uninstrument()
        raceway_httpx.uninstrument()
    events = flushed_events(tracer, collector, until=lambda e: len(of_kind(e, "state_read")) == 3)
    sent = of_kind(events, "request_sent")
    assert len(sent) == 4
    # The span each callee request names as parent is the one its call recorded.
    assert [h["Traceparent"].split("-")[2] for h in seen] == [e["span_id"] for e in sent]


@pytest.mark.usefixtures("instrumented")
def test_a_failure_of_tracing_never_breaks_the_call(
    tracer: Tracer, callee: Callee, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = callee

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("tracing bug")

    monkeypatch.setattr(ClientCall, "finish", broken)
    for call in PLAIN_CLIENTS.values():
        _in_trace(tracer, call, f"{url}/stock")
    monkeypatch.setattr(ClientCall, "start", broken)
    for call in PLAIN_CLIENTS.values():
        _in_trace(tracer, call, f"{url}/stock")


@pytest.mark.usefixtures("instrumented")
def test_a_failed_call_is_recorded_and_raised(tracer: Tracer, collector: FakeCollector) -> None:
    for call in PLAIN_CLIENTS.values():
        with pytest.raises((requests.ConnectionError, httpx.ConnectError)):
            _in_trace(tracer, call, "http://127.0.0.1:9/nothing")
    events = flushed_events(
        tracer, collector, until=lambda e: len(of_kind(e, "response_received")) == 4
    )
    failed = of_kind(events, "response_received")
    assert len(failed) == 4
    assert all("error" in event["data"] for event in failed)


def test_uninstrument_keeps_a_wrapper_installed_on_top(callee: Callee) -> None:
    """Another instrumentation that wrapped the method after ours stays in place."""
    url, _ = callee
    raceway_httpx.instrument()
    ours = httpx.HTTPTransport.handle_request
    calls: list[str] = []

    def theirs(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return ours(transport, request)

    httpx.HTTPTransport.handle_request = theirs  # type: ignore[method-assign,assignment]
    try:
        raceway_httpx.uninstrument()
        assert httpx.HTTPTransport.handle_request is theirs
        assert _plain_httpx(f"{url}/stock") == 200
        assert calls == [f"{url}/stock"]
        raceway_httpx.instrument()  # ours is still in the chain: switched back on, not stacked
        assert httpx.HTTPTransport.handle_request is theirs
    finally:
        httpx.HTTPTransport.handle_request = ours  # type: ignore[method-assign]
        raceway_httpx.uninstrument()
    assert httpx.HTTPTransport.handle_request is ours.__wrapped__  # type: ignore[attr-defined]
