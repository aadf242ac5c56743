"""The vector clock (spec 3.2, 3.5) and its canonical `X-Raceway-VC` codec (spec 3.3, 3.4)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

MAX_CLOCK_COUNTER = 2**53 - 1
"""Largest counter a clock carries (the largest integer every JSON decoder reads exactly)."""
MAX_CLOCK_ENTRIES = 64
"""Most entries a clock carries on the wire; the `~dropped` marker is not counted."""
MAX_CLOCK_HEADER_BYTES = 8192
"""Longest `X-Raceway-VC` value a decoder reads, in UTF-8 bytes."""
CLOCK_DROPPED_KEY = "~dropped"
"""Reserved key telling how many entries a truncated clock left out."""

_KEY = re.compile(r"[A-Za-z0-9._:#@/+-]{1,64}")

Order = Literal["before", "after", "equal", "concurrent"]


def is_valid_component(key: object) -> bool:
    """True for a key decoders accept: 1..64 characters of `[A-Za-z0-9._:#@/+-]` (spec 3.1)."""
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


class VectorClock:
    """A vector clock: component -> counter >= 1, absent entries being 0.

    Mutable, because a context's clock advances with every event; snapshots are plain dicts.

    >>> clock = VectorClock({"api#00000001": 2})
    >>> clock.increment("web#00000002")
    >>> clock.compare(VectorClock({"api#00000001": 2}))
    'after'
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        self._entries: dict[str, int] = {}
        if entries:
            for key, value in entries.items():
                if not is_valid_component(key) or key == CLOCK_DROPPED_KEY:
                    raise ValueError(f"invalid clock component {key!r}")
                if type(value) is not int or not 1 <= value <= MAX_CLOCK_COUNTER:
                    raise ValueError(f"invalid counter {value!r} for {key!r}")
                self._entries[key] = value

    @classmethod
    def _adopt(cls, entries: dict[str, int]) -> VectorClock:
        """Takes over entries that the decoder has already validated."""
        clock = cls.__new__(cls)
        clock._entries = entries
        return clock

    def get(self, component: str) -> int:
        return self._entries.get(component, 0)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> Iterable[tuple[str, int]]:
        return self._entries.items()

    def to_dict(self) -> dict[str, int]:
        """A copy of the entries."""
        return dict(self._entries)

    def copy(self) -> VectorClock:
        return VectorClock._adopt(dict(self._entries))

    def increment(self, component: str) -> None:
        """Adds one to `component` (an absent one becomes 1); saturates at 2^53-1."""
        value = self._entries.get(component, 0)
        if value < MAX_CLOCK_COUNTER:
            self._entries[component] = value + 1

    def merge(self, other: VectorClock) -> None:
        """Element-wise maximum with `other`, in place."""
        entries = self._entries
        for key, value in other._entries.items():
            if value > entries.get(key, 0):
                entries[key] = value

    def compare(self, other: VectorClock) -> Order:
        """How this clock relates to `other` (spec 3.5)."""
        less = greater = False
        a, b = self._entries, other._entries
        for key in a.keys() | b.keys():
            x, y = a.get(key, 0), b.get(key, 0)
            if x < y:
                less = True
            elif x > y:
                greater = True
            if less and greater:
                return "concurrent"
        if less:
            return "before"
        if greater:
            return "after"
        return "equal"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VectorClock) and self._entries == other._entries

    def __hash__(self) -> int:
        return hash(frozenset(self._entries.items()))

    def __repr__(self) -> str:
        return f"VectorClock({self._entries!r})"


def encode_clock_entries(
    clock: VectorClock, own: str | None = None, dropped: int = 0
) -> tuple[dict[str, int], int]:
    """The entries a clock keeps on the wire and how many the wire form lacks (spec 3.4).

    Up to 64 entries are kept as they are; beyond, `own` is kept first, then the highest
    counters (ties: the smaller key). The count is `dropped` plus the entries cut now. The
    result is in canonical (byte) key order. Events carry it as their snapshot.
    """
    missing = dropped if isinstance(dropped, int) and dropped > 0 else 0
    items = sorted(clock.items())
    if len(items) > MAX_CLOCK_ENTRIES:
        missing = min(missing + len(items) - MAX_CLOCK_ENTRIES, MAX_CLOCK_COUNTER)
        ranked = sorted(items, key=lambda item: (item[0] != own, -item[1], item[0]))
        kept = {key for key, _ in ranked[:MAX_CLOCK_ENTRIES]}
        items = [item for item in items if item[0] in kept]
    return dict(items), missing


def encode_clock(clock: VectorClock, own: str | None = None, dropped: int = 0) -> str:
    """The canonical `X-Raceway-VC` value (spec 3.3): compact JSON, keys in byte order, at most
    64 entries, and `"~dropped":n` last when the clock lacks entries.

    >>> encode_clock(VectorClock({"web#00000002": 1, "api#00000001": 3}))
    '{"api#00000001":3,"web#00000002":1}'
    """
    entries, missing = encode_clock_entries(clock, own, dropped)
    return format_clock(entries, missing)


def format_clock(entries: Mapping[str, int], dropped: int = 0) -> str:
    """The wire text of entries already cut and sorted by `encode_clock_entries`."""
    parts = [f'"{key}":{value}' for key, value in entries.items()]
    if dropped > 0:
        parts.append(f'"{CLOCK_DROPPED_KEY}":{dropped}')
    return "{" + ",".join(parts) + "}"


@dataclass(frozen=True)
class DecodedClock:
    """A valid `X-Raceway-VC`: the clock and its `~dropped` count (0 when not truncated)."""

    clock: VectorClock
    dropped: int


@dataclass(frozen=True)
class ClockRejected:
    """An `X-Raceway-VC` that is not a valid clock, and why."""

    reason: Literal["vc_invalid", "vc_oversized"]


_INVALID = ClockRejected("vc_invalid")
_OVERSIZED = ClockRejected("vc_oversized")
_WHITESPACE = " \t\n\r"
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:#@/+-")
_MARKER_TOKEN = CLOCK_DROPPED_KEY + '"'
_MAX_COUNTER_DIGITS = 16
_MAX_KEY_LENGTH = 64


def _exceeds_utf8_bytes(text: str, limit: int) -> bool:
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def decode_clock(text: str) -> DecodedClock | ClockRejected:
    """Decodes an `X-Raceway-VC` value strictly (spec 3.3, 3.4). Never raises.

    A scanner rather than `json.loads`: the JSON module keeps the last of two duplicate keys and
    accepts escapes, fractions, exponents and huge integers, all of which the contract rejects.
    It reads left to right and stops at the first problem, a 65th entry being one.

    >>> decode_clock('{"api#00000001":3, "~dropped":2}')
    DecodedClock(clock=VectorClock({'api#00000001': 3}), dropped=2)
    >>> decode_clock('{"api#00000001":0}')
    ClockRejected(reason='vc_invalid')
    """
    if not isinstance(text, str):
        return _INVALID
    if _exceeds_utf8_bytes(text, MAX_CLOCK_HEADER_BYTES):
        return _OVERSIZED
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        return i

    i = skip(0)
    if i >= n or text[i] != "{":
        return _INVALID
    i = skip(i + 1)
    entries: dict[str, int] = {}
    dropped = 0
    if i < n and text[i] == "}":
        i += 1
    else:
        while True:
            if i >= n or text[i] != '"':
                return _INVALID
            key_start = i + 1
            is_marker = text.startswith(_MARKER_TOKEN, key_start)
            if is_marker:
                if dropped > 0:
                    return _INVALID  # the marker twice is a duplicate key
                key_end = key_start + len(CLOCK_DROPPED_KEY)
            else:
                if len(entries) >= MAX_CLOCK_ENTRIES:
                    return _OVERSIZED
                key_end = key_start
                while key_end < n and text[key_end] in _KEY_CHARS:
                    key_end += 1
                length = key_end - key_start
                if key_end >= n or text[key_end] != '"' or not 0 < length <= _MAX_KEY_LENGTH:
                    return _INVALID
            i = skip(key_end + 1)
            if i >= n or text[i] != ":":
                return _INVALID
            i = skip(i + 1)
            start = i
            if i >= n or not "1" <= text[i] <= "9":
                return _INVALID
            while i < n and "0" <= text[i] <= "9":
                if i - start >= _MAX_COUNTER_DIGITS:
                    return _INVALID
                i += 1
            value = int(text[start:i])
            if value > MAX_CLOCK_COUNTER:
                return _INVALID
            if is_marker:
                dropped = value
            else:
                key = text[key_start:key_end]
                if key in entries:
                    return _INVALID
                entries[key] = value
            i = skip(i)
            if i < n and text[i] == ",":
                i = skip(i + 1)
                continue
            if i < n and text[i] == "}":
                i += 1
                break
            return _INVALID
    if skip(i) != n:
        return _INVALID
    return DecodedClock(VectorClock._adopt(entries), dropped)
