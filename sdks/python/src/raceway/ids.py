"""Identifiers of spec section 1: trace, span and event ids, and clock components."""

from __future__ import annotations

import itertools
import os
import random
import re

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_ANY_CASE_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NOT_SERVICE_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
# The service part of a component, so that `<service>#<8 hex>` fits in 64 characters.
_MAX_SERVICE_PART = 55


def is_valid_trace_id(value: object) -> bool:
    """True for 32 lowercase hex digits, not all zero (spec 1)."""
    return (
        isinstance(value, str)
        and _TRACE_ID.fullmatch(value) is not None
        and value != _ZERO_TRACE_ID
    )


def is_valid_span_id(value: object) -> bool:
    """True for 16 lowercase hex digits, not all zero (spec 1)."""
    return (
        isinstance(value, str) and _SPAN_ID.fullmatch(value) is not None and value != _ZERO_SPAN_ID
    )


def normalize_trace_id(value: str) -> str | None:
    """A trace id in any case or as a dashed UUID, as 32 lowercase hex digits; None if invalid.

    >>> normalize_trace_id("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736")
    '4bf92f3577b34da6a3ce929d0e0e4736'
    """
    if _ANY_CASE_TRACE_ID.fullmatch(value):
        candidate = value.lower()
    elif _UUID.fullmatch(value):
        candidate = value.replace("-", "").lower()
    else:
        return None
    return None if candidate == _ZERO_TRACE_ID else candidate


def _random_hex(nbytes: int) -> str:
    # Ids must be unique, not secret: the `random` module's generator (seeded from the OS, and
    # reseeded in a forked child) is what OpenTelemetry's Python SDK uses too; `os.urandom` is a
    # system call per id. The all-zero id is invalid everywhere (W3C) and is drawn again.
    while True:
        value = random.getrandbits(nbytes * 8)
        if value:
            return f"{value:0{nbytes * 2}x}"


def new_trace_id() -> str:
    """A new random trace id: 32 lowercase hex digits, never all zero."""
    return _random_hex(16)


def new_span_id() -> str:
    """A new random span id: 16 lowercase hex digits, never all zero."""
    return _random_hex(8)


class _EventIds:
    """Event ids need only be unique (spec 1, note a): a random 64-bit prefix per process, drawn
    again in a forked child, followed by a 64-bit counter. No random draw per event."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._prefix = _random_hex(8)
        # itertools.count's __next__ is atomic under the GIL: no lock on the hot path.
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    def after_fork(self) -> None:
        self._reset()


_event_ids = _EventIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_event_ids.after_fork)


def new_event_id() -> str:
    """A new event id: 32 lowercase hex digits, unique per event."""
    return _event_ids.next()


def service_part(service: str) -> str:
    """The service name as a component prefix: characters outside `[A-Za-z0-9._-]` become `_`,
    cut to 55 characters (spec 3.1). Python strings iterate by code point, as the spec counts."""
    return _NOT_SERVICE_CHAR.sub("_", service)[:_MAX_SERVICE_PART]


def new_component(service: str) -> str:
    """A new execution context component, `<service>#<8 lowercase hex>` (spec 3.1).

    >>> new_component("api service")  # doctest: +SKIP
    'api_service#1f3a9c07'
    """
    return f"{service_part(service)}#{random.getrandbits(32):08x}"
