"""A Python service instrumented with OpenTelemetry only (no Raceway): opentelemetry-sdk, the
WSGI instrumentation, and the OTLP/HTTP protobuf exporter to the collector's POST /v1/traces.

Run by ../shared/foreign-service.ts with the Python SDK's virtualenv, configured by the
environment: RACEWAY_SERVICE_NAME (its service.name), RACEWAY_URL (the collector),
RACEWAY_INSTANCE (its service.instance.id). Prints `{"url": ...}` once it listens on 127.0.0.1
(an ephemeral port); SIGTERM exports what is left and exits.

Routes:
- GET /chain: answers {service, traceId} from inside its server span.
- POST /flush: exports what the span processor holds.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SERVICE = os.environ["RACEWAY_SERVICE_NAME"]
provider = TracerProvider(
    resource=Resource.create(
        {
            "service.name": SERVICE,
            "service.instance.id": os.environ.get("RACEWAY_INSTANCE", f"{SERVICE}-1"),
        }
    )
)
provider.add_span_processor(
    BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{os.environ['RACEWAY_URL']}/v1/traces"))
)
trace.set_tracer_provider(provider)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def answer(start_response: StartResponse, body: dict[str, Any]) -> list[bytes]:
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps(body).encode()]


def traced_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/chain":
        start_response("404 Not Found", [])
        return [b""]
    span = trace.get_current_span().get_span_context()
    return answer(start_response, {"service": SERVICE, "traceId": f"{span.trace_id:032x}"})


traced = OpenTelemetryMiddleware(traced_app)


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    # The test harness' own flush calls are not part of any trace.
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/flush":
        return answer(start_response, {"flushed": provider.force_flush(10_000)})
    result: Iterable[bytes] = traced(environ, start_response)
    return result


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    port = server.server_address[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    provider.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
