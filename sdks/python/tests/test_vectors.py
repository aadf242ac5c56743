"""Runs every case of every file of spec/vectors/, each as its own test named after its id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from raceway.clock import ClockRejected, VectorClock, decode_clock, encode_clock
from raceway.propagation import (
    OutgoingContext,
    extract_context,
    headers_from_mapping,
    headers_into_mapping,
    inject_context,
)
from tests.vectors import SPEC_DIR, load_cases, vector_files

Case = dict[str, Any]


def run_extract(case: Case) -> None:
    result = extract_context(headers_from_mapping(case["input"]["headers"]))
    assert {
        "traceId": result.trace_id,
        "parentSpanId": result.parent_span_id,
        "clock": result.clock.to_dict() if result.clock is not None else None,
        "clockDropped": result.clock_dropped,
        "tracestate": result.tracestate,
        "status": result.status,
        "reasons": result.reasons,
    } == case["expected"]


def run_clock_codec(case: Case) -> None:
    given = case["input"]
    if case["op"] == "encode":
        header = encode_clock(
            VectorClock(given["entries"]), given.get("own"), given.get("dropped", 0)
        )
        assert {"header": header} == case["expected"]
        return
    decoded = decode_clock(given["header"])
    if isinstance(decoded, ClockRejected):
        assert {"ok": False, "reason": decoded.reason} == case["expected"]
    else:
        assert {
            "ok": True,
            "entries": decoded.clock.to_dict(),
            "dropped": decoded.dropped,
        } == case["expected"]


def run_clock_ops(case: Case) -> None:
    given = case["input"]
    if case["op"] == "increment":
        clock = VectorClock(given["clock"])
        clock.increment(given["component"])
        assert {"clock": clock.to_dict()} == case["expected"]
    elif case["op"] == "merge":
        clock = VectorClock(given["a"])
        clock.merge(VectorClock(given["b"]))
        assert {"clock": clock.to_dict()} == case["expected"]
    else:
        assert case["op"] == "compare"
        order = VectorClock(given["a"]).compare(VectorClock(given["b"]))
        assert {"order": order} == case["expected"]


def run_inject(case: Case) -> None:
    ctx = case["input"]["context"]
    carrier: dict[str, str] = dict(case["input"]["carrier"])
    inject_context(
        OutgoingContext(
            trace_id=ctx["traceId"],
            span_id=ctx["spanId"],
            clock=VectorClock(ctx["clock"]),
            own=ctx.get("own"),
            clock_dropped=ctx.get("clockDropped", 0),
            tracestate=ctx.get("tracestate"),
        ),
        headers_into_mapping(carrier),
    )
    assert {"headers": carrier} == case["expected"]


_event_validator = Draft202012Validator(
    json.loads((SPEC_DIR / "schemas" / "event.schema.json").read_text(encoding="utf-8"))
)


def run_events(case: Case) -> None:
    valid = _event_validator.is_valid(case["input"]["event"])
    assert {"valid": valid} == case["expected"]


RUNNERS: dict[str, Callable[[Case], None]] = {
    "extract": run_extract,
    "clock-codec": run_clock_codec,
    "clock-ops": run_clock_ops,
    "inject": run_inject,
    "events": run_events,
}


def test_every_vector_file_has_a_runner() -> None:
    # A new file in spec/vectors/ fails here until this suite runs it.
    assert vector_files() == sorted(RUNNERS)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case["id"])
        for name in vector_files()
        if name in RUNNERS
        for case in load_cases(name)
    ],
)
def test_vector(case: Case) -> None:
    name = case["id"].rsplit("-", 1)[0]
    RUNNERS[name](case)
