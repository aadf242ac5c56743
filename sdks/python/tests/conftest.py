from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from raceway import Tracer
from tests.servers import FakeCollector, fake_collector


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
