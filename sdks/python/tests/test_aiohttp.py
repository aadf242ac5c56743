"""aiohttp: the server middleware and the client TraceConfig, on real servers on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import pytest
import requests
from aiohttp import web

import raceway
from raceway import Tracer
from raceway.integrations.aiohttp import instrument_app, trace_config
from tests.helpers import Event, flushed_events, happens_before, of_kind, one_event
from tests.servers import FakeCollector, serve_aiohttp

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def _inventory_app(tracer: Tracer) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/items/{item_id}")
    async def item(request: web.Request) -> web.Response:
        await asyncio.sleep(0)  # the context survives an await
        raceway.track_state_write(f"stock:{request.match_info['item_id']}", 4)
        return web.json_response({"stock": 4})

    @routes.get("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)  # the head is sent here, inside the handler
        await response.write(b"chunk")
        await response.write_eof()
        return response

    @routes.get("/missing")
    async def missing(_request: web.Request) -> web.Response:
        raise web.HTTPNotFound(text="no such item")

    @routes.get("/boom")
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("inventory exploded")

    admin = web.Application()

    async def audit(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    admin.router.add_get("/audit/{day}", audit)
    app = web.Application()
    app.add_routes(routes)
    app.add_subapp("/admin", admin)
    return instrument_app(app, tracer=tracer)


@pytest.fixture
def inventory(collector: FakeCollector) -> Iterator[tuple[str, Tracer]]:
    traced = Tracer(service_name="inventory", server_url=collector.url, flush_interval_ms=20)
    with serve_aiohttp(_inventory_app(traced)) as url:
        yield url, traced
    traced.shutdown(timeout=2)


def _server_events(tracer: Tracer, collector: FakeCollector, count: int) -> list[Event]:
    return flushed_events(
        tracer, collector, until=lambda e: len(of_kind(e, "response_sent")) >= count
    )


def test_the_server_joins_the_trace_names_the_route_and_answers_with_its_clock(
    inventory: tuple[str, Tracer], collector: FakeCollector
) -> None:
    url, tracer = inventory
    answer = requests.get(
        f"{url}/items/42", headers={"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}, timeout=5
    )
    assert answer.status_code == 200
    events = _server_events(tracer, collector, 1)
    received = one_event(events, "request_received", "inventory")
    sent = one_event(events, "response_sent", "inventory")
    write = one_event(events, "state_write", "inventory")
    assert received["trace_id"] == TRACE_ID
    assert received["parent_span_id"] == PARENT
    assert write["span_id"] == received["span_id"]
    assert sent["data"]["route"] == "/items/{item_id}"
    assert sent["data"]["status"] == 200
    assert answer.headers["X-Raceway-Trace-Id"] == TRACE_ID
    # The clock answered is the one of `response_sent` (spec 2.6).
    assert json.loads(answer.headers["X-Raceway-VC"]) == sent["clock"]


def test_responses_sent_by_the_handler_raised_or_failed_are_traced(
    inventory: tuple[str, Tracer], collector: FakeCollector
) -> None:
    url, tracer = inventory
    answers = {
        path: requests.get(f"{url}{path}", timeout=5)
        for path in ("/stream", "/missing", "/boom", "/admin/audit/monday", "/nowhere")
    }
    assert {path: a.status_code for path, a in answers.items()} == {
        "/stream": 200,
        "/missing": 404,
        "/boom": 500,
        "/admin/audit/monday": 200,
        "/nowhere": 404,
    }
    for path in ("/stream", "/missing", "/admin/audit/monday", "/nowhere"):
        assert "X-Raceway-VC" in answers[path].headers, path
    events = _server_events(tracer, collector, len(answers))
    by_path = {e["data"]["path"]: e["span_id"] for e in of_kind(events, "request_received")}
    done = {e["span_id"]: e["data"] for e in of_kind(events, "response_sent")}
    assert done[by_path["/stream"]]["route"] == "/stream"
    assert done[by_path["/missing"]]["status"] == 404
    assert "error" not in done[by_path["/missing"]]
    assert done[by_path["/boom"]]["status"] == 500
    assert done[by_path["/boom"]]["error"]["message"] == "inventory exploded"
    errors = of_kind(events, "error")
    assert [e["span_id"] for e in errors] == [by_path["/boom"]]
    assert done[by_path["/admin/audit/monday"]]["route"] == "/admin/audit/{day}"
    assert done[by_path["/nowhere"]]["route"] is None


def _call(url: str, tracer: Tracer | None = None) -> tuple[int, str | None]:
    """A GET through a session with the Raceway TraceConfig, in a trace when `tracer` is
    given; then a read, which must come after whatever the callee did."""

    async def call() -> tuple[int, str | None]:
        async with (
            aiohttp.ClientSession(trace_configs=[trace_config()]) as session,
            session.get(url) as response,
        ):
            await response.read()
            raceway.track_state_read("stock:42", 4)
            return response.status, response.headers.get("X-Raceway-Trace-Id")

    if tracer is None:
        return asyncio.run(call())

    async def traced() -> tuple[int, str | None]:
        with tracer.start_trace():
            return await call()

    return asyncio.run(traced())


def test_the_client_propagates_and_merges_the_callee_clock(
    tracer: Tracer, inventory: tuple[str, Tracer], collector: FakeCollector
) -> None:
    url, inventory_tracer = inventory
    status, answered_trace = _call(f"{url}/items/42", tracer)
    assert status == 200
    inventory_tracer.flush(5)
    events = flushed_events(tracer, collector)
    sent = one_event(events, "request_sent", "py-test")
    received = one_event(events, "response_received", "py-test")
    server_in = one_event(events, "request_received", "inventory")
    write = one_event(events, "state_write", "inventory")
    after = one_event(events, "state_read", "py-test")
    assert answered_trace == sent["trace_id"] == server_in["trace_id"]
    assert server_in["parent_span_id"] == sent["span_id"]
    assert received["span_id"] == sent["span_id"]
    assert received["data"]["remote_clock"] is True
    assert received["data"]["status"] == 200
    assert happens_before(sent, server_in)
    assert happens_before(write, received)
    assert happens_before(write, after)


def test_a_failed_client_call_is_recorded_and_raised(
    tracer: Tracer, collector: FakeCollector
) -> None:
    with pytest.raises(aiohttp.ClientConnectionError):
        _call("http://127.0.0.1:9/nothing", tracer)
    events = flushed_events(
        tracer, collector, until=lambda e: bool(of_kind(e, "response_received"))
    )
    failed = one_event(events, "response_received", "py-test")
    assert failed["span_id"] == one_event(events, "request_sent", "py-test")["span_id"]
    assert "error" in failed["data"]
    assert "status" not in failed["data"]


def test_outside_a_trace_the_client_sends_no_trace_headers(
    inventory: tuple[str, Tracer], collector: FakeCollector
) -> None:
    url, inventory_tracer = inventory
    status, _ = _call(f"{url}/items/42")
    assert status == 200
    events = _server_events(inventory_tracer, collector, 1)
    received = one_event(events, "request_received", "inventory")
    assert received["parent_span_id"] is None  # the server started a trace of its own
    assert of_kind(events, "request_sent") == []


def test_instrument_app_refuses_a_started_application() -> None:
    app = web.Application()
    app.freeze()
    with pytest.raises(RuntimeError, match="has not started yet"):
        instrument_app(app, service_name="late")
