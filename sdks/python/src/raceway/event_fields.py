"""Normalisers that keep wire-derived values inside the event schema's bounds, so that an odd
request never turns into an event the collector rejects."""

from __future__ import annotations

import json
import re
import traceback
from typing import Any
from urllib.parse import urlsplit

_METHOD = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")
_MAX_PATH = 2048
_MAX_ROUTE = 512
_MAX_URL = 2048
_MAX_HOST = 512
_MAX_ERROR_TYPE = 256
_MAX_ERROR_MESSAGE = 4096
_MAX_STACK = 16384
_MAX_RESOURCE = 512
_MAX_VALUE_TEXT = 1024
_MAX_NAME = 256


def event_method(method: str | None) -> str:
    """An HTTP method as the schema accepts it; an odd extension method becomes `OTHER`."""
    if not method:
        return "GET"
    if _METHOD.fullmatch(method):
        return method
    upper = method.upper()
    return upper if _METHOD.fullmatch(upper) else "OTHER"


def event_path(path: str) -> str:
    """The path of a request target (before `?` or `#`), cut to 2048 characters."""
    bare = re.split(r"[?#]", path or "/", maxsplit=1)[0] or "/"
    return bare[:_MAX_PATH]


def event_route(route: object) -> str | None:
    """A route template cut to 512 characters; empty or missing gives None."""
    if not isinstance(route, str) or not route:
        return None
    return route[:_MAX_ROUTE]


def event_status(status: object) -> int | None:
    """A status code the schema accepts (100..599), or None."""
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    return None


def event_target(url: str) -> tuple[str, str]:
    """The target of a client call as recorded: the URL without credentials, query string or
    fragment (they may carry secrets), and its `host[:port]`.

    >>> event_target("http://u:p@inventory:8080/items/1?token=x")
    ('http://inventory:8080/items/1', 'inventory:8080')
    """
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2] or parts.scheme or "unknown"
        target = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else host + parts.path
    except ValueError:
        host, target = "unknown", "unknown"
    return (target or host)[:_MAX_URL], host[:_MAX_HOST]


def error_data(error: BaseException) -> dict[str, str]:
    """`type`, `message` and `stack` of an exception, cut to the schema's bounds."""
    data = {
        "type": type(error).__name__[:_MAX_ERROR_TYPE],
        "message": str(error)[:_MAX_ERROR_MESSAGE],
    }
    try:
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:
        stack = ""
    if stack:
        data["stack"] = stack[-_MAX_STACK:]
    return data


def resource_name(resource: object) -> str:
    """A resource or lock name, 1..512 characters."""
    text = resource if isinstance(resource, str) else str(resource)
    return (text or "unnamed")[:_MAX_RESOURCE]


def custom_name(name: object) -> str:
    text = name if isinstance(name, str) else str(name)
    return (text or "custom")[:_MAX_NAME]


def json_value(value: object) -> Any:
    """A value as the event carries it: itself when JSON can encode it in 1 KiB of text,
    otherwise its text cut to 1 KiB. Never raises."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        try:
            text = json.dumps(str(value))
        except Exception:
            return "<unprintable>"
        return json.loads(text)[:_MAX_VALUE_TEXT]
    if len(text) <= _MAX_VALUE_TEXT:
        return value
    return text[:_MAX_VALUE_TEXT]
