"""Where the SDK says what it did not do: the `raceway` logger, and the debug-mode notes that
explain a missing hop in a trace (spec 6.3). At the bottom: it imports nothing of the SDK."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

logger = logging.getLogger("raceway")

MAX_NOTED_HOSTS = 1024


class Diagnostics:
    """One tracer's diagnostics. `debug` is the `debug` option (`RACEWAY_DEBUG`)."""

    __slots__ = ("_lock", "_unpropagated_hosts", "debug")

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self._lock = threading.Lock()
        self._unpropagated_hosts: set[str] = set()

    def not_propagated(self, url: str) -> None:
        """A client call to `url` went out without trace headers (`propagate_to` does not take
        it): in debug mode, says so once per host (for at most 1024 hosts)."""
        if not self.debug:
            return
        host = urlsplit(url).netloc.rpartition("@")[2].lower()
        with self._lock:
            if host in self._unpropagated_hosts or len(self._unpropagated_hosts) >= MAX_NOTED_HOSTS:
                return
            self._unpropagated_hosts.add(host)
        logger.warning("raceway: calls to %s get no trace headers (not in propagate_to)", host)
