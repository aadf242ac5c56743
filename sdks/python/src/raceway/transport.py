"""The transport to the collector: a background thread that sends gzip batches (spec 4, 4.1).

It never blocks or breaks the application: `enqueue` only appends to a bounded queue (events
beyond it are dropped and counted), and everything that talks to the network runs on the
thread. It uses `http.client` directly, which no Raceway integration instruments, so it never
traces its own calls.
"""

from __future__ import annotations

import atexit
import gzip
import http.client
import json
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from raceway.config import Config
from raceway.version import SDK_NAME, __version__

logger = logging.getLogger("raceway")

Outcome = Literal["delivered", "partial", "dropped", "retry"]

_BACKOFF_BASE_S = 0.5
# The longest wait before a retry, Retry-After included: an outage loses nothing while the queue
# has room, and the collector is found again within seconds of coming back.
_BACKOFF_CAP_S = 5.0
_SHUTDOWN_TIMEOUT_S = 5.0


def classify_status(status: int | None) -> Outcome:
    """What spec 4.1 says to do with a collector answer; None is a request with no answer."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if status == 422:
        return "partial"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "dropped"


def count_rejected(body: bytes, batch_size: int) -> int:
    """Events a 422 answer rejected; an unreadable answer counts the whole batch, so that the
    drop counter errs towards reporting a problem."""
    try:
        rejected = json.loads(body).get("rejected")
    except Exception:
        return batch_size
    return min(len(rejected), batch_size) if isinstance(rejected, list) else batch_size


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempt` (0 first): full jitter, a random delay between 0
    and min(cap, base * 2^attempt), so that processes that lost the collector at the same
    moment do not come back in waves."""
    return rand() * min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * (1 << min(attempt, 30)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """A `Retry-After` header (seconds, or an HTTP date) as seconds from now; None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, moment - (time.time() if now is None else now))


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


class Transport:
    """Batches events and sends them from a background thread.

    >>> transport = Transport(config)  # doctest: +SKIP
    >>> transport.enqueue(event); transport.flush(timeout=2.0)  # doctest: +SKIP
    """

    def __init__(self, config: Config, sender: Sender | None = None) -> None:
        self._config = config
        self._sender: Sender = sender if sender is not None else HttpSender(config.endpoint)
        self._condition = threading.Condition(threading.Lock())
        self._queue: deque[bytes] = deque()
        self._in_flight = 0
        self._bytes = 0
        """Bytes of the encoded events held, the batch in flight included."""
        self._warned = False
        self._unreachable = False
        self._stats = TransportStats()
        self._unreported_drops = 0
        self._flushing = False
        self._oldest_at = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        _live_transports.add(self)

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
            if len(self._queue) + self._in_flight >= self._config.max_queue_size:
                self._count_drop(1, f"queue full ({self._config.max_queue_size} events)")
                return
            if self._bytes + len(encoded) > self._config.max_queue_bytes:
                self._count_drop(1, f"queue full ({self._config.max_queue_bytes} bytes)")
                return
            self._bytes += len(encoded)
            self._queue.append(encoded)
            if self._thread is None:
                self._start_thread()
            size = len(self._queue)
            if size == 1:
                # The batch timer starts with the oldest event; the thread sleeps until then.
                self._oldest_at = time.monotonic()
                self._condition.notify_all()
            elif size >= self._config.batch_size:
                self._condition.notify_all()

    def stats(self) -> TransportStats:
        with self._condition:
            return replace(self._stats, queued=len(self._queue) + self._in_flight)

    def flush(self, timeout: float | None = None) -> bool:
        """Sends everything queued now; True when nothing is left within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._flushing = True
            self._condition.notify_all()
            while self._queue or self._in_flight:
                if self._thread is None or not self._thread.is_alive():
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
            left = len(self._queue)
            self._bytes -= sum(len(event) for event in self._queue)
            self._queue.clear()
            if left:
                self._count_drop(left, "left at shutdown")
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        close = getattr(self._sender, "close", None)
        if callable(close):
            close()

    # -- the background thread ----------------------------------------------------------

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="raceway-transport", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        # A forked child has the parent's queue but not its thread, and maybe a lock held by a
        # thread that does not exist there: start afresh (the child runs one thread here).
        self._condition = threading.Condition(threading.Lock())
        self._queue.clear()
        self._in_flight = 0
        self._bytes = 0
        self._thread = None
        if isinstance(self._sender, HttpSender):
            self._sender = HttpSender(self._config.endpoint)

    def _count_drop(self, count: int, reason: str) -> None:
        self._stats = replace(self._stats, dropped=self._stats.dropped + count, last_error=reason)
        self._unreported_drops += count
        if self._config.debug or not self._warned:
            # Without debug only the first drop is logged, once: a dead collector must not
            # flood the application's logs.
            self._warned = True
            logger.warning("raceway: %d event(s) dropped: %s", count, reason)

    def _run(self) -> None:
        interval = self._config.flush_interval_ms / 1000
        while True:
            with self._condition:
                while True:
                    if not self._queue:
                        if self._stopping:
                            self._condition.notify_all()
                            return
                        self._flushing = False
                        self._condition.notify_all()
                        self._condition.wait()
                        continue
                    if self._stopping or self._flushing:
                        break
                    if len(self._queue) >= self._config.batch_size:
                        break
                    remaining = self._oldest_at + interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                size = min(len(self._queue), self._config.batch_size)
                batch = [self._queue.popleft() for _ in range(size)]
                self._oldest_at = time.monotonic()
                self._in_flight = size
                dropped_report = self._unreported_drops
                self._unreported_drops = 0
            try:
                self._deliver(batch, dropped_report)
            except Exception as error:  # a bug here must not kill the thread
                with self._condition:
                    self._count_drop(len(batch), f"internal error: {error}")
            finally:
                with self._condition:
                    self._in_flight = 0
                    self._bytes -= sum(len(event) for event in batch)
                    self._condition.notify_all()

    def _deliver(self, batch: list[bytes], dropped_report: int) -> None:
        head = _BATCH_HEAD + (b'"dropped":%d,' % dropped_report if dropped_report else b"")
        body = gzip.compress(head + b'"events":[' + b",".join(batch) + b"]}", compresslevel=6)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"{SDK_NAME}/{__version__}",
        }
        if self._config.api_key:
            headers["Authorization"] = f"Bearer {self._config.api_key}"
        timeout = self._config.request_timeout_ms / 1000
        attempt = 0
        while True:
            result = self._sender(body, headers, timeout)
            outcome = classify_status(result.status)
            with self._condition:
                if outcome in ("delivered", "partial") and self._unreachable:
                    self._unreachable = False
                    if self._config.debug:
                        logger.warning("raceway: collector reachable again")
                if outcome == "delivered":
                    self._stats = replace(
                        self._stats,
                        sent=self._stats.sent + len(batch),
                        batches_sent=self._stats.batches_sent + 1,
                    )
                    return
                if outcome == "partial":
                    rejected = count_rejected(result.body, len(batch))
                    self._stats = replace(
                        self._stats,
                        sent=self._stats.sent + len(batch) - rejected,
                        rejected=self._stats.rejected + rejected,
                        batches_sent=self._stats.batches_sent + 1,
                    )
                    if rejected:
                        self._count_drop(rejected, f"HTTP 422: {rejected} event(s) rejected")
                    return
                problem = _describe(result)
                retries = self._config.max_retries
                exhausted = retries is not None and attempt >= retries
                if outcome == "dropped" or exhausted or self._stopping:
                    # The drops this batch was reporting go into the next batch's count.
                    self._unreported_drops += dropped_report
                    self._count_drop(len(batch), problem)
                    return
                self._stats = replace(
                    self._stats, retries=self._stats.retries + 1, last_error=problem
                )
                if self._config.debug and not self._unreachable:
                    held = len(self._queue) + self._in_flight
                    logger.warning(
                        "raceway: %s; retrying with backoff, %d events held", problem, held
                    )
                self._unreachable = True
                delay = max(parse_retry_after(result.retry_after) or 0.0, backoff_delay(attempt))
                attempt += 1
                # Waiting on the condition lets shutdown() cut a long backoff short; other
                # wake-ups (a new event) go back to sleep.
                wake_at = time.monotonic() + min(delay, _BACKOFF_CAP_S)
                while not self._stopping and (remaining := wake_at - time.monotonic()) > 0:
                    self._condition.wait(remaining)
                if self._stopping:
                    self._unreported_drops += dropped_report
                    self._count_drop(len(batch), f"shutdown during retries ({problem})")
                    return


_BATCH_HEAD = (
    b'{"sdk":'
    + json.dumps(
        {"name": SDK_NAME, "version": __version__, "language": "python"}, separators=(",", ":")
    ).encode()
    + b","
)


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
