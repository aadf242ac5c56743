"""Sampling at run time (spec 5) and manual calls (spec 2.7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask import Flask, request

import raceway
from raceway import Tracer, raceway_middleware
from raceway.integrations.requests import traced_session
from tests.helpers import flushed_events, of_kind
from tests.servers import FakeCollector, serve_wsgi

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def echo(tracer: Tracer) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A traced service that calls itself once (`/hop` -> `/leaf`) and keeps what it got."""
    seen: list[dict[str, str]] = []
    app = Flask("echo")
    base: list[str] = []

    @app.get("/hop")
    def hop() -> str:
        raceway.track_state_read("x", 1)
        return traced_session().get(f"{base[0]}/leaf", timeout=5).text

    @app.get("/leaf")
    def leaf() -> str:
        seen.append(dict(request.headers))
        return "leaf"

    app.wsgi_app = raceway_middleware(app.wsgi_app, tracer=tracer)  # type: ignore[method-assign]
    with serve_wsgi(app) as url:
        base.append(url)
        yield url, seen


def test_an_upstream_unsampled_decision_is_honoured_and_propagated(
    echo: tuple[str, list[dict[str, str]]], tracer: Tracer, collector: FakeCollector
) -> None:
    url, seen = echo
    response = requests.get(
        f"{url}/hop", headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-00"}, timeout=5
    )
    assert response.text == "leaf"
    assert response.headers["X-Raceway-Trace-Id"] == TRACE_ID
    assert "X-Raceway-VC" not in response.headers
    leaf = seen[0]
    assert leaf["X-Raceway-Trace-Id"] == TRACE_ID
    assert leaf["Traceparent"].startswith(f"00-{TRACE_ID}-")
    assert leaf["Traceparent"].endswith("-00")
    assert "00f067aa0ba902b7" not in leaf["Traceparent"]  # the call's own span id
    assert "X-Raceway-Vc" not in leaf
    assert tracer.flush(5)
    assert collector.events == []


def test_flags_are_propagated_as_received_without_unknown_bits(
    echo: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = echo
    requests.get(
        f"{url}/hop", headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-ff"}, timeout=5
    )
    assert seen[0]["Traceparent"].endswith("-03")


def test_sample_rate_zero_records_nothing_but_still_propagates(collector: FakeCollector) -> None:
    tracer = Tracer(service_name="never", server_url=collector.url, sample_rate=0)
    with tracer.start_trace() as ctx:
        assert ctx is not None
        assert ctx.trace_flags == "02"
        raceway.track_state_write("x", 1)
        headers = raceway.get_trace_headers()
    assert set(headers) == {"X-Raceway-Trace-Id", "traceparent"}
    assert headers["traceparent"].endswith("-02")
    assert tracer.flush(5)
    assert collector.events == []
    tracer.shutdown(1)


def test_each_manual_call_is_a_client_call_of_its_own(
    tracer: Tracer, collector: FakeCollector
) -> None:
    with tracer.start_trace() as ctx:
        assert ctx is not None
        first = raceway.get_trace_headers("http://billing.example.com/charge?card=1", "POST")
        second = raceway.get_trace_headers()
        third = raceway.get_trace_headers()
        answer = {"X-Raceway-Trace-Id": ctx.trace_id, "X-Raceway-VC": '{"billing#00000001":4}'}
        # `request` picks the call; without it the oldest open call is ended.
        assert raceway.merge_response_headers(answer, status=201, request=third)
        assert raceway.merge_response_headers({}, status=200) is False
    parents = {h["traceparent"].split("-")[2] for h in (first, second, third)}
    assert len(parents) == 3
    # The allow-list is for instrumented calls: manual headers go wherever the app sends them.
    assert "X-Raceway-VC" in first
    events = flushed_events(
        tracer, collector, until=lambda e: len(of_kind(e, "response_received")) >= 2
    )
    sent = of_kind(events, "request_sent")
    assert [event["span_id"] for event in sent] == [
        h["traceparent"].split("-")[2] for h in (first, second, third)
    ]
    assert sent[0]["data"] == {
        "method": "POST",
        "url": "http://billing.example.com/charge",
        "host": "billing.example.com",
    }
    assert sent[1]["data"] == {"method": "GET", "url": "unknown", "host": "unknown"}
    received = of_kind(events, "response_received")
    assert [event["span_id"] for event in received] == [sent[2]["span_id"], sent[0]["span_id"]]
    assert received[0]["data"]["status"] == 201
    assert received[0]["data"]["remote_clock"] is True
    assert received[0]["clock"]["billing#00000001"] == 4
