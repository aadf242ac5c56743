from __future__ import annotations

from collections.abc import Iterator

import pytest

from raceway import Tracer
from tests.servers import FakeCollector, fake_collector


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
