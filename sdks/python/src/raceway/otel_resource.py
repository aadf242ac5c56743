"""OpenTelemetry's `OTEL_RESOURCE_ATTRIBUTES` (spec 7 e): a service traced by both Raceway and
OpenTelemetry is configured once, so Raceway takes its environment and version from there when
its own settings leave them out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def otel_resource_attributes(value: str | None) -> dict[str, str] | None:
    """The attributes of `OTEL_RESOURCE_ATTRIBUTES` (`key=value` items, comma-separated, values
    percent-encoded), or None when it is unset or malformed: OpenTelemetry then discards the
    whole value, and so does Raceway (never an error: it is not Raceway's variable).

    >>> otel_resource_attributes("service.version=1.2, deployment.environment.name=prod")
    {'service.version': '1.2', 'deployment.environment.name': 'prod'}
    """
    if value is None:
        return None
    attributes: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, equals, raw = item.partition("=")
        key = key.strip()
        if not equals or not key:
            return None
        raw = raw.strip()
        if _BAD_PERCENT.search(raw):
            return None
        try:
            attributes[key] = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return attributes


def otel_environment(attributes: Mapping[str, str] | None) -> str | None:
    """The deployment environment OpenTelemetry's resource names: `deployment.environment.name`
    (current semantic conventions), else the older `deployment.environment`."""
    if attributes is None:
        return None
    return attributes.get("deployment.environment.name", attributes.get("deployment.environment"))


def otel_service_version(attributes: Mapping[str, str] | None) -> str | None:
    """The service version OpenTelemetry's resource names (`service.version`)."""
    return None if attributes is None else attributes.get("service.version")
