"""The Python side of the cross-language tests: a small service on the Raceway Python SDK.

Run by ../shared/foreign-service.ts with the SDK's virtualenv. Configured by the environment alone
(RACEWAY_SERVICE_NAME, RACEWAY_URL, RACEWAY_INSTANCE) and RACEWAY_INTEROP_FRAMEWORK (`flask`,
the default, `fastapi` or `aiohttp`). Prints `{"url": ...}` once it listens on 127.0.0.1 (an
ephemeral port); SIGTERM flushes and exits. Flask calls the next service with a traced
`requests` session, FastAPI with an httpx client on Raceway's transport, aiohttp with a session
on Raceway's `TraceConfig`; with RACEWAY_INTEROP_CLIENTS=global, Flask uses the module-level
`requests.get` and FastAPI a plain `httpx.AsyncClient`, traced by `instrument()`.

Routes:
- GET /chain?next=URL: writes `hop:<service>`, calls `next` (if any) and reads `hop:<service>`;
  answers {service, traceId, downstream}.
- GET /reserve?value=N&barrier=URL: reads `stock:1` (N), waits at the barrier (an untraced
  call), writes `stock:1` (N - 1).
- GET /increment: a read-modify-write of `counter` under `raceway.with_lock` with a real lock:
  concurrent calls lose nothing.
- POST /flush: sends what the transport holds.

INTEROP_FLUSH_INTERVAL_MS sets the transport's flush interval (a test of the SIGTERM flush sets
it high, so that only the shutdown sends the events).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from typing import Any

import aiohttp
import httpx
import requests
import uvicorn
from aiohttp import web
from fastapi import FastAPI
from flask import Flask, request
from werkzeug.serving import make_server

import raceway
import raceway.integrations.httpx
import raceway.integrations.requests
from raceway import current_context, raceway_middleware
from raceway.integrations.aiohttp import instrument_app, trace_config
from raceway.integrations.httpx import AsyncRacewayTransport
from raceway.integrations.requests import traced_session

SERVICE = os.environ["RACEWAY_SERVICE_NAME"]
GLOBAL_CLIENTS = os.environ.get("RACEWAY_INTEROP_CLIENTS") == "global"
tracer = raceway.init(flush_interval_ms=int(os.environ.get("INTEROP_FLUSH_INTERVAL_MS", "1000")))
counter_lock = threading.Lock()
counter = {"value": 0}


def increment() -> dict[str, int]:
    with raceway.with_lock("counter", counter_lock):
        seen = counter["value"]
        raceway.track_state_read("counter", seen)
        time.sleep(0.005)  # without the lock, other requests read `seen` meanwhile
        counter["value"] = seen + 1
        raceway.track_state_write("counter", seen + 1)
        return {"value": seen + 1}


def trace_id() -> str | None:
    ctx = current_context()
    return ctx.trace_id if ctx is not None else None


def wait_at(barrier: str) -> None:
    # The barrier is test machinery, not part of the system under test: plain urllib.
    with urllib.request.urlopen(barrier, timeout=30) as response:
        response.read()


def flask_app() -> Any:
    app = Flask(SERVICE)
    get = requests.get if GLOBAL_CLIENTS else traced_session().get

    @app.get("/chain")
    def chain() -> dict[str, Any]:
        raceway.track_state_write(f"hop:{SERVICE}", 1)
        downstream = None
        if request.args.get("next"):
            downstream = get(request.args["next"], timeout=30).json()
        raceway.track_state_read(f"hop:{SERVICE}", 1)
        return {"service": SERVICE, "traceId": trace_id(), "downstream": downstream}

    @app.get("/reserve")
    def reserve() -> dict[str, int]:
        value = int(request.args["value"])
        raceway.track_state_read("stock:1", value)
        wait_at(request.args["barrier"])
        raceway.track_state_write("stock:1", value - 1)
        return {"left": value - 1}

    app.get("/increment")(increment)

    @app.post("/flush")
    def flush() -> dict[str, bool]:
        return {"flushed": tracer.flush(timeout=10)}

    app.wsgi_app = raceway_middleware(app.wsgi_app)  # type: ignore[method-assign]
    return app


def fastapi_app() -> Any:
    app = FastAPI()
    if GLOBAL_CLIENTS:
        client = httpx.AsyncClient(timeout=30)
    else:
        client = httpx.AsyncClient(transport=AsyncRacewayTransport(), timeout=30)

    @app.get("/chain")
    async def chain(next: str | None = None) -> dict[str, Any]:
        raceway.track_state_write(f"hop:{SERVICE}", 1)
        downstream = (await client.get(next)).json() if next else None
        raceway.track_state_read(f"hop:{SERVICE}", 1)
        return {"service": SERVICE, "traceId": trace_id(), "downstream": downstream}

    @app.get("/reserve")
    async def reserve(value: int, barrier: str) -> dict[str, int]:
        raceway.track_state_read("stock:1", value)
        await asyncio.to_thread(wait_at, barrier)
        raceway.track_state_write("stock:1", value - 1)
        return {"left": value - 1}

    # A plain `def`: FastAPI runs it in a thread, where the blocking lock belongs.
    app.get("/increment")(increment)

    @app.post("/flush")
    def flush() -> dict[str, bool]:
        return {"flushed": tracer.flush(timeout=10)}

    app.add_middleware(raceway.RacewayASGIMiddleware)
    return app


def aiohttp_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/chain")
    async def chain(request: web.Request) -> web.Response:
        raceway.track_state_write(f"hop:{SERVICE}", 1)
        downstream = None
        if "next" in request.query:
            async with (
                aiohttp.ClientSession(trace_configs=[trace_config()]) as session,
                session.get(request.query["next"]) as response,
            ):
                downstream = await response.json()
        raceway.track_state_read(f"hop:{SERVICE}", 1)
        return web.json_response(
            {"service": SERVICE, "traceId": trace_id(), "downstream": downstream}
        )

    @routes.get("/reserve")
    async def reserve(request: web.Request) -> web.Response:
        value = int(request.query["value"])
        raceway.track_state_read("stock:1", value)
        await asyncio.to_thread(wait_at, request.query["barrier"])
        raceway.track_state_write("stock:1", value - 1)
        return web.json_response({"left": value - 1})

    @routes.get("/increment")
    async def increment_route(_request: web.Request) -> web.Response:
        # The blocking lock in a thread (which carries the request's context), as FastAPI does.
        return web.json_response(await asyncio.to_thread(increment))

    @routes.post("/flush")
    async def flush(_request: web.Request) -> web.Response:
        return web.json_response({"flushed": tracer.flush(timeout=10)})

    app = web.Application()
    app.add_routes(routes)
    return instrument_app(app)


def serve_aiohttp(sock: socket.socket, started: threading.Event) -> Any:
    """Runs the aiohttp app on `sock` in a thread of its own; returns what stops it."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(aiohttp_app(), handle_signals=False, access_log=None)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run)
    thread.start()

    def close() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    return close


def main() -> None:
    framework = os.environ.get("RACEWAY_INTEROP_FRAMEWORK", "flask")
    if GLOBAL_CLIENTS:
        raceway.integrations.requests.instrument()
        raceway.integrations.httpx.instrument()
    # IPPROTO_TCP said outright, so that asyncio sets TCP_NODELAY on uvicorn's connections (see
    # examples/polyglot/services/api-python/app.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if framework == "fastapi":
        server = uvicorn.Server(uvicorn.Config(fastapi_app(), log_level="warning", lifespan="off"))
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
        thread.start()
        while not server.started:
            stop.wait(0.01)

        def close() -> None:
            server.should_exit = True
            thread.join()
    elif framework == "aiohttp":
        started = threading.Event()
        close = serve_aiohttp(sock, started)
        while not started.wait(0.01) and not stop.is_set():
            pass
    else:
        wsgi = make_server("127.0.0.1", port, flask_app(), threaded=True, fd=sock.fileno())
        thread = threading.Thread(target=wsgi.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()

        def close() -> None:
            wsgi.shutdown()
            thread.join()

    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    stop.wait()
    close()
    raceway.shutdown(timeout=5)
    sys.exit(0)


if __name__ == "__main__":
    main()
