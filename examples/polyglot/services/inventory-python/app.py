"""The polyglot shop's inventory, in Python: Flask (WSGI), reserving stock in the SQLite row it
shares with the Rust order service, traced by Raceway's WSGI middleware. Each reservation is
recorded in the audit log with a requests Session that Raceway instruments.

Configured by the environment: PORT, HOST, SHOP_DB, AUDIT_URL, RACEWAY_URL and
SHOP_FLUSH_INTERVAL_MS.
Prints `inventory listening on <url>` once it accepts connections; SIGTERM finishes the requests
in flight, flushes the events and exits.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import threading
import time
from contextlib import closing
from typing import Any

import raceway
import raceway.db
import requests
from flask import Flask, request
from raceway import raceway_middleware
from raceway.integrations.requests import instrument_session
from werkzeug.serving import make_server

SERVICE = "inventory"
STOCK_DB = os.environ.get("SHOP_DB", ".raceway/shop.db")
AUDIT_RECORDS = os.environ.get("AUDIT_URL", "http://127.0.0.1:3006") + "/records"

app = Flask(SERVICE)


def work(ms: float) -> None:
    """About `ms` milliseconds (plus or minus 20 %): the work a real service would do."""
    time.sleep(ms * (0.8 + random.random() * 0.4) / 1000)


def stock_db() -> sqlite3.Connection:
    # One connection per request: sqlite3 connections stay in their thread, and werkzeug serves
    # each request on a thread of its own. WAL and a busy timeout: order writes this file too.
    # Instrumented once here: each statement is reported to Raceway, which finds the races in
    # the SQL itself.
    connection = raceway.db.instrument(sqlite3.connect(STOCK_DB, timeout=5, isolation_level=None))
    connection.execute("PRAGMA journal_mode = WAL")
    connection.row_factory = sqlite3.Row
    return connection


def product_of(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "priceCents": row["price_cents"],
        "stock": row["stock"],
    }


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items")
def items() -> list[dict[str, Any]]:
    work(4)
    with closing(stock_db()) as db:
        return [product_of(row) for row in db.execute("SELECT * FROM products ORDER BY sku")]


@app.get("/items/<sku>")
def item(sku: str) -> Any:
    work(2)
    with closing(stock_db()) as db:
        row = db.execute("SELECT * FROM products WHERE sku = ?", (sku,)).fetchone()
    if row is None:
        return {"error": "unknown_product"}, 404
    return product_of(row)


@app.post("/reservations")
def reserve() -> Any:
    """Read the row, do a little work, write the new value back: the read-modify-write that
    loses a decrement when order does the same to the same row at the same time. Nothing here
    tells Raceway anything: it reads the row from the two statements sqlite3 runs."""
    body = request.get_json(silent=True) or {}
    sku, quantity = str(body.get("sku", "")), int(body.get("quantity", 1))
    with closing(stock_db()) as db:
        row = db.execute("SELECT stock FROM products WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            return {"error": "unknown_product"}, 404
        stock = int(row["stock"])
        if stock < quantity:
            return {"error": "out_of_stock", "message": f"only {stock} left of {sku}"}, 409
        work(8)
        db.execute("UPDATE products SET stock = ? WHERE sku = ?", (stock - quantity, sku))
    record = {"service": SERVICE, "action": "stock_reserved", "subject": f"{sku} x{quantity}"}
    # The stock is taken by now: a record the audit log did not take is logged, not undone (and
    # Raceway shows the failed call on the inventory -> audit edge).
    # A Session per request: requests' advice is one Session per thread, and werkzeug serves
    # each request on a thread of its own.
    try:
        with instrument_session(requests.Session()) as audit:
            audit.post(AUDIT_RECORDS, json=record, timeout=5).raise_for_status()
    except requests.RequestException as error:
        app.logger.warning("audit record not taken: %s", error)
    return {"sku": sku, "quantity": quantity, "stockLeft": stock - quantity}, 201


def main() -> None:
    flush = os.environ.get("SHOP_FLUSH_INTERVAL_MS", "")
    # The shop's product codes are no secret: raw parameter values go with their digests, so
    # that races name the product (`products[sku="mug"].stock`).
    options: dict[str, Any] = {"service_name": SERVICE, "capture_values": True}
    if flush.isdigit() and int(flush) > 0:
        options["flush_interval_ms"] = int(flush)
    app.wsgi_app = raceway_middleware(app.wsgi_app, **options)  # type: ignore[method-assign]

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    host = os.environ.get("HOST", "127.0.0.1")
    server = make_server(host, int(os.environ.get("PORT", "3005")), app, threaded=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    print(f"{SERVICE} listening on http://{host}:{server.server_port}", flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    # Raceway installs no signal handler: flushing before exit is the application's job.
    raceway.shutdown(timeout=5)
    print(f"{SERVICE} stopped", flush=True)


if __name__ == "__main__":
    main()
