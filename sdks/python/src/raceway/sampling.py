"""Head sampling, parent-based (spec 5): the root decides from the trace id alone, and the
decision travels in `traceparent`'s sampled flag; nobody downstream overrides it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SAMPLED_FLAG = 0x01
RANDOM_FLAG = 0x02
_TWO_POW_56 = 2.0**56
_RATE_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def sampling_threshold(rate: float) -> int:
    """T = floor((1 - rate) * 2^56), in IEEE-754 doubles as spec 5.1 says (Python floats are
    doubles, and the product by a power of two is exact); an exact integer from 0 to 2^56."""
    return math.floor((1.0 - rate) * _TWO_POW_56)


def root_sampled(trace_id: str, rate: float) -> bool:
    """The root decision (spec 5.1): the trace id's rightmost 56 bits, as an integer, >= T.
    Python integers are exact at any size, so no halves are needed."""
    return int(trace_id[-14:], 16) >= sampling_threshold(rate)


def is_sampled(flags: str) -> bool:
    return int(flags, 16) & SAMPLED_FLAG != 0


def decide_flags(trace_id: str, rate: float, joined: bool, trace_flags: str | None) -> str:
    """The flags of a new context (spec 5.2): a joined `traceparent`'s flags as received; a
    trace started here is random (`03`/`02`); one joined through `X-Raceway-Trace-Id` alone
    is decided here without the random flag (`01`/`00`)."""
    if trace_flags is not None:
        return trace_flags
    sampled = root_sampled(trace_id, rate)
    if not joined:
        return "03" if sampled else "02"
    return "01" if sampled else "00"


@dataclass(frozen=True)
class SamplingDecision:
    sampled: bool
    flags: str
    """The `traceparent` flags this context sends."""


def decide_sampling(
    trace_id: str, rate: float, joined: bool, trace_flags: str | None
) -> SamplingDecision:
    flags = decide_flags(trace_id, rate, joined, trace_flags)
    return SamplingDecision(is_sampled(flags), flags)


def parse_sample_rate(text: str) -> float | None:
    """`RACEWAY_SAMPLE_RATE` (spec 5.3): trimmed of spaces and tabs; empty is unset (None);
    otherwise `[0-9]+(.[0-9]+)?` from 0 to 1, read as the nearest double. Raises ValueError for
    anything else (a sign, an exponent, `inf`, `nan`), which parsers read differently."""
    value = text.strip(" \t")
    if not value:
        return None
    if not _RATE_TEXT.fullmatch(value):
        raise ValueError("must be a decimal number from 0 to 1 such as 0.25")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("must be from 0 to 1")
    return rate
