"""WSGI middleware (Flask, Django, any WSGI app).

The application and the iteration of its response body run in one `contextvars.Context` that
holds the request's execution context, so a streaming body is still inside the request.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from raceway.api import set_route
from raceway.context import _current
from raceway.propagation.carrier import HeaderValue
from raceway.server import (
    RESPONSE_HEADER_NAMES,
    ServerRequest,
    _current_request,
    record_server_error,
)
from raceway.tracer import Tracer, tracer_for

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


_ENVIRON_KEYS: dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        key = _ENVIRON_KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
    return key


def _environ_getter(environ: dict[str, Any]) -> Callable[[str], HeaderValue]:
    # A WSGI server joins repeated headers with "," (PEP 3333), which extraction reads as copies.
    def get_header(name: str) -> HeaderValue:
        value = environ.get(_environ_key(name))
        return value if isinstance(value, str) else None

    return get_header


class _TracedBody:
    """The response body, iterated inside the request's context; `response_sent` when it is
    exhausted, fails, or is closed early (a client that went away)."""

    def __init__(
        self,
        body: Iterable[bytes],
        context: contextvars.Context,
        request: ServerRequest,
        status: list[int],
    ) -> None:
        self._body = body
        self._iterator: Iterator[bytes] | None = None
        self._context = context
        self._request = request
        self._status = status

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = self._context.run(iter, self._body)
        try:
            return self._context.run(next, self._iterator)
        except StopIteration:
            self._finish()
            raise
        except BaseException as error:
            self._request.error(error)
            self._finish()
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                self._context.run(close)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._request.finish(self._status[0] if self._status else None)


class RacewayWSGIMiddleware:
    """Traces every request of a WSGI application. Prefer `raceway_middleware`."""

    def __init__(self, app: WSGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        _connect_framework_signals(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        tracer = self.tracer
        path = environ.get("PATH_INFO") or "/"
        if tracer.disabled or tracer.should_ignore_path(path):
            return self.app(environ, start_response)
        try:
            request = ServerRequest(
                tracer, environ.get("REQUEST_METHOD", "GET"), path, _environ_getter(environ)
            )
        except Exception:
            return self.app(environ, start_response)
        context = contextvars.copy_context()
        context.run(_current.set, request.ctx)
        context.run(_current_request.set, request)
        status: list[int] = []

        def traced_start_response(
            status_line: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            try:
                status[:] = [int(status_line.split(" ", 1)[0])]
                headers = [h for h in headers if h[0].lower() not in RESPONSE_HEADER_NAMES]
                headers.extend(request.response_headers())
            except Exception:
                pass
            if exc_info is None:
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        try:
            body = context.run(self.app, environ, traced_start_response)
        except BaseException as error:
            request.error(error)
            request.finish(500)
            raise
        return _TracedBody(body, context, request, status)


def _connect_framework_signals(app: object) -> None:
    """Flask and Django hide two things from a WSGI middleware: the matched route, and an
    unhandled exception, which they turn into a 500 themselves. Their signals, sent inside the
    request's context, report them (Django's route: `integrations.django`)."""
    if type(app).__module__ == "django.core.handlers.wsgi":
        from django.core.signals import got_request_exception as django_exception  # noqa: PLC0415

        django_exception.connect(_on_django_exception, weak=False, dispatch_uid="raceway")
        return
    flask_app = app if _is_flask(app) else getattr(app, "__self__", None)
    if not _is_flask(flask_app):
        return
    try:
        from flask import got_request_exception, request_started  # noqa: PLC0415
    except ImportError:
        return
    request_started.connect(_on_flask_request, flask_app, weak=False)
    got_request_exception.connect(_on_flask_exception, flask_app, weak=False)


def _is_flask(app: object) -> bool:
    return any(
        cls.__name__ == "Flask" and cls.__module__.startswith("flask") for cls in type(app).__mro__
    )


def _on_flask_request(_sender: object, **_extra: object) -> None:
    # Flask sends `request_started` inside the request context, so its proxy is the request.
    request = sys.modules["flask"].request
    rule = getattr(request.url_rule, "rule", None)
    if isinstance(rule, str):
        set_route(rule)


def _on_django_exception(sender: object, **_extra: object) -> None:
    # Django sends the signal from inside the `except` block that caught the exception.
    error = sys.exc_info()[1]
    if error is not None:
        record_server_error(error)


def _on_flask_exception(_sender: object, exception: BaseException, **_extra: object) -> None:
    record_server_error(exception)


def wsgi_middleware(app: WSGIApp, *, tracer: Tracer | None = None, **options: Any) -> WSGIApp:
    """Wraps a WSGI application (see `raceway_middleware`)."""
    return RacewayWSGIMiddleware(app, tracer_for(tracer, options))
