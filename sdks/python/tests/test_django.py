"""Django behind `raceway_middleware`, on a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
import requests
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

import raceway
from raceway import Tracer, raceway_middleware
from tests.helpers import flushed_events, of_kind
from tests.servers import FakeCollector, serve_wsgi


class KaputError(RuntimeError):
    pass


def item(_request: HttpRequest, item_id: int) -> JsonResponse:
    raceway.track_state_read(f"item:{item_id}", 7)
    return JsonResponse({"id": item_id})


def boom(_request: HttpRequest) -> JsonResponse:
    raise KaputError("kaput")


urlpatterns = [path("items/<int:item_id>", item), path("boom", boom)]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["raceway.integrations.django.RacewayRouteMiddleware"],
        INSTALLED_APPS=[],
        LOGGING_CONFIG=None,
    )
    django.setup()


@pytest.fixture
def base_url(tracer: Tracer) -> Iterator[str]:
    with serve_wsgi(raceway_middleware(get_wsgi_application(), tracer=tracer)) as url:
        yield url


def test_a_django_request_is_traced_with_its_route(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/items/42", timeout=5)
    assert response.json() == {"id": 42}
    assert "X-Raceway-VC" in response.headers
    events = flushed_events(tracer, collector)
    assert [event["kind"] for event in events] == [
        "request_received",
        "state_read",
        "response_sent",
    ]
    assert events[-1]["data"]["route"] == "/items/<int:item_id>"


def test_a_django_error_is_recorded(
    base_url: str, tracer: Tracer, collector: FakeCollector
) -> None:
    response = requests.get(f"{base_url}/boom", timeout=5)
    assert response.status_code == 500
    events = flushed_events(tracer, collector)
    assert [error["data"]["type"] for error in of_kind(events, "error")] == ["KaputError"]
    assert of_kind(events, "response_sent")[0]["data"]["error"]["message"] == "kaput"
