"""The README's quick start, run as written (only the two addresses point at loopback)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request

from raceway import Tracer
from tests.helpers import of_kind
from tests.servers import FakeCollector, serve_wsgi

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture
def service_b() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    app = Flask("service-b")

    @app.post("/api")
    def api() -> dict[str, bool]:
        seen.append(dict(request.headers))
        return {"ok": True}

    with serve_wsgi(app) as url:
        yield url, seen


def test_the_quick_start_works_as_written(
    collector: FakeCollector, service_b: tuple[str, list[dict[str, str]]]
) -> None:
    source = quick_start()
    assert "raceway_middleware(app.wsgi_app, service_name='api-service'" in source
    service_url, seen = service_b
    source = source.replace("http://localhost:8080", collector.url)
    source = source.replace("http://service-b/api", f"{service_url}/api")
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(source, str(README), "exec"), namespace)
    with serve_wsgi(namespace["app"]) as url:
        response = requests.post(f"{url}/checkout", timeout=5)
    assert response.json() == {"ok": True}
    trace_id = response.headers["X-Raceway-Trace-Id"]
    assert seen[0]["X-Raceway-Trace-Id"] == trace_id
    tracer = Tracer.from_options(service_name="api-service", server_url=collector.url)
    assert tracer.flush(timeout=5)
    events = collector.events
    assert [event["kind"] for event in events] == [
        "request_received",
        "request_sent",
        "response_received",
        "response_sent",
    ]
    assert of_kind(events, "response_sent")[0]["data"]["route"] == "/checkout"
