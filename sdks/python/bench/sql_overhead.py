"""Per-query overhead of `raceway.db.instrument` against the bare driver and against
OpenTelemetry's instrumentation of the same driver, measured in the same run.

    sdks/python/.venv/bin/python sdks/python/bench/sql_overhead.py --queries 20000 --rounds 5

Each round runs the same loop on each variant's connection: a point read
(`SELECT id, stock FROM products WHERE id = ?`, one parameter, one row fetched) and a write
(`UPDATE products SET stock = ? WHERE id = ?`, two parameters), alternately, each on a new
cursor, in autocommit mode (SQLite with `PRAGMA synchronous = OFF`), inside a sampled trace.
CPU time is the process's (every thread: the export threads' JSON and gzip included), taken
after each variant's exporter has flushed what the run queued. Rounds rotate the order of the
variants; the figures are the medians of the rounds.

- bare: the driver's connection.
- raceway: the connection wrapped by `raceway.db.instrument`; one `db_query` event per
  statement (parameter digests, the digests of the row read) through the SDK's transport (JSON,
  gzip) to a sender that discards the batches.
- otel: `opentelemetry-instrumentation-sqlite3` / `-psycopg` (`instrument_connection`), a
  `TracerProvider` with a `BatchSpanProcessor` whose exporter encodes each batch as JSON and
  gzips it, then discards it (the same work Raceway's transport does before the network).

SQLite runs on a file in a temp dir; PostgreSQL on a throwaway cluster the script starts
(initdb + pg_ctl, as the test suite does) unless `--pg-url` names one, and is left out when
neither is possible.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import raceway.db
from raceway import Tracer
from raceway.config import resolve_config
from raceway.context import use_context
from raceway.transport import SendResult, Transport

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.db_servers import postgres_cluster


class DiscardSender:
    """The end of Raceway's transport: the batch arrives JSON-encoded and gzipped."""

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
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
    def __init__(self, name: str, conn: Any, flush: Callable[[], None]) -> None:
        self.name, self.conn, self.flush = name, conn, flush


class Database:
    """One system: how to open a connection and the statements in its placeholders."""

    def __init__(self, system: str, connect: Callable[[], Any], mark: str) -> None:
        self.system = system
        self.connect = connect
        self.select = f"SELECT id, stock FROM products WHERE id = {mark}"
        self.update = f"UPDATE products SET stock = {mark} WHERE id = {mark}"


def run(variant: Variant, db: Database, queries: int, tracer: Tracer) -> float:
    """CPU µs per query, the export flush included."""
    conn = variant.conn
    select, update = db.select, db.update
    cpu0 = time.process_time()
    with use_context(tracer.start_context()):
        for i in range(queries // 2):
            product = i % 100 + 1
            # Through a cursor: OpenTelemetry's DB-API instrumentation traces cursors only.
            conn.cursor().execute(select, (product,)).fetchone()
            conn.cursor().execute(update, (i, product))
    variant.flush()
    return (time.process_time() - cpu0) / queries * 1e6


def measure(db: Database, queries: int, rounds: int) -> tuple[list[str], str]:
    options: dict[str, Any] = {"service_name": "bench", "max_queue_size": 10_000_000}
    tracer = Tracer(
        transport=Transport(resolve_config(options), DiscardSender()),  # type: ignore[arg-type]
        **options,
    )
    exporter = JsonGzipDiscardExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1_000_000))

    def raceway_flush() -> None:
        assert tracer.flush(60), "the transport did not drain"

    def otel_flush() -> None:
        provider.force_flush(60_000)

    otel_conn = db.connect()
    if db.system == "sqlite":
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor  # noqa: PLC0415

        otel_conn = SQLite3Instrumentor.instrument_connection(otel_conn, tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor  # noqa: PLC0415

        otel_conn = PsycopgInstrumentor.instrument_connection(otel_conn, tracer_provider=provider)
    variants = [
        Variant("bare", db.connect(), lambda: None),
        Variant("raceway", raceway.db.instrument(db.connect()), raceway_flush),
        Variant("otel", otel_conn, otel_flush),
    ]
    for variant in variants:  # warm-up
        run(variant, db, min(queries, 2000), tracer)
    cpu: dict[str, list[float]] = {v.name: [] for v in variants}
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            cpu[variant.name].append(run(variant, db, queries, tracer))
    med = {name: statistics.median(values) for name, values in cpu.items()}
    bare = med["bare"]
    otel_overhead = med["otel"] - bare
    rows = []
    for name in cpu:
        overhead = med[name] - bare
        versus = "n/a" if name in ("bare", "otel") else f"{overhead / otel_overhead:.2f}×"
        shown = "n/a" if name == "bare" else f"{overhead:.1f}"
        rows.append(f"| {name} | {med[name]:.1f} | {shown} | {med[name] / bare:.2f}× | {versus} |")
    stats = tracer.stats()
    for variant in variants:
        variant.conn.close()
    tracer.shutdown(1)
    provider.shutdown()
    export = (
        f"Export: Raceway sent {stats.sent:,} events ({stats.dropped} dropped); OpenTelemetry "
        f"exported {exporter.spans:,} spans."
    )
    return rows, export


def seed(conn: Any) -> None:
    conn.execute("DROP TABLE IF EXISTS products")
    conn.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL)")
    for product in range(1, 101):
        conn.execute(f"INSERT INTO products VALUES ({product}, 1000)")


def _sqlite(file: str) -> sqlite3.Connection:
    conn = sqlite3.connect(file, isolation_level=None)
    # No fsync per write: what is measured is the driver's path, not the disk.
    conn.execute("PRAGMA synchronous = OFF")
    return conn


@contextmanager
def databases(pg_url: str | None, with_pg: bool) -> Iterator[list[Database]]:
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="raceway-bench-"))
        file = os.path.join(folder, "bench.db")
        setup = sqlite3.connect(file, isolation_level=None)
        seed(setup)
        setup.close()
        found = [Database("sqlite", lambda: _sqlite(file), "?")]
        if with_pg:
            import psycopg  # noqa: PLC0415

            url = pg_url
            if url is None:
                try:
                    url = stack.enter_context(postgres_cluster())
                except BaseException as error:  # skipped: no PostgreSQL binaries
                    print(f"PostgreSQL left out: {error}", file=sys.stderr)
            if url is not None:
                with psycopg.connect(url, autocommit=True) as conn:
                    seed(conn)
                pg = url
                found.append(
                    Database("postgresql", lambda: psycopg.connect(pg, autocommit=True), "%s")
                )
        yield found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-url", help="a PostgreSQL to use instead of a throwaway cluster")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--output", help="write the Markdown report here")
    args = parser.parse_args()

    lines = [
        "# Python SQL overhead: raceway.db.instrument vs bare driver vs OpenTelemetry",
        "",
        f"Command: `sdks/python/.venv/bin/python sdks/python/bench/sql_overhead.py "
        f"--queries {args.queries} --rounds {args.rounds} --output "
        "bench/results/python-sql-overhead.md`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {date.today()}, load average {os.getloadavg()[0]:.1f} at "
        "the start: shared with other work, so absolute figures move between runs, ratios "
        "much less.",
        "",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
        f"{args.queries} queries per variant and round (half reads, half writes), "
        f"{args.rounds} rounds, medians.",
    ]
    with databases(args.pg_url, not args.no_pg) as found:
        for db in found:
            rows, export = measure(db, args.queries, args.rounds)
            driver = "sqlite3" if db.system == "sqlite" else "psycopg 3"
            lines += [
                "",
                f"## {db.system} ({driver})",
                "",
                "| variant | CPU µs/query | CPU overhead µs | CPU vs bare |"
                " overhead vs OpenTelemetry's |",
                "|---|---|---|---|---|",
                *rows,
                "",
                export,
            ]
    lines += [
        "",
        "Per statement Raceway checks the context, digests each parameter (HMAC-SHA256, recent "
        "digests cached) and the row read (read ahead into the cursor), compares the "
        "connection's transaction status before and after, and records one event; the "
        "transport's thread encodes, gzips and sends it. OpenTelemetry starts and ends one span "
        "per statement with its attributes and exports it.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
