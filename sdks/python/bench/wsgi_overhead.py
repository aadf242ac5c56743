"""Per-request overhead of the Raceway WSGI middleware against the bare app and against
OpenTelemetry's WSGI instrumentation, measured in the same run.

    sdks/python/.venv/bin/python sdks/python/bench/wsgi_overhead.py --requests 20000 --rounds 5

Each variant serves the same WSGI app in-process (no sockets: what is measured is the
middleware, not the server): an environ per request, `app(environ, start_response)`, the body
iterated and closed. CPU time is the process's (every thread: the export threads' JSON and gzip
included), taken after each variant's exporter has flushed what the run queued. Rounds rotate
the order of the variants; the figures are the medians of the rounds.

- bare: the app alone.
- raceway: `raceway_middleware(app, ...)`, a new trace per request; batches go through the SDK's
  transport (JSON, gzip) to a sender that discards them.
- raceway-joined: the same, each request carrying the headers of a sampled upstream caller.
- raceway-unsampled: a new trace per request with the tracer's sample rate at 0: no event, the
  context still set and the response's `X-Raceway-Trace-Id` still answered.
- otel: `opentelemetry-instrumentation-wsgi`'s `OpenTelemetryMiddleware`, a `TracerProvider`
  (sampler `ParentBased(TraceIdRatioBased(1))`) with a `BatchSpanProcessor` whose exporter
  encodes each batch as JSON and gzips it, then discards it (the same work Raceway's transport
  does before its sender). Its queue is as large as Raceway's, so that neither drops.
- otel-joined: the same, each request carrying the `traceparent` of a sampled upstream caller.
- otel-unsampled: the same middleware and a provider sampling with
  `ParentBased(TraceIdRatioBased(0))`: a non-recording span per request, nothing exported.

Raceway's figures are compared with OpenTelemetry's on the same path: new trace, joined trace,
unsampled.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import opentelemetry.instrumentation.wsgi as otel_wsgi
from flask import Flask
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

import raceway
from raceway import Tracer
from raceway.config import resolve_config
from raceway.transport import SendResult, Transport

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
UPSTREAM = {
    "HTTP_X_RACEWAY_TRACE_ID": "4bf92f3577b34da6a3ce929d0e0e4736",
    "HTTP_TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "HTTP_X_RACEWAY_VC": '{"front#1f3a9c07":3}',
}


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
    return [b"hello world"]


def flask_hello() -> WSGIApp:
    app = Flask("bench")

    @app.get("/hello")
    def route() -> str:
        return "hello world"

    return app.wsgi_app


APPS: dict[str, Callable[[], WSGIApp]] = {"wsgi": lambda: hello, "flask": flask_hello}


def environ_for(extra: dict[str, str]) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/hello",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **extra,
    }


def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
    return lambda data: None


class DiscardSender:
    """The end of Raceway's transport: the batch arrives JSON-encoded and gzipped."""

    def __init__(self) -> None:
        self.bytes = 0

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        self.bytes += len(body)
        return SendResult(200, b'{"accepted":0,"duplicates":0}')


class JsonGzipDiscardExporter(SpanExporter):
    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        payload = "[" + ",".join(span.to_json(indent=None) for span in spans) + "]"
        gzip.compress(payload.encode("utf-8"), compresslevel=6)
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


class Variant:
    def __init__(self, name: str, app: WSGIApp, extra: dict[str, str], flush: Callable[[], None]):
        self.name, self.app, self.extra, self.flush = name, app, extra, flush


def raceway_variant(
    name: str, base: WSGIApp, extra: dict[str, str], sample_rate: float = 1.0
) -> tuple[Variant, Tracer]:
    options = {"service_name": "bench", "max_queue_size": 10_000_000, "sample_rate": sample_rate}
    tracer = Tracer(
        transport=Transport(resolve_config(options), DiscardSender()),  # type: ignore[arg-type]
        **options,
    )
    app = raceway.raceway_middleware(base, tracer=tracer)

    def flush() -> None:
        assert tracer.flush(60), "the transport did not drain"

    return Variant(name, app, extra, flush), tracer


def otel_variant(
    name: str, base: WSGIApp, extra: dict[str, str], ratio: float = 1.0
) -> tuple[Variant, JsonGzipDiscardExporter]:
    exporter = JsonGzipDiscardExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    # A queue as large as Raceway's, so that no span is dropped when the export thread lags.
    processor = BatchSpanProcessor(exporter, max_queue_size=10_000_000)
    provider.add_span_processor(processor)
    app = otel_wsgi.OpenTelemetryMiddleware(base, tracer_provider=provider)

    def flush() -> None:
        assert processor.force_flush(60_000), "the span processor did not drain"

    return Variant(name, app, extra, flush), exporter


def run(variant: Variant, requests: int) -> tuple[float, float]:
    """(CPU µs per request, wall µs per request), the export flush included."""
    environs = [environ_for(variant.extra) for _ in range(requests)]
    app = variant.app
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for environ in environs:
        body = app(environ, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    variant.flush()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / requests * 1e6, wall / requests * 1e6


OTEL_COUNTERPART = {
    "raceway": "otel",
    "raceway-joined": "otel-joined",
    "raceway-unsampled": "otel-unsampled",
}


def measure(base: WSGIApp, requests: int, rounds: int) -> tuple[list[str], str]:
    """Runs the variants over one app; the Markdown table rows and the export line."""
    raceway_new, tracer_new = raceway_variant("raceway", base, {})
    raceway_joined, tracer_joined = raceway_variant("raceway-joined", base, UPSTREAM)
    raceway_unsampled, tracer_unsampled = raceway_variant("raceway-unsampled", base, {}, 0.0)
    otel, exporter = otel_variant("otel", base, {})
    otel_joined, exporter_joined = otel_variant("otel-joined", base, UPSTREAM)
    otel_unsampled, exporter_unsampled = otel_variant("otel-unsampled", base, {}, 0.0)
    variants = [
        Variant("bare", base, {}, lambda: None),
        raceway_new,
        raceway_joined,
        raceway_unsampled,
        otel,
        otel_joined,
        otel_unsampled,
    ]
    for variant in variants:  # warm-up
        run(variant, min(requests, 2000))
    cpu: dict[str, list[float]] = {v.name: [] for v in variants}
    wall: dict[str, list[float]] = {v.name: [] for v in variants}
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            c, w = run(variant, requests)
            cpu[variant.name].append(c)
            wall[variant.name].append(w)
    med = {name: statistics.median(values) for name, values in cpu.items()}
    med_wall = {name: statistics.median(values) for name, values in wall.items()}
    bare = med["bare"]
    rows = []
    for name in cpu:
        overhead = med[name] - bare
        counterpart = OTEL_COUNTERPART.get(name)
        versus = "n/a" if counterpart is None else f"{overhead / (med[counterpart] - bare):.2f}×"
        shown = "n/a" if name == "bare" else f"{overhead:.1f}"
        rows.append(
            f"| {name} | {med[name]:.1f} | {med_wall[name]:.1f} | {shown} | "
            f"{med[name] / bare:.2f}× | {versus} |"
        )
    tracers = (tracer_new, tracer_joined, tracer_unsampled)
    stats = [tracer.stats() for tracer in tracers]
    for tracer in tracers:
        tracer.shutdown(1)
    exporters = (exporter, exporter_joined, exporter_unsampled)
    export = (
        f"Export: Raceway sent {sum(s.sent for s in stats):,} events "
        f"({sum(s.dropped for s in stats)} dropped; {stats[2].sent} by the unsampled tracer); "
        f"OpenTelemetry exported {sum(e.spans for e in exporters):,} spans "
        f"({exporter_unsampled.spans} by the unsampled provider)."
    )
    return rows, export


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", help="write the Markdown report here")
    args = parser.parse_args()

    lines = [
        "# Python WSGI overhead: raceway_middleware vs bare app vs OpenTelemetry",
        "",
        f"Command: `sdks/python/.venv/bin/python sdks/python/bench/wsgi_overhead.py "
        f"--requests {args.requests} --rounds {args.rounds} --output "
        "bench/results/python-wsgi-overhead.md`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {date.today()}, load average {os.getloadavg()[0]:.1f} at "
        "the start: shared with other work, so absolute figures (wall time most) move between "
        "runs, ratios much less.",
        "",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
        f"{args.requests} requests per variant and round, {args.rounds} rounds, medians. Two "
        "apps: a plain WSGI callable answering `hello world` (almost free, so the columns show "
        "the middleware alone) and the same route in Flask.",
    ]
    for app_name, make in APPS.items():
        rows, export = measure(make(), args.requests, args.rounds)
        lines += [
            "",
            f"## App: {app_name}",
            "",
            "| variant | CPU µs/request | wall µs/request | CPU overhead µs | CPU vs bare |"
            " overhead vs OpenTelemetry's on the same path |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            export,
        ]
    lines += [
        "",
        "Per request Raceway extracts the incoming context, starts an execution context (ids, a "
        "clock, a contextvars copy), records two events (request_received, response_sent), sets "
        "two response headers and encodes the events as JSON; the transport's thread gzips and "
        "sends them. OpenTelemetry starts and ends one span with its attributes and exports it. "
        "Unsampled, Raceway still extracts the incoming context, starts the execution context "
        "(the trace goes on to outgoing calls) and answers the trace id, but records no "
        "event; OpenTelemetry makes a span that records nothing and is not exported.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
