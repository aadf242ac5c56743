"""W3C `traceparent` (spec 2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from raceway.ids import is_valid_span_id, is_valid_trace_id
from raceway.propagation.carrier import Absent, Conflict, header_copies, single_header
from raceway.sampling import RANDOM_FLAG, SAMPLED_FLAG

_LENGTH = 55
_HEX2 = re.compile(r"[0-9a-f]{2}")


@dataclass(frozen=True)
class Traceparent:
    version: str
    trace_id: str
    parent_id: str
    """The span id of the caller's span."""
    flags: str
    """The flags as received (two lowercase hex digits)."""

    @property
    def propagated_flags(self) -> str:
        """The flags a context that joins this parent takes (spec 2.2): the sampled and random
        bits as received, every other bit zero (W3C: a vendor zeroes the flags it does not
        know)."""
        return f"{int(self.flags, 16) & (SAMPLED_FLAG | RANDOM_FLAG):02x}"


def parse_traceparent(value: str) -> Traceparent | None:
    """Parses a trimmed `traceparent` per W3C Trace Context level 1; None when invalid.

    >>> parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").flags
    '01'
    """
    if not isinstance(value, str) or len(value) < _LENGTH:
        return None
    version = value[:2]
    if not _HEX2.fullmatch(version) or version == "ff":
        return None
    if version == "00" and len(value) != _LENGTH:
        return None
    if len(value) > _LENGTH and value[_LENGTH] != "-":
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id, parent_id, flags = value[3:35], value[36:52], value[53:55]
    if not (is_valid_trace_id(trace_id) and is_valid_span_id(parent_id) and _HEX2.fullmatch(flags)):
        return None
    return Traceparent(version, trace_id, parent_id, flags)


PROPAGATED_FLAGS = frozenset({"00", "01", "02", "03"})
"""The only flags a Raceway context has and sends (spec 2.2)."""


def format_traceparent(trace_id: str, span_id: str, flags: str) -> str:
    """The `traceparent` Raceway emits: version 00, the context's flags."""
    return f"00-{trace_id}-{span_id}-{flags}"


def read_traceparent_header(
    value: object,
) -> tuple[Traceparent | None, Literal["traceparent_invalid", "duplicate_conflict"] | None]:
    """A `traceparent` header: (parsed, None), (None, reason), or (None, None) when absent.
    Copies (a list or a comma-separated value, which a valid one never contains) must agree."""
    single = single_header(header_copies(value, split_commas=True))
    if isinstance(single, Conflict):
        return None, "duplicate_conflict"
    if isinstance(single, Absent):
        return None, None
    parsed = parse_traceparent(single.value)
    return (parsed, None) if parsed is not None else (None, "traceparent_invalid")
