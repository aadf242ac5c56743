"""Runs every case of every file of spec/vectors/, each as its own test named after its id."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from jsonschema import Draft202012Validator

from raceway.clock import ClockRejected, VectorClock, decode_clock, encode_clock
from raceway.config import RacewayOptions, default_instance, resolve_config
from raceway.db.param_digest import DEFAULT_DIGEST_KEY, canonical_param, param_digest
from raceway.delivery import backoff_delay, classify_status, parse_retry_after, retry_delay
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


def run_delivery(case: Case) -> None:
    given = case["input"]
    if case["op"] == "classify":
        assert {"outcome": classify_status(given["status"])} == case["expected"]
    elif case["op"] == "retry_after":
        assert {"delay_ms": parse_retry_after(given["value"], given["now_ms"])} == case["expected"]
    elif case["op"] == "backoff":
        assert {"delay_ms": backoff_delay(given["attempt"], given["random"])} == case["expected"]
    else:
        assert case["op"] == "retry_delay"
        delay = retry_delay(
            given["attempt"], given["random"], given["retry_after"], given["now_ms"]
        )
        assert {"delay_ms": delay} == case["expected"]


# The spec's option names (section 7) in Python spelling: snake_case, the same names.
_OPTION_NAMES = {
    name: name
    for name in (
        "service_name",
        "environment",
        "version",
        "server_url",
        "api_key",
        "disabled",
        "debug",
        "instance",
        "sample_rate",
        "batch_size",
        "flush_interval_ms",
        "max_queue_size",
        "max_queue_bytes",
        "max_retries",
        "request_timeout_ms",
        "propagate_to",
    )
}


def run_config(case: Case) -> None:
    given = case["input"]
    options = cast(
        RacewayOptions, {_OPTION_NAMES[name]: value for name, value in given["options"].items()}
    )
    warned = _WarningRecords()
    raceway_logger = logging.getLogger("raceway")
    raceway_logger.addHandler(warned)
    try:
        config = resolve_config(options, dict(given["env"]))
    except RacewayConfigError as error:
        result: dict[str, object] = {"error": error.code}
    else:
        result = {
            "settings": {
                "service_name": config.service_name,
                "environment": config.environment,
                "version": config.version,
                "server_url": config.server_url,
                "endpoint": config.endpoint,
                "api_key": config.api_key,
                "disabled": config.disabled,
                "debug": config.debug,
                "instance": config.instance,
                "sample_rate": config.sample_rate,
                "batch_size": config.batch_size,
                "flush_interval_ms": config.flush_interval_ms,
                "max_queue_size": config.max_queue_size,
                "max_queue_bytes": config.max_queue_bytes,
                "max_retries": config.max_retries,
                "request_timeout_ms": config.request_timeout_ms,
            }
        }
    finally:
        raceway_logger.removeHandler(warned)
    # The misspelt variables, as resolve_config logged them (the record's arguments).
    warnings = [
        {"variable": record.args[0], "suggestion": record.args[1]}
        for record in warned.records
        if "is set but not read" in record.msg and isinstance(record.args, tuple)
    ]
    if warnings:
        result["warnings"] = warnings
    expected = case["expected"]
    if "settings" in expected and expected["settings"]["instance"] is None:
        # null: the default `<host name>:<pid>`.
        expected = {
            **expected,
            "settings": {**expected["settings"], "instance": default_instance()},
        }
    assert result == expected


class _WarningRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def param_digest_input(given: dict[str, Any]) -> object:
    """The vector's value as Python holds it: JSON values as they are, `int` text as an int of
    any size, `float` text (`1.0`, `-0.0`, `nan`, `inf`) as a float, `bytes` hex as bytes."""
    if "int" in given:
        return int(given["int"])
    if "float" in given:
        return float(given["float"])
    if "bytes" in given:
        return bytes.fromhex(given["bytes"])
    return given["value"]


def run_param_digest(case: Case) -> None:
    given = case["input"]
    value = param_digest_input(given)
    key = given.get("key", DEFAULT_DIGEST_KEY)
    assert {
        "canonical": canonical_param(value),
        "digest": param_digest(value, key),
    } == case["expected"]


RUNNERS: dict[str, Callable[[Case], None]] = {
    "config": run_config,
    "delivery": run_delivery,
    "propagate-to": run_propagate_to,
    "sampling": run_sampling,
    "extract": run_extract,
    "clock-codec": run_clock_codec,
    "clock-ops": run_clock_ops,
    "inject": run_inject,
    "events": run_events,
    "param-digest": run_param_digest,
}


# Concerns of the contract this SDK does not implement yet, with the reason: their files are
# not run here, and a new file that is in neither list fails the test below.
NOT_IMPLEMENTED: dict[str, str] = {
    "sql-accesses": "the collector parses SQL; no SDK does",
}


def test_every_vector_file_has_a_runner() -> None:
    # A new file in spec/vectors/ fails here until this suite runs it.
    assert vector_files() == sorted([*RUNNERS, *NOT_IMPLEMENTED])


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
