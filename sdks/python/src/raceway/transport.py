"""The transport to the collector: background threads that send gzip batches, up to
`MAX_IN_FLIGHT` at once (spec 4, 4.1, 4.2; what an answer means and the retry delays are in
`raceway.delivery`).

It never blocks or breaks the application: `enqueue` only appends to a bounded queue (events
beyond it are dropped and counted), and everything that talks to the network runs on the
threads. It uses `http.client` directly, which no Raceway integration instruments, so it never
traces its own calls.
"""

from __future__ import annotations

import atexit
import gzip
import http.client
import json
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from raceway.config import Config
from raceway.delivery import classify_status, count_rejected, retry_delay
from raceway.delivery_warnings import DeliveryWarnings
from raceway.exit_signals import flush_on_sigterm
from raceway.version import SDK_NAME, __version__

GIVE_UP_AFTER = 5
"""Strikes at which a batch is dropped (spec 4.2). A `retry` answer is a strike against its batch
when the collector delivered another batch since the batch's previous answer (for its first
answer: since it was sent): the collector is up, and it is this batch it cannot take. Answers
during an outage are no strikes, so a batch that waited out a long outage has none."""
_SHUTDOWN_TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 3
"""Batches sent at once while the collector answers, as the TypeScript and Go SDKs do: a
collector that takes a while to answer (a commit per batch) is not a bottleneck for a busy
service. Each sending thread has a connection of its own."""


@dataclass(frozen=True)
class TransportStats:
    """Counters since the transport started."""

    queued: int = 0
    """Events held now, the batch in flight included."""
    sent: int = 0
    """Events the collector acknowledged as durable."""
    dropped: int = 0
    """Events lost: queue full, rejected, unusable batch, retries exhausted, left at shutdown."""
    rejected: int = 0
    """Events the collector refused one by one (422); included in `dropped`."""
    retries: int = 0
    batches_sent: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class SendResult:
    status: int | None
    body: bytes = b""
    retry_after: str | None = None
    error: str | None = None


Sender = Callable[[bytes, dict[str, str], float], SendResult]


class HttpSender:
    """POSTs a body to the collector on one kept-alive connection, reopened after an error."""

    def __init__(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._path = parts.path or "/"
        self._connection: http.client.HTTPConnection | None = None

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        try:
            if self._connection is None:
                cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
                self._connection = cls(self._host, self._port, timeout=timeout)
            self._connection.request("POST", self._path, body=body, headers=headers)
            response = self._connection.getresponse()
            answer = response.read()
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return SendResult(response.status, answer, response.getheader("retry-after"))
        except Exception as error:
            self.close()
            return SendResult(None, error=f"{type(error).__name__}: {error}")

    def close(self) -> None:
        if self._connection is not None:
            with suppress(Exception):
                self._connection.close()
            self._connection = None


@dataclass(eq=False)
class _Batch:
    """A batch taken from the queue: its events stay counted in the queue's bounds until the
    collector answered it for good."""

    count: int
    """Events in the batch."""
    size: int
    """Bytes of its encoded events, as the byte bound counts them."""
    dropped_report: int
    """Drops the batch reports to the collector (its `dropped` field)."""
    body: bytes = b""
    """The gzip request body, kept as it is for every retry (so are the event ids)."""
    retries: int = 0
    """Answers `retry` so far."""
    strikes: int = 0
    """Answers `retry` that came after the delivery of another batch (spec 4.2)."""
    deliveries_seen: int = 0
    """The transport's delivery count when the batch was sent, then at its last answer."""
    after: int = 0
    """Requeued behind the events enqueued so far: sent once this many have been taken."""
    released: bool = False
    """Answered for good: its events no longer count in the queue's bounds."""


class Transport:
    """Batches events and sends them from background threads, up to `max_in_flight` batches
    at once. A second request starts only for a batch that is ready (a full batch, a batch to
    retry, a flush or shutdown waiting): a trickle of events goes out one small batch at a
    time.

    A batch answered `retry` goes back to the end of the queue, so that a failing batch does
    not hold up the others (spec 4.2). While the collector fails, one request is in flight at
    a time and each waits the retry delay first, counted over the consecutive failures; the
    first delivery opens every slot again.

    A `sender` given here is called from several threads at once (unless `max_in_flight` is
    1); without one, each thread posts on an `HttpSender` of its own.

    >>> transport = Transport(config)  # doctest: +SKIP
    >>> transport.enqueue(event); transport.flush(timeout=2.0)  # doctest: +SKIP
    """

    def __init__(
        self, config: Config, sender: Sender | None = None, *, max_in_flight: int = MAX_IN_FLIGHT
    ) -> None:
        self._config = config
        self._sender = sender
        """The sender every thread shares, or None for an `HttpSender` per thread."""
        self._senders: list[HttpSender] = []
        self._max_in_flight = max(1, max_in_flight)
        self._in_flight = 0
        """Batches being sent now."""
        self._headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"{SDK_NAME}/{__version__}",
        }
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"
        self._condition = threading.Condition(threading.Lock())
        self._events: deque[bytes] = deque()
        """Encoded events not yet in a batch."""
        self._requeued: deque[_Batch] = deque()
        """Batches answered `retry`, in the order they are sent again."""
        self._appended = 0
        self._taken = 0
        """Events appended to `_events` and taken from it, since the start."""
        self._held = 0
        """Events held: queued, requeued in batches, in flight."""
        self._bytes = 0
        """Bytes of the encoded events held."""
        self._failures = 0
        """Consecutive `retry` answers; the collector is failing while this is not 0."""
        self._resume_at = 0.0
        """While the collector is failing, the next request waits until then (monotonic)."""
        self._deliveries = 0
        """Answers `delivered` or `partial`, since the start."""
        self._warnings = DeliveryWarnings(config.endpoint, config.debug)
        self._stats = TransportStats()
        self._unreported_drops = 0
        self._flushing = False
        self._oldest_at = 0.0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        _live_transports.add(self)
        flush_on_sigterm(_flush_before_sigterm)

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queues an event, encoded now (JSON text is a fraction of the memory of the dicts, and
        what the byte bound counts). When the queue is full the event is dropped and counted.
        Never blocks beyond a short lock, never raises."""
        try:
            text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            # A lone surrogate (from a badly decoded header or message) becomes "?" rather
            # than a batch the collector cannot read.
            encoded = text.encode("utf-8", "replace")
        except Exception as error:
            with self._condition:
                self._count_drop(1, f"event not encodable: {error}")
            return
        with self._condition:
            if self._stopping:
                self._count_drop(1, "transport shut down")
                return
            if self._held >= self._config.max_queue_size:
                self._count_drop(1, f"queue full ({self._config.max_queue_size} events)")
                return
            if self._bytes + len(encoded) > self._config.max_queue_bytes:
                self._count_drop(1, f"queue full ({self._config.max_queue_bytes} bytes)")
                return
            self._bytes += len(encoded)
            self._held += 1
            self._events.append(encoded)
            self._appended += 1
            if not self._threads:
                self._start_threads()
            size = len(self._events)
            if size == 1:
                # The batch timer starts with the oldest event; the thread sleeps until then.
                self._oldest_at = time.monotonic()
                self._condition.notify_all()
            elif size >= self._config.batch_size:
                self._condition.notify_all()

    def stats(self) -> TransportStats:
        with self._condition:
            return replace(self._stats, queued=self._held)

    def flush(self, timeout: float | None = None) -> bool:
        """Sends everything queued now; True when nothing is left within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._flushing = True
            self._condition.notify_all()
            while self._held:
                if not any(thread.is_alive() for thread in self._threads):
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def shutdown(self, timeout: float = _SHUTDOWN_TIMEOUT_S) -> None:
        """Flushes for at most `timeout` seconds, then stops; what is left is dropped and
        counted. Events enqueued afterwards are dropped."""
        self.flush(timeout)
        with self._condition:
            self._stopping = True
            left = len(self._events) + sum(batch.count for batch in self._requeued)
            self._unreported_drops += sum(batch.dropped_report for batch in self._requeued)
            self._bytes -= sum(len(event) for event in self._events)
            self._bytes -= sum(batch.size for batch in self._requeued)
            self._held -= left
            self._clear_queue()
            if left:
                self._count_drop(left, "left at shutdown")
            self._condition.notify_all()
            threads = list(self._threads)
            senders = list(self._senders)
        deadline = time.monotonic() + 1.0
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        close = getattr(self._sender, "close", None)
        if callable(close):
            close()
        for sender in senders:
            sender.close()

    # -- the background threads ---------------------------------------------------------

    def _start_threads(self) -> None:
        for index in range(self._max_in_flight):
            sender: Sender
            if self._sender is not None:
                sender = self._sender
            else:
                own = HttpSender(self._config.endpoint)
                self._senders.append(own)
                sender = own
            thread = threading.Thread(
                target=self._run, args=(sender,), name=f"raceway-transport-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _clear_queue(self) -> None:
        self._events.clear()
        self._requeued.clear()
        self._taken = self._appended

    def _after_fork(self) -> None:
        # A forked child has the parent's queue but not its thread, and maybe a lock held by a
        # thread that does not exist there: start afresh (the child runs one thread here).
        self._condition = threading.Condition(threading.Lock())
        self._clear_queue()
        self._held = 0
        self._bytes = 0
        self._failures = 0
        self._resume_at = 0.0
        self._in_flight = 0
        self._threads = []
        self._senders = []  # the parent's connections are the parent's

    def _count_drop(self, count: int, reason: str, status: int | None = None) -> None:
        self._stats = replace(self._stats, dropped=self._stats.dropped + count, last_error=reason)
        self._unreported_drops += count
        self._warnings.dropped(count, reason, status)

    def _drop_batch(self, batch: _Batch, reason: str, status: int | None = None) -> None:
        # The drops this batch was reporting go into the next batch's count.
        self._unreported_drops += batch.dropped_report
        self._count_drop(batch.count, reason, status)
        self._release(batch)

    def _release(self, batch: _Batch) -> None:
        if batch.released:
            return
        batch.released = True
        self._held -= batch.count
        self._bytes -= batch.size
        self._condition.notify_all()

    def _run(self, sender: Sender) -> None:
        while True:
            with self._condition:
                taken = self._next_batch()
                if taken is None:
                    return
                self._in_flight += 1
            batch, events = taken
            try:
                if events is not None:
                    batch.body = _encode(events, batch.dropped_report)
                timeout = self._config.request_timeout_ms / 1000
                result = sender(batch.body, self._headers, timeout)
                with self._condition:
                    self._settle(batch, result)
            except Exception as error:  # a bug here must not kill the thread
                with self._condition:
                    if not batch.released:
                        self._drop_batch(batch, f"internal error: {error}")
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()  # a slot is free

    def _next_batch(self) -> tuple[_Batch, list[bytes] | None] | None:
        """Waits (holding the condition) for the next batch to send: a requeued batch once
        the events ahead of it are taken, else the next events; None once stopped. New events
        come with the list to encode. The caller counts the batch in flight."""
        interval = self._config.flush_interval_ms / 1000
        while True:
            if not self._events and not self._requeued:
                if self._stopping:
                    self._condition.notify_all()
                    return None
                if not self._in_flight:
                    self._flushing = False
                self._condition.notify_all()
                self._condition.wait()
                continue
            if self._in_flight >= self._max_in_flight or (self._failures and self._in_flight):
                # Every slot taken, or the collector fails: one request at a time (spec 4.2).
                self._condition.wait()
                continue
            now = time.monotonic()
            if now < self._resume_at and not self._stopping:
                self._condition.wait(self._resume_at - now)
                continue
            if self._requeued and self._requeued[0].after <= self._taken:
                return self._requeued.popleft(), None
            # Events are ahead of any requeued batch: when one waits behind them, they go now.
            if self._stopping or self._flushing or self._requeued:
                break
            if len(self._events) >= self._config.batch_size:
                break
            if self._in_flight:
                # Not ready for a slot of its own: wait for the request in flight, then for the
                # flush interval (spec 4.2, Batching); the answer alone does not send it.
                self._condition.wait()
                continue
            remaining = self._oldest_at + interval - now
            if remaining <= 0:
                break
            self._condition.wait(remaining)
        size = min(len(self._events), self._config.batch_size)
        events = [self._events.popleft() for _ in range(size)]
        self._taken += size
        self._oldest_at = time.monotonic()
        batch = _Batch(
            size,
            sum(len(event) for event in events),
            self._unreported_drops,
            deliveries_seen=self._deliveries,
        )
        self._unreported_drops = 0
        return batch, events

    def _settle(self, batch: _Batch, result: SendResult) -> None:
        """Acts on the collector's answer to a batch (spec 4.1, 4.2), holding the condition."""
        outcome = classify_status(result.status)
        if outcome in ("delivered", "partial"):
            self._deliveries += 1
            if self._failures:
                self._warnings.recovered(self._failures)
                self._failures = 0
                self._resume_at = 0.0
            rejected = count_rejected(result.body, batch.count) if outcome == "partial" else 0
            self._stats = replace(
                self._stats,
                sent=self._stats.sent + batch.count - rejected,
                rejected=self._stats.rejected + rejected,
                batches_sent=self._stats.batches_sent + 1,
            )
            if rejected:
                self._count_drop(rejected, f"HTTP 422: {rejected} event(s) rejected")
            self._release(batch)
            return
        problem = _describe(result)
        if outcome == "retry":
            self._failures += 1
            batch.retries += 1
            if self._deliveries > batch.deliveries_seen:
                batch.strikes += 1
            batch.deliveries_seen = self._deliveries
        if self._failures:
            # Failing (a `dropped` answer does not end it): the next request waits.
            delay_ms = retry_delay(
                self._failures - 1, random.random(), result.retry_after, int(time.time() * 1000)
            )
            self._resume_at = time.monotonic() + delay_ms / 1000
        if outcome == "dropped":
            self._drop_batch(batch, problem, result.status)
            return
        limit = self._config.max_retries
        if self._stopping:
            self._drop_batch(batch, f"shutdown during retries ({problem})")
        elif limit is not None and batch.retries > limit:
            self._drop_batch(batch, f"{problem} ({limit} retries)")
        elif batch.strikes >= GIVE_UP_AFTER:
            self._drop_batch(
                batch, f"{problem} ({batch.strikes} times while other batches were delivered)"
            )
        else:
            self._stats = replace(self._stats, retries=self._stats.retries + 1, last_error=problem)
            self._warnings.failing(problem, self._held)
            batch.after = self._appended
            self._requeued.append(batch)
            self._condition.notify_all()


_BATCH_HEAD = (
    b'{"sdk":'
    + json.dumps(
        {"name": SDK_NAME, "version": __version__, "language": "python"}, separators=(",", ":")
    ).encode()
    + b","
)


def _encode(events: list[bytes], dropped_report: int) -> bytes:
    head = _BATCH_HEAD + (b'"dropped":%d,' % dropped_report if dropped_report else b"")
    return gzip.compress(head + b'"events":[' + b",".join(events) + b"]}", compresslevel=6)


def _describe(result: SendResult) -> str:
    if result.status is None:
        return f"collector unreachable: {result.error or 'no answer'}"
    detail = result.body[:200].decode("utf-8", "replace").strip()
    return f"HTTP {result.status}" + (f": {detail}" if detail else "")


_live_transports: weakref.WeakSet[Transport] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for transport in list(_live_transports):
        transport._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@atexit.register
def _flush_at_exit() -> None:
    for transport in list(_live_transports):
        with suppress(Exception):
            transport.shutdown(timeout=_SHUTDOWN_TIMEOUT_S)


def _flush_before_sigterm() -> None:
    # The process stops right after: no more events are coming, so the shutdown is the flush.
    _flush_at_exit()
