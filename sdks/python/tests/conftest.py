from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask, request

import raceway
from raceway import Tracer, raceway_middleware
from tests.servers import FakeCollector, fake_collector, serve_wsgi


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracers read the environment (spec 7): a RACEWAY_* or OTEL_* variable of the shell that
    runs the suite (OTEL_SDK_DISABLED, OTEL_SERVICE_NAME) must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith(("RACEWAY_", "OTEL_")):
            monkeypatch.delenv(name)


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with fake_collector() as running:
        yield running
        assert running.violations == [], "events or batches outside spec/schemas"


@pytest.fixture
def tracer(collector: FakeCollector) -> Iterator[Tracer]:
    """A tracer of its own (not the shared one) that reports to the fake collector."""
    traced = Tracer(
        service_name="py-test", server_url=collector.url, instance="test-host", flush_interval_ms=20
    )
    yield traced
    traced.shutdown(timeout=2)


@pytest.fixture
def callee_tracer(collector: FakeCollector) -> Iterator[Tracer]:
    traced = Tracer(service_name="callee", server_url=collector.url, flush_interval_ms=20)
    yield traced
    traced.shutdown(timeout=2)


@pytest.fixture
def callee(callee_tracer: Tracer) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A traced Flask service that keeps the headers it received."""
    seen: list[dict[str, str]] = []
    app = Flask("callee")

    @app.get("/stock")
    def stock() -> dict[str, int]:
        seen.append(dict(request.headers))
        raceway.track_state_write("stock:1", 4)
        return {"stock": 4}

    app.wsgi_app = raceway_middleware(app.wsgi_app, tracer=callee_tracer)  # type: ignore[method-assign]
    with serve_wsgi(app) as url:
        yield url, seen
