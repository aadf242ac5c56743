"""Head sampling (DESIGN 8): the root decides; the decision travels in `traceparent`'s flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raceway.propagation import ExtractedContext


@dataclass(frozen=True)
class SamplingDecision:
    sampled: bool
    flags: str
    """The `traceparent` flags this context sends."""


_SAMPLED = SamplingDecision(True, "01")


def decide_sampling(
    trace_id: str, incoming: ExtractedContext | None, sample_rate: float
) -> SamplingDecision:
    """Contract 1.0: Raceway records every request and always sends flags `01`."""
    return _SAMPLED
