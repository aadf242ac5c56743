"""The polyglot shop's API gateway, in Python: FastAPI (ASGI), calling auth, order and inventory
with httpx, traced by Raceway's ASGI middleware and httpx transport.

Configured by the environment: PORT, HOST, AUTH_URL, ORDER_URL, INVENTORY_URL, RACEWAY_URL and
SHOP_FLUSH_INTERVAL_MS. Prints `api listening on <url>` once it accepts connections; SIGTERM
finishes the requests in flight, flushes the events and exits.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import threading
from typing import Any

import httpx
import raceway
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from raceway.integrations.httpx import AsyncRacewayTransport

SERVICE = "api"
AUTH = os.environ.get("AUTH_URL", "http://127.0.0.1:3002")
ORDER = os.environ.get("ORDER_URL", "http://127.0.0.1:3003")
INVENTORY = os.environ.get("INVENTORY_URL", "http://127.0.0.1:3005")

http = httpx.AsyncClient(transport=AsyncRacewayTransport(), timeout=10)
app = FastAPI()


async def work(ms: float) -> None:
    """About `ms` milliseconds (plus or minus 20 %): the work a real service would do."""
    await asyncio.sleep(ms * (0.8 + random.random() * 0.4) / 1000)


async def authorized(authorization: str = Header(default="")) -> None:
    """Every route but the health check needs a token that auth accepts."""
    answer = await http.post(f"{AUTH}/verify", headers={"authorization": authorization})
    if answer.status_code == 401:
        raise HTTPException(status_code=401, detail="unauthorized")
    if answer.status_code != 200:
        raise HTTPException(status_code=503, detail=f"auth answered {answer.status_code}")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/products", dependencies=[Depends(authorized)])
async def products() -> Any:
    return (await http.get(f"{INVENTORY}/items")).json()


@app.get("/products/{sku}", dependencies=[Depends(authorized)])
async def product(sku: str) -> JSONResponse:
    answer = await http.get(f"{INVENTORY}/items/{sku}")
    return JSONResponse(answer.json(), status_code=answer.status_code)


@app.post("/checkout", dependencies=[Depends(authorized)])
async def checkout(request: Request, mode: str = "concurrent") -> JSONResponse:
    body = await request.json()
    item = {"sku": body.get("sku", "mug"), "quantity": body.get("quantity", 1)}
    await work(2)
    # The bug this shop exists to show: order (Rust) and inventory (Python) both
    # read-modify-write the stock row, and calling them at once lets one decrement overwrite the
    # other. Each call is a forked branch: asyncio tasks share one context, which would order
    # them. mode=sequential calls one after the other, which orders the two updates.
    if mode == "sequential":
        placed = await http.post(f"{ORDER}/orders", json=item)
        reserved = await http.post(f"{INVENTORY}/reservations", json=item)
    else:
        placed, reserved = await asyncio.gather(
            raceway.fork(http.post(f"{ORDER}/orders", json=item)),
            raceway.fork(http.post(f"{INVENTORY}/reservations", json=item)),
        )
    for answer in (placed, reserved):
        if answer.status_code >= 400:
            status = 409 if answer.status_code == 409 else 502
            return JSONResponse({"error": "checkout_failed", "detail": answer.json()}, status)
    return JSONResponse(
        {"order": placed.json(), "reservation": reserved.json(), "mode": mode}, status_code=201
    )


def main() -> None:
    flush = os.environ.get("SHOP_FLUSH_INTERVAL_MS", "")
    options: dict[str, Any] = {"service_name": SERVICE}
    if flush.isdigit() and int(flush) > 0:
        options["flush_interval_ms"] = int(flush)
    app.add_middleware(raceway.RacewayASGIMiddleware, **options)

    host = os.environ.get("HOST", "127.0.0.1")
    # IPPROTO_TCP said outright: asyncio sets TCP_NODELAY on the connections of a socket whose
    # protocol is TCP, and only then. Without it, uvicorn's head and body go out as two segments
    # with Nagle's algorithm on, and a keep-alive client waits a delayed ACK (40 ms) for the body.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(os.environ.get("PORT", "3001"))))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    # uvicorn serves from a thread of its own, where it installs no signal handlers: on its own
    # it re-raises SIGTERM once it has stopped, which would end the process before the events
    # are flushed. This thread takes the signal and stops it instead.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    while not server.started and thread.is_alive():
        stop.wait(0.01)
    if not server.started:
        raise SystemExit(f"{SERVICE}: uvicorn did not start")
    print(f"{SERVICE} listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    stop.wait()
    server.should_exit = True  # finishes the requests in flight
    thread.join()
    # Raceway installs no signal handler: flushing before exit is the application's job.
    raceway.shutdown(timeout=5)
    print(f"{SERVICE} stopped", flush=True)


if __name__ == "__main__":
    main()
