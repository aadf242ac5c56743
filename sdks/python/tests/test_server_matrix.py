"""The same server tests on every framework, on real servers on loopback (port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from raceway import Tracer
from tests.apps import FRAMEWORKS
from tests.helpers import flushed_events, happens_before, of_kind
from tests.servers import FakeCollector, serve_asgi, serve_wsgi

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(params=sorted(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def base_url(framework: str, tracer: Tracer) -> Iterator[str]:
    factory, kind, _ = FRAMEWORKS[framework]
    serve = serve_wsgi if kind == "wsgi" else serve_asgi
    with serve(factory(tracer)) as url:
        yield url


def test_a_request_records_received_and_sent_and_answers_with_its_clock(
    framework: str, base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/items/42", timeout=5)
    assert response.status_code == 200
    events = flushed_events(tracer, collector)
    received, sent = of_kind(events, "request_received"), of_kind(events, "response_sent")
    assert len(received) == 1
    assert len(sent) == 1
    read = of_kind(events, "state_read")[0]
    assert received[0]["data"]["incoming"] == {"status": "absent", "reasons": []}
    assert received[0]["parent_span_id"] is None
    assert sent[0]["data"]["status"] == 200
    assert sent[0]["data"]["route"] == FRAMEWORKS[framework][2]
    assert happens_before(received[0], read)
    assert happens_before(read, sent[0])
    assert response.headers["X-Raceway-Trace-Id"] == sent[0]["trace_id"]
    # The response carries the clock of response_sent (spec 2.6).
    assert response.headers["X-Raceway-VC"] == _canonical(sent[0]["clock"])


def test_joins_the_incoming_trace(base_url: str, tracer: Tracer, collector: FakeCollector) -> None:
    headers = {
        "X-Raceway-Trace-Id": TRACE_ID,
        "traceparent": f"00-{TRACE_ID}-{PARENT}-01",
        "X-Raceway-VC": '{"caller#00000001":3}',
    }
    requests.get(f"{base_url}/items/1", headers=headers, timeout=5)
    received = of_kind(flushed_events(tracer, collector), "request_received")[0]
    assert received["trace_id"] == TRACE_ID
    assert received["parent_span_id"] == PARENT
    assert received["clock"]["caller#00000001"] == 3
    assert received["clock"][received["component"]] == 1
    assert received["data"]["incoming"]["status"] == "accepted"


def test_malformed_headers_never_fail_the_request(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    headers = {"X-Raceway-Trace-Id": "nope", "traceparent": "garbage", "X-Raceway-VC": "{{{"}
    response = requests.get(f"{base_url}/items/1", headers=headers, timeout=5)
    assert response.status_code == 200
    received = of_kind(flushed_events(tracer, collector), "request_received")[0]
    assert received["data"]["incoming"] == {
        "status": "rejected",
        "reasons": ["trace_id_invalid", "traceparent_invalid"],
    }


def test_an_error_is_recorded_and_the_response_is_a_500(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/boom", timeout=5)
    assert response.status_code == 500
    events = flushed_events(tracer, collector)
    errors = of_kind(events, "error")
    assert [error["data"]["type"] for error in errors] == ["BoomError"]
    assert errors[0]["data"]["message"] == "kaput"
    sent = of_kind(events, "response_sent")[0]
    assert sent["data"]["status"] == 500
    assert sent["data"]["error"]["type"] == "BoomError"


def test_a_streaming_body_is_inside_the_request_context(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/stream", timeout=5)
    assert response.text == "chunk0\nchunk1\nchunk2\n"
    events = flushed_events(tracer, collector)
    received = of_kind(events, "request_received")[0]
    chunks = of_kind(events, "custom")
    assert [chunk["data"]["attributes"]["index"] for chunk in chunks] == [0, 1, 2]
    assert len(of_kind(events, "response_sent")) == 1
    for chunk in chunks:
        # The chunks are produced while the body is sent, after the status line: they belong
        # to the request's context, after what it did before.
        assert chunk["trace_id"] == received["trace_id"]
        assert chunk["component"] == received["component"]
        assert happens_before(received, chunk)
    # response_sent is stamped when the head went out (spec 4), before the body's chunks,
    # though it is recorded once the body is done.
    assert of_kind(events, "response_sent")[0]["ts_us"] <= chunks[0]["ts_us"]


def test_ignored_paths_are_not_traced(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/health", timeout=5)
    assert response.status_code == 200
    assert "X-Raceway-Trace-Id" not in response.headers
    assert flushed_events(tracer, collector) == []


def test_concurrent_requests_get_their_own_components(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: requests.get(f"{base_url}/items/{i}", timeout=5), range(8)))
    reads = of_kind(flushed_events(tracer, collector), "state_read")
    assert len(reads) == 8
    assert len({read["component"] for read in reads}) == 8
    assert len({read["trace_id"] for read in reads}) == 8


def _canonical(clock: dict[str, int]) -> str:
    return "{" + ",".join(f'"{key}":{clock[key]}' for key in sorted(clock)) + "}"
