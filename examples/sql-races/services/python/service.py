"""The order and inventory services in Python: Flask (WSGI) on werkzeug's threaded server,
traced by Raceway's WSGI middleware, every statement reported by the connections
`raceway.db.instrument` wraps. No tracking call anywhere in the services' code.

    python service.py order       # POST /orders/<id>?mode=M         owns `stock`
    python service.py inventory   # POST /stock/<id>/reserve?mode=M  owns `reserved`

Configured by the environment: PORT, DATABASE (`sqlite:<file>` or a postgres:// URL),
RACEWAY_URL, RACE_PAUSE_MS. SIGTERM finishes the requests in flight, sends every queued event
and exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import raceway
from db import connect
from flask import Flask, request
from stock import take_one
from werkzeug.serving import make_server

DATABASE = os.environ.get("DATABASE", "sqlite:shop.db")


def create_app(service: str) -> Flask:
    app = Flask(service)
    column = "stock" if service == "order" else "reserved"

    def take(product: int) -> dict[str, Any]:
        mode = request.args.get("mode", "naive")
        with connect(DATABASE) as db:
            retries = take_one(db, mode, product, column)
        return {"service": service, "mode": mode, "retries": retries}

    if service == "order":
        app.add_url_rule("/orders/<int:product>", "take", take, methods=["POST"])
    else:
        app.add_url_rule("/stock/<int:product>/reserve", "take", take, methods=["POST"])

    @app.get("/")
    def ready() -> dict[str, str]:
        return {"service": service}

    @app.errorhandler(Exception)
    def failed(error: Exception) -> tuple[dict[str, str], int]:
        return {"error": str(error)}, 500

    app.wsgi_app = raceway.raceway_middleware(app.wsgi_app, service_name=service)  # type: ignore[method-assign]
    return app


def main() -> None:
    service = sys.argv[1] if len(sys.argv) > 1 else "order"
    if service not in ("order", "inventory"):
        raise SystemExit("usage: service.py order|inventory")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server(
        "127.0.0.1", int(os.environ.get("PORT", "3001")), create_app(service), threaded=True
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    stop.wait()
    server.shutdown()
    thread.join()
    # Raceway installs no signal handler: flushing before exit is the application's job.
    raceway.shutdown(timeout=10)


if __name__ == "__main__":
    main()
