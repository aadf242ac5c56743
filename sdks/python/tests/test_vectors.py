"""Runs every case of every file of spec/vectors/, each as its own test named after its id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from raceway.clock import ClockRejected, VectorClock, decode_clock, encode_clock
from raceway.config import resolve_config
from raceway.errors import RacewayConfigError
from raceway.propagation import (
    OutgoingContext,
    extract_context,
    headers_from_mapping,
    headers_into_mapping,
    inject_context,
)
from raceway.sampling import decide_flags, parse_sample_rate, root_sampled, sampling_threshold
from tests.vectors import SPEC_DIR, load_cases, vector_files

Case = dict[str, Any]


def run_extract(case: Case) -> None:
    result = extract_context(headers_from_mapping(case["input"]["headers"]))
    assert {
        "traceId": result.trace_id,
        "parentSpanId": result.parent_span_id,
        "traceFlags": result.trace_flags,
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
            trace_flags=ctx["traceFlags"],
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


def run_sampling(case: Case) -> None:
    given = case["input"]
    if case["op"] == "threshold":
        assert {"threshold": f"{sampling_threshold(given['rate']):014x}"} == case["expected"]
    elif case["op"] == "root":
        assert {"sampled": root_sampled(given["traceId"], given["rate"])} == case["expected"]
    elif case["op"] == "decide":
        flags = decide_flags(given["traceId"], given["rate"], given["joined"], given["traceFlags"])
        assert {"traceFlags": flags} == case["expected"]
    else:
        assert case["op"] == "parse"
        try:
            result: dict[str, object] = {"ok": True, "rate": parse_sample_rate(given["value"])}
        except ValueError:
            result = {"ok": False}
        assert result == case["expected"]
        # The configuration refuses exactly what the parser refuses.
        env = {"RACEWAY_SAMPLE_RATE": given["value"]}
        if result["ok"]:
            rate = result["rate"]
            expected_rate = 1.0 if rate is None else rate
            assert resolve_config({"service_name": "s"}, env).sample_rate == expected_rate
        else:
            with pytest.raises(RacewayConfigError):
                resolve_config({"service_name": "s"}, env)


def run_propagate_to(case: Case) -> None:
    given = case["input"]
    env = {} if given["propagateTo"] is None else {"RACEWAY_PROPAGATE_TO": given["propagateTo"]}
    try:
        config = resolve_config({"service_name": "s"}, env)
    except RacewayConfigError:
        assert case["expected"] == {"configError": True}
        return
    assert {"propagate": config.propagate_to(given["url"])} == case["expected"]


RUNNERS: dict[str, Callable[[Case], None]] = {
    "propagate-to": run_propagate_to,
    "sampling": run_sampling,
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
