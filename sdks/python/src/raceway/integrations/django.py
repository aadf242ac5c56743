"""Django: the route template of each request, for `raceway_middleware` around Django's WSGI
application (which records errors through Django's `got_request_exception` by itself).

    # settings.py
    MIDDLEWARE = ["raceway.integrations.django.RacewayRouteMiddleware", ...]
    # wsgi.py
    application = raceway_middleware(get_wsgi_application(), service_name="orders")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raceway.api import set_route


class RacewayRouteMiddleware:
    """Names the request's route template (`/items/<int:item_id>`) once Django resolved it."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)

    def process_view(
        self, request: Any, view_func: object, view_args: object, view_kwargs: object
    ) -> None:
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        if isinstance(route, str) and route:
            set_route(route if route.startswith("/") else "/" + route)
