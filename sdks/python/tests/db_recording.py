"""A tracer whose events stay in memory, each checked against spec/schemas/event.schema.json,
for the database driver tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jsonschema import Draft202012Validator

from raceway import Tracer
from raceway.context import ExecutionContext, use_context
from raceway.transport import TransportStats
from tests.vectors import SPEC_DIR

Event = dict[str, Any]

_EVENT_SCHEMA = Draft202012Validator(
    json.loads((SPEC_DIR / "schemas" / "event.schema.json").read_text(encoding="utf-8"))
)


class MemoryTransport:
    """Keeps every event; refuses one the schema refuses."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def enqueue(self, event: Event) -> None:
        errors = [
            error.message for error in _EVENT_SCHEMA.iter_errors(json.loads(json.dumps(event)))
        ]
        assert errors == [], (errors, event)
        self.events.append(event)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        pass

    def stats(self) -> TransportStats:
        return TransportStats()


class RecordingTracer:
    """A tracer and what it recorded."""

    def __init__(self, **options: Any) -> None:
        self.transport = MemoryTransport()
        self.tracer = Tracer(
            service_name="db-test",
            transport=self.transport,  # type: ignore[arg-type]
            **options,
        )

    @contextmanager
    def trace(self) -> Iterator[ExecutionContext]:
        ctx = self.tracer.start_context()
        with use_context(ctx):
            yield ctx

    def queries(self) -> list[dict[str, Any]]:
        """The `data` of every db_query event, in the order recorded."""
        return [e["data"] for e in self.transport.events if e["kind"] == "db_query"]

    def statements(self) -> list[str]:
        return [q["statement"] for q in self.queries()]

    def clear(self) -> None:
        self.transport.events.clear()
