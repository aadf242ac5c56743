"""Carriers: how extraction reads headers and injection writes them (spec 2.1, 2.5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

HeaderValue = str | Sequence[str] | None
HeaderGetter = Callable[[str], HeaderValue]
"""Reads a header by its lowercase name, matched case-insensitively: absent, once, or a list."""
HeaderSetter = Callable[[str, str], None]
"""Writes a header, replacing every existing value of it whatever its case (spec 2.5)."""

HEADER_TRACE_ID = "X-Raceway-Trace-Id"
HEADER_VC = "X-Raceway-VC"
HEADER_TRACEPARENT = "traceparent"
HEADER_TRACESTATE = "tracestate"

_OWS = " \t"


def headers_from_mapping(headers: Mapping[str, object]) -> HeaderGetter:
    """A case-insensitive getter over a plain mapping; a name spelled in several ways is the
    header received several times. Never raises.

    >>> get = headers_from_mapping({"TraceParent": "00-a", "traceparent": ["00-b"]})
    >>> get("traceparent")
    ['00-a', '00-b']
    """

    def get_header(name: str) -> HeaderValue:
        found: list[str] = []
        for key, value in headers.items():
            if not isinstance(key, str) or key.lower() != name:
                continue
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, (list, tuple)):
                found.extend(item for item in value if isinstance(item, str))
        if not found:
            return None
        return found[0] if len(found) == 1 else found

    return get_header


def headers_into_mapping(headers: MutableMapping[str, str]) -> HeaderSetter:
    """A setter into a plain mapping that removes every other spelling first (spec 2.5)."""

    def set_header(name: str, value: str) -> None:
        wanted = name.lower()
        for key in [key for key in headers if isinstance(key, str) and key.lower() == wanted]:
            del headers[key]
        headers[name] = value

    return set_header


def trim_ows(value: str) -> str:
    """Trims optional whitespace, space and horizontal tab only (spec 2.1)."""
    return value.strip(_OWS)


def header_copies(value: object, split_commas: bool) -> list[str]:
    """The copies of a header, trimmed, empty ones left out (spec 2.1). With `split_commas` a
    comma-separated value counts as several copies. Tolerates whatever a getter returns."""
    raw: list[object]
    if isinstance(value, str):
        raw = [value]
    elif isinstance(value, (list, tuple)):
        raw = list(value)
    else:
        return []
    copies: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            continue
        for part in item.split(",") if split_commas else (item,):
            trimmed = trim_ows(part)
            if trimmed:
                copies.append(trimmed)
    return copies


@dataclass(frozen=True)
class Absent:
    """No copy of the header."""


@dataclass(frozen=True)
class Conflict:
    """Copies that differ (`duplicate_conflict`)."""


@dataclass(frozen=True)
class Single:
    """One value, every copy being identical."""

    value: str


ABSENT = Absent()
CONFLICT = Conflict()


def single_header(copies: Sequence[str]) -> Absent | Conflict | Single:
    """Reduces copies to one value: accepted only when every copy is identical (spec 2.1)."""
    if not copies:
        return ABSENT
    first = copies[0]
    if any(copy != first for copy in copies[1:]):
        return CONFLICT
    return Single(first)


def safe_get(get: HeaderGetter, name: str) -> object:
    """Calls a getter without letting a raising getter escape (wire input never raises)."""
    try:
        return get(name)
    except Exception:
        return None
