"""An OTLP/HTTP trace receiver that decodes with OpenTelemetry's own generated protobuf code
(opentelemetry-proto), independent of the collector's encoder.

Run by ../shared/foreign-service.ts with the Python SDK's virtualenv. Prints `{"url": ...}` once
it listens on 127.0.0.1 (an ephemeral port); SIGTERM stops it.

Routes:
- POST /v1/traces: an ExportTraceServiceRequest, protobuf, gzip or not; answers an empty
  ExportTraceServiceResponse.
- GET /spans: every span received, as JSON: trace, span and parent ids in hex, the name, the
  kind, string attributes, the span events with their string attributes, and the links (trace
  and span ids in hex, string attributes).
- POST /flush: nothing to send; answers {"flushed": true} (the interop protocol).
"""

from __future__ import annotations

import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

SPANS: list[dict[str, Any]] = []
LOCK = threading.Lock()


def strings(attributes: Any) -> dict[str, str]:
    pairs: list[KeyValue] = list(attributes)
    return {kv.key: kv.value.string_value for kv in pairs if kv.value.HasField("string_value")}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/flush":
            self.answer(200, "application/json", b'{"flushed": true}')
            return
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        decoded = [
            {
                "traceId": span.trace_id.hex(),
                "spanId": span.span_id.hex(),
                "parentSpanId": span.parent_span_id.hex() or None,
                "name": span.name,
                "kind": span.kind,
                "service": strings(resource.resource.attributes).get("service.name"),
                "attributes": strings(span.attributes),
                "events": [
                    {"name": event.name, "attributes": strings(event.attributes)}
                    for event in span.events
                ],
                "links": [
                    {
                        "traceId": link.trace_id.hex(),
                        "spanId": link.span_id.hex(),
                        "attributes": strings(link.attributes),
                    }
                    for link in span.links
                ],
            }
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        with LOCK:
            SPANS.extend(decoded)
        self.answer(200, "application/x-protobuf", ExportTraceServiceResponse().SerializeToString())

    def do_GET(self) -> None:
        with LOCK:
            body = json.dumps(SPANS).encode()
        self.answer(200, "application/json", body)

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    sys.exit(0)


if __name__ == "__main__":
    main()
