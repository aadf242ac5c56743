"""requests and httpx (sync and async) against real traced servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import httpx
import pytest
import requests

import raceway
from raceway import Tracer
from raceway.integrations.httpx import AsyncRacewayTransport, RacewayTransport
from raceway.integrations.requests import traced_session
from tests.helpers import flushed_events, happens_before, of_kind, one_event
from tests.servers import FakeCollector


def _sync_requests(url: str, headers: dict[str, str]) -> int:
    return traced_session().get(url, headers=headers, timeout=5).status_code


def _sync_httpx(url: str, headers: dict[str, str]) -> int:
    with httpx.Client(transport=RacewayTransport()) as client:
        return client.get(url, headers=headers).status_code


def _async_httpx(url: str, headers: dict[str, str]) -> int:
    async def call() -> int:
        async with httpx.AsyncClient(transport=AsyncRacewayTransport()) as client:
            return (await client.get(url, headers=headers)).status_code

    return asyncio.run(call())


def _manual(url: str, headers: dict[str, str]) -> int:
    response = requests.get(url, headers={**headers, **raceway.get_trace_headers()}, timeout=5)
    raceway.merge_response_headers(response.headers)
    return response.status_code


CLIENTS: dict[str, Callable[[str, dict[str, str]], int]] = {
    "requests": _sync_requests,
    "httpx": _sync_httpx,
    "httpx-async": _async_httpx,
}


def _call_chain(
    client: Callable[[str, dict[str, str]], int],
    tracer: Tracer,
    url: str,
    headers: dict[str, str] | None = None,
) -> str:
    with tracer.start_trace() as ctx:
        assert ctx is not None
        assert client(url, headers or {}) == 200
        raceway.track_state_read("stock:1", 4)
        return ctx.trace_id


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_call_propagates_and_merges_the_callee_clock(
    client: str,
    tracer: Tracer,
    callee_tracer: Tracer,
    collector: FakeCollector,
    callee: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = callee
    trace_id = _call_chain(CLIENTS[client], tracer, f"{url}/stock")
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
    # The callee's work is after the send and before the caller's next event (spec 2.6).
    assert happens_before(sent, server_in)
    assert happens_before(write, received)
    assert happens_before(write, after)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_existing_trace_headers_are_replaced_not_appended(
    client: str, tracer: Tracer, callee: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = callee
    stale = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    trace_id = _call_chain(CLIENTS[client], tracer, f"{url}/stock", stale)
    assert trace_id in seen[0]["Traceparent"]
    assert "," not in seen[0]["Traceparent"]


def test_get_trace_headers_and_merge_response_headers(
    tracer: Tracer,
    callee_tracer: Tracer,
    collector: FakeCollector,
    callee: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = callee
    trace_id = _call_chain(_manual, tracer, f"{url}/stock")
    callee_tracer.flush(5)
    events = flushed_events(tracer, collector)
    assert seen[0]["X-Raceway-Trace-Id"] == trace_id
    write = one_event(events, "state_write", "callee")
    after = one_event(events, "state_read", "py-test")
    assert happens_before(write, after)


def test_get_trace_headers_outside_a_request_is_empty() -> None:
    assert raceway.get_trace_headers() == {}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_targets_outside_propagate_to_get_no_headers_but_are_recorded(
    client: str, collector: FakeCollector, callee: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = callee
    private = Tracer(
        service_name="private", server_url=collector.url, propagate_to=["only.example.com"]
    )
    _call_chain(CLIENTS[client], private, f"{url}/stock")
    assert "X-Raceway-Trace-Id" not in seen[0]
    assert "Traceparent" not in seen[0]
    events = flushed_events(
        private, collector, until=lambda e: bool(of_kind(e, "response_received"))
    )
    assert len(of_kind(events, "request_sent")) == 1
    private.shutdown(1)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_request_sent_says_when_headers_were_withheld(
    client: str, collector: FakeCollector, callee: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = callee
    for name, allowed in (("withheld", "only.example.com"), ("allowed", "127.0.0.1")):
        traced = Tracer(service_name=name, server_url=collector.url, propagate_to=[allowed])
        _call_chain(CLIENTS[client], traced, f"{url}/stock")
        flushed_events(traced, collector, until=lambda e: bool(of_kind(e, "request_sent")))
        traced.shutdown(1)
    assert "Traceparent" not in seen[0]
    assert "Traceparent" in seen[1]
    events = collector.events
    assert one_event(events, "request_sent", "withheld")["data"]["headers_withheld"] is True
    assert "headers_withheld" not in one_event(events, "request_sent", "allowed")["data"]


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_failed_call_is_recorded_and_raised(
    client: str, tracer: Tracer, collector: FakeCollector
) -> None:
    with pytest.raises((requests.ConnectionError, httpx.ConnectError)):
        _call_chain(CLIENTS[client], tracer, "http://127.0.0.1:9/nothing")
    events = flushed_events(
        tracer, collector, until=lambda e: bool(of_kind(e, "response_received"))
    )
    failed = of_kind(events, "response_received")[0]
    assert "error" in failed["data"]
    assert "status" not in failed["data"]


def test_outside_a_context_the_clients_just_work(callee: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = callee
    assert traced_session().get(f"{url}/stock", timeout=5).status_code == 200
    with httpx.Client(transport=RacewayTransport()) as client:
        assert client.get(f"{url}/stock").status_code == 200
    assert "X-Raceway-Trace-Id" not in seen[0]


@contextmanager
def _truncating_server() -> Iterator[str]:
    """Answers with headers that promise 100 bytes, sends 5 and hangs up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve() -> None:
        with suppress(OSError):
            while True:
                connection, _ = sock.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.mark.parametrize("client", ["httpx", "httpx-async"])
def test_a_body_that_breaks_off_is_an_error_in_the_call_span(
    client: str, tracer: Tracer, collector: FakeCollector
) -> None:
    with _truncating_server() as url, pytest.raises(httpx.RemoteProtocolError):
        _call_chain(CLIENTS[client], tracer, f"{url}/x")
    events = flushed_events(tracer, collector, until=lambda e: bool(of_kind(e, "error")))
    sent = of_kind(events, "request_sent")[0]
    assert of_kind(events, "response_received")[0]["data"]["status"] == 200
    error = of_kind(events, "error")[0]
    assert error["span_id"] == sent["span_id"]
    assert error["data"]["type"] == "RemoteProtocolError"
