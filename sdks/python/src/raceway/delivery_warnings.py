"""What the transport says about delivery without debug mode (spec 4.2, Warnings): the first
problem of each kind (failing, dropping) at once, on the `raceway` logger at WARNING, with the
collector's URL and what to check; then at most one line of that kind a minute, counting what
it did not log. A wrong `RACEWAY_URL` must not
look like a working application with an empty collector."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from raceway.diagnostics import logger

WARNING_INTERVAL_S = 60.0
"""At most one warning per interval, so a dead collector cannot flood the application's log."""


class DeliveryWarnings:
    """One transport's warnings. `clock` is monotonic seconds (a parameter for the tests)."""

    __slots__ = ("_clock", "_debug", "_endpoint", "_last", "_silenced", "_warned_outage")

    _last: dict[str, float]
    _silenced: dict[str, int]

    def __init__(
        self, endpoint: str, debug: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._endpoint = endpoint
        self._debug = debug
        self._clock = clock
        self._last = {}
        self._silenced = {}
        self._warned_outage = False

    def failing(self, problem: str, held: int) -> None:
        """A `retry` answer or no answer: the events are kept and sent again."""
        said = self._say(
            "failing",
            f"raceway: cannot deliver events to {self._endpoint} ({problem}); "
            f"{held} event(s) held and retried while the queue has room. "
            "Check that the collector runs there and that RACEWAY_URL (server_url) points to it",
        )
        self._warned_outage = self._warned_outage or said

    def dropped(self, count: int, problem: str, status: int | None = None) -> None:
        """Events lost for good (spec 4.1): refused, unusable, retries exhausted, queue full."""
        hint = (
            "; check RACEWAY_API_KEY (api_key) against the collector's keys"
            if status == 401
            else ""
        )
        self._say(
            "dropped", f"raceway: {count} event(s) for {self._endpoint} dropped: {problem}{hint}"
        )

    def recovered(self, failures: int) -> None:
        """The collector answered again: said only when the outage was warned about."""
        if self._warned_outage or self._debug:
            logger.log(
                logging.WARNING if self._debug else logging.INFO,
                "raceway: collector at %s reachable again after %d failed attempt(s)",
                self._endpoint,
                failures,
            )
        self._warned_outage = False

    def _say(self, kind: str, message: str) -> bool:
        now = self._clock()
        last = self._last.get(kind)
        if not self._debug and last is not None and now - last < WARNING_INTERVAL_S:
            self._silenced[kind] = self._silenced.get(kind, 0) + 1
            return False
        silenced = self._silenced.pop(kind, 0)
        if silenced:
            message += f" ({silenced} more delivery problem(s) since the last warning)"
        self._last[kind] = now
        logger.warning("%s", message)
        return True
