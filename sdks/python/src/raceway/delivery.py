"""What a collector answer means and how long to wait before a retry (spec 4.1, 4.2).

Pure functions, pinned by `spec/vectors/delivery.json` and used by the transport.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Literal

Outcome = Literal["delivered", "partial", "dropped", "retry"]

BACKOFF_BASE_MS = 250
"""Scale of the retry delays: retry n waits up to min(cap, base * 2^n)."""
BACKOFF_CAP_MS = 5000
"""The longest wait before a retry, `Retry-After` included: an outage loses nothing while the
queue has room, and the collector is found again within seconds of coming back."""
_MAX_EXPONENT = 30

_DIGITS = re.compile(r"[0-9]+")
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
_HTTP_DATE = re.compile(
    # The three forms of RFC 9110 5.6.7: IMF-fixdate, RFC 850, asctime.
    rf"{_DAY}, [0-9]{{2}} {_MONTH} [0-9]{{4}} {_TIME} GMT"
    rf"|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, [0-9]{{2}}-{_MONTH}-[0-9]{{2}} {_TIME} GMT"
    rf"|{_DAY} {_MONTH} [ 0-9][0-9] {_TIME} [0-9]{{4}}"
)


def classify_status(status: int | None) -> Outcome:
    """What spec 4.1 says to do with a collector answer; None is a request with no answer
    (refused, reset, timed out). A status outside 100-599 is `dropped`."""
    if status is None or status in (408, 429) or 500 <= status <= 599:
        return "retry"
    if 200 <= status <= 299:
        return "delivered"
    if status == 422:
        return "partial"
    return "dropped"


def count_rejected(body: bytes, batch_size: int) -> int:
    """Events a 422 answer rejected; an unreadable answer counts the whole batch, so that the
    drop counter errs towards reporting a problem."""
    try:
        rejected = json.loads(body).get("rejected")
    except Exception:
        return batch_size
    return min(len(rejected), batch_size) if isinstance(rejected, list) else batch_size


def parse_retry_after(value: str | None, now_ms: int) -> int | None:
    """The delay in milliseconds a `Retry-After` header asks for at `now_ms` (ms since the
    epoch): delta seconds, or an HTTP date (0 once it is past). None when the header is absent
    or neither: negative, a fraction, empty, a date without weekday and month names.

    >>> parse_retry_after(" 7 ", 0), parse_retry_after("1.5", 0)
    (7000, None)
    """
    if value is None:
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return int(text) * 1000
    if not _HTTP_DATE.fullmatch(text):
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # the shape of a date, but not a day of the calendar (31 Feb)
    if moment.tzinfo is None:  # asctime has no zone: HTTP dates are in GMT
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0, round(moment.timestamp() * 1000) - now_ms)


def backoff_delay(
    attempt: int, draw: float, *, base_ms: int = BACKOFF_BASE_MS, cap_ms: int = BACKOFF_CAP_MS
) -> int:
    """Milliseconds before retry number `attempt` (0 for the first): "full jitter", the random
    `draw` in [0, 1) times min(cap, base * 2^attempt), floored. Randomising the whole interval
    spreads the retries of processes that lost the collector together, instead of having them
    come back in waves.

    >>> backoff_delay(1, 0.5), backoff_delay(1000, 0.5)
    (250, 2500)
    """
    ceiling = min(cap_ms, base_ms << min(attempt, _MAX_EXPONENT))
    return math.floor(draw * ceiling)


def retry_delay(
    attempt: int,
    draw: float,
    retry_after: str | None,
    now_ms: int,
    *,
    base_ms: int = BACKOFF_BASE_MS,
    cap_ms: int = BACKOFF_CAP_MS,
) -> int:
    """Milliseconds before retry number `attempt`: the jittered backoff, raised to what the
    `Retry-After` header asks (read at `now_ms`), at most the cap."""
    asked = parse_retry_after(retry_after, now_ms) or 0
    return min(cap_ms, max(asked, backoff_delay(attempt, draw, base_ms=base_ms, cap_ms=cap_ms)))
