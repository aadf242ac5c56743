"""W3C `tracestate`, passed through for OpenTelemetry's sake (spec 2.3)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from raceway.propagation.carrier import trim_ows

MAX_TRACESTATE_MEMBERS = 32
MAX_TRACESTATE_LENGTH = 512

# W3C Trace Context level 2: the tenant@system split of level 1 is no longer enforced.
_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
# 1..256 printable ASCII characters except `,` and `=`, the last one not a space.
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


@dataclass(frozen=True)
class ParsedTracestate:
    """`ok` False: drop the whole value (`tracestate_invalid`); else `value` (None: empty)."""

    ok: bool
    value: str | None = None


INVALID = ParsedTracestate(ok=False)
_EMPTY = ParsedTracestate(ok=True)


def parse_tracestate(copies: Sequence[str]) -> ParsedTracestate:
    """Validates and normalises `tracestate` copies (spec 2.3): every member is validated; of
    a repeated key the first member (the leftmost, W3C's most recently updated) is kept; the
    limits are counted on what is kept.

    >>> parse_tracestate(["rojo=00f067aa0ba902b7 ", " congo=t61rcWkgMzE"]).value
    'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
    """
    members: list[str] = []
    keys: set[str] = set()
    length = 0
    for part in ",".join(copies).split(","):
        member = trim_ows(part)
        if not member:
            continue
        key, eq, value = member.partition("=")
        if not eq or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
            return INVALID
        if key in keys:
            continue
        length += (1 if members else 0) + len(member)
        if len(members) == MAX_TRACESTATE_MEMBERS or length > MAX_TRACESTATE_LENGTH:
            return INVALID
        keys.add(key)
        members.append(member)
    return ParsedTracestate(ok=True, value=",".join(members)) if members else _EMPTY
