"""Delivery rate of the transport with one batch in flight against three, to a collector that
takes a while to answer each batch, measured in the same run.

    sdks/python/.venv/bin/python sdks/python/bench/transport_concurrency.py \
        --events 20000 --latency-ms 20 --rounds 3 --output bench/results/python-transport.md

The collector stand-in is a real HTTP server on loopback (threaded: one thread per
connection) that reads and gunzips each batch, waits `--latency-ms` (what a durable commit
costs a collector), then answers 200. Each variant enqueues the same events into a fresh
`Transport` and times `flush()` until the collector acknowledged the last one. Rounds rotate
the order of the variants; the figures are the medians of the rounds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from raceway.config import resolve_config
from raceway.transport import Transport

VARIANTS = {"1 in flight": 1, "3 in flight (default)": 3}


@contextmanager
def slow_collector(latency_s: float) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else the answer's two writes wait for a delayed ACK

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            gzip.decompress(body)
            time.sleep(latency_s)  # the stand-in's commit
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def deliver(url: str, events: int, in_flight: int) -> float:
    """Seconds from the first enqueue until the collector acknowledged every event."""
    config = resolve_config({"service_name": "bench", "server_url": url, "batch_size": 200})
    transport = Transport(config, max_in_flight=in_flight)
    event = {"kind": "custom", "data": {"name": "bench", "attributes": {"n": 1}}}
    started = time.perf_counter()
    for index in range(events):
        transport.enqueue({**event, "id": f"{index:032x}"})
    if not transport.flush(timeout=600):
        raise RuntimeError(f"not delivered: {transport.stats()}")
    elapsed = time.perf_counter() - started
    stats = transport.stats()
    if stats.sent != events:
        raise RuntimeError(f"delivered {stats.sent} of {events}")
    transport.shutdown(1)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", help="write the Markdown report there too")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with slow_collector(args.latency_ms / 1000) as url:
        names = list(VARIANTS)
        for round_index in range(args.rounds):
            order = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order:
                times[name].append(deliver(url, args.events, VARIANTS[name]))
    base = statistics.median(times[names[0]])
    lines = [
        "# Python transport: batches in flight at once",
        "",
        "Command: `sdks/python/.venv/bin/python sdks/python/bench/transport_concurrency.py"
        f" --events {args.events} --latency-ms {args.latency_ms:g} --rounds {args.rounds}"
        + (f" --output {args.output}`" if args.output else "`"),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, {date.today().isoformat()}, load average {load:.1f} at"
        " the start (shared with other work: read the ratio).",
        "",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
        f"{args.events} events in batches of 200, a collector answering each batch after"
        f" {args.latency_ms:g} ms, {args.rounds} rounds, medians.",
        "",
        "| variant | seconds to deliver | events/s | rate vs 1 in flight |",
        "|---|---|---|---|",
    ]
    for name in names:
        seconds = statistics.median(times[name])
        lines.append(
            f"| {name} | {seconds:.2f} | {args.events / seconds:,.0f} | {base / seconds:.2f}× |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(report)


if __name__ == "__main__":
    main()
