"""W3C `tracestate`, passed through for OpenTelemetry's sake (spec 2.3)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from raceway.propagation.carrier import trim_ows

MAX_TRACESTATE_MEMBERS = 32
MAX_TRACESTATE_LENGTH = 512

_SIMPLE_KEY = re.compile(r"[a-z][a-z0-9_\-*/]{0,255}")
_TENANT_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}")
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
    """Validates and normalises `tracestate` copies (spec 2.3).

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
        length += (1 if members else 0) + len(member)
        if len(members) == MAX_TRACESTATE_MEMBERS or length > MAX_TRACESTATE_LENGTH:
            return INVALID
        key, eq, value = member.partition("=")
        if not eq:
            return INVALID
        if not (_SIMPLE_KEY.fullmatch(key) or _TENANT_KEY.fullmatch(key)):
            return INVALID
        if not _VALUE.fullmatch(value) or key in keys:
            return INVALID
        keys.add(key)
        members.append(member)
    return ParsedTracestate(ok=True, value=",".join(members)) if members else _EMPTY
