"""Options, environment variables and defaults: the same as the TypeScript SDK's, in Python
spelling (`serviceName` is `service_name`, `RACEWAY_URL` is `RACEWAY_URL`)."""

from __future__ import annotations

import difflib
import math
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import urlsplit

from raceway.db.param_digest import DEFAULT_DIGEST_KEY
from raceway.diagnostics import logger
from raceway.env_names import misspelt_variables
from raceway.errors import ConfigErrorCode, RacewayConfigError, describe_value
from raceway.otel_resource import (
    otel_environment,
    otel_resource_attributes,
    otel_service_version,
)
from raceway.sampling import parse_sample_rate
from raceway.url_filters import (
    PropagateTo,
    compile_ignore_paths,
    compile_propagate_to,
    parse_propagate_to_env,
)

DEFAULT_SERVER_URL = "http://127.0.0.1:8080"
"""The collector used when neither `server_url` nor `RACEWAY_URL` is set."""

_DISABLED_SERVICE_NAME = "unknown_service"
_MAX_NAME_LENGTH = 128  # event.schema.json: service and instance
_API_KEY = re.compile(r"[\x21-\x7e]+")
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_NOT_IN_NAMES = re.compile(
    # Controls, zero-width characters and bidirectional formatting (spec 7): a name holding one
    # would read in the UI as another name, or reversed.
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


class RacewayOptions(TypedDict, total=False):
    """Every option of a tracer. Each can be omitted; the environment fills in what the code
    leaves out, and an option given in code always wins."""

    service_name: str
    """The service's name. Env `RACEWAY_SERVICE_NAME`, else `OTEL_SERVICE_NAME`. Required unless
    disabled."""
    environment: str
    """Where the service runs (`production`, `staging`). Env `RACEWAY_ENVIRONMENT`, else
    `deployment.environment.name` (or `deployment.environment`) in `OTEL_RESOURCE_ATTRIBUTES`.
    Default none."""
    version: str
    """The service's version. Env `RACEWAY_VERSION`, else `service.version` in
    `OTEL_RESOURCE_ATTRIBUTES`. Default none."""
    server_url: str
    """Collector base URL (`/v1/events` is appended). Env `RACEWAY_URL`."""
    api_key: str | None
    """Sent as `Authorization: Bearer <api_key>`. Env `RACEWAY_API_KEY`."""
    disabled: bool
    """No context, no events, no headers. Env `RACEWAY_DISABLED` (`1`, `true`, `yes`, `on`),
    else `OTEL_SDK_DISABLED` (`true`)."""
    debug: bool
    """Log transport problems on the `raceway` logger at WARNING. Env `RACEWAY_DEBUG`."""
    instance: str
    """Which process of the service this is. Env `RACEWAY_INSTANCE`. Default `<host>:<pid>`."""
    sample_rate: float
    """Share of new traces recorded, 0..1. Env `RACEWAY_SAMPLE_RATE`. Default 1. A race across
    traces is only seen when both traces are sampled."""
    batch_size: int
    """Events per request to the collector (1-5000). Default 200."""
    flush_interval_ms: int
    """Longest time an event waits before its batch is sent. Default 1000."""
    max_queue_size: int
    """Events held at most, in flight included; beyond, new events are dropped and counted.
    Default 100000."""
    max_queue_bytes: int
    """Bytes of encoded events held at most, in flight included. Default 64 MiB."""
    max_retries: int | None
    """Retries of a batch after a network error, 408, 429 or 5xx (0-100). Default None: retried
    (backoff with jitter, at most 5 s apart) until the collector takes it; a batch is dropped at
    its fifth failure that follows the delivery of another batch (spec 4.2): the collector is
    up, and it is this batch it cannot take. Failures during an outage do not count."""
    request_timeout_ms: int
    propagate_to: PropagateTo
    """Outgoing hosts that receive trace headers (spec 6); replaces the default internal hosts.
    Env `RACEWAY_PROPAGATE_TO` (comma-separated host patterns)."""
    ignore_paths: Sequence[str | re.Pattern[str]]
    capture_queries: bool
    """Record the statements of instrumented database drivers (`raceway.db`, spec 4.3). Env
    `RACEWAY_DB_CAPTURE`. Default True."""
    capture_values: bool
    """Send raw parameter values beside their digests. Env `RACEWAY_DB_CAPTURE_VALUES`. Default
    False: no parameter value leaves the service."""
    digest_key: str
    """The key of parameter digests; services that compare digests share it. Env
    `RACEWAY_DIGEST_KEY`. Default `raceway-digest-v1`. Never logged."""


@dataclass(frozen=True)
class Config:
    """A validated configuration with every default applied."""

    service_name: str
    server_url: str
    """Normalised collector base URL, without a trailing slash."""
    endpoint: str
    """`<server_url>/v1/events`."""
    api_key: str | None
    disabled: bool
    debug: bool
    instance: str
    sample_rate: float
    batch_size: int
    flush_interval_ms: int
    max_queue_size: int
    max_queue_bytes: int
    max_retries: int | None
    request_timeout_ms: int
    propagate_to: Callable[[str], bool]
    ignore_path: Callable[[str], bool]
    capture_queries: bool = True
    capture_values: bool = False
    digest_key: str = DEFAULT_DIGEST_KEY
    environment: str | None = None
    """The deployment environment, or None when none is configured."""
    version: str | None = None
    """The service's version, or None when none is configured."""


TRANSPORT_DEFAULTS: Mapping[str, int | None] = {
    "batch_size": 200,
    "flush_interval_ms": 1000,
    "max_queue_size": 100_000,
    "max_queue_bytes": 64 * 1024 * 1024,
    "max_retries": None,
    "request_timeout_ms": 10_000,
}
_INTEGER_BOUNDS: Mapping[str, tuple[ConfigErrorCode, int, int]] = {
    "batch_size": ("RACEWAY_INVALID_BATCH_SIZE", 1, 5000),
    "flush_interval_ms": ("RACEWAY_INVALID_FLUSH_INTERVAL", 1, 2_147_483_647),
    "max_queue_size": ("RACEWAY_INVALID_MAX_QUEUE_SIZE", 1, 10_000_000),
    "max_queue_bytes": ("RACEWAY_INVALID_MAX_QUEUE_BYTES", 1024, 2**32),
    "max_retries": ("RACEWAY_INVALID_MAX_RETRIES", 0, 100),
    "request_timeout_ms": ("RACEWAY_INVALID_REQUEST_TIMEOUT", 1, 2_147_483_647),
}


def resolve_config(options: RacewayOptions, env: Mapping[str, str] | None = None) -> Config:
    """Validates options and fills in the environment and defaults (spec 7), reading the
    variables from `env` (default `os.environ`); a variable set to a blank value counts as
    unset. Raises RacewayConfigError with a stable code for anything refused, so that a
    misconfiguration shows at startup.

    >>> resolve_config({"service_name": "checkout"}, {"RACEWAY_URL": "http://collector:8080"}).endpoint
    'http://collector:8080/v1/events'
    """
    environ = os.environ if env is None else env
    _refuse_unknown(options)
    for variable, meant in misspelt_variables(environ):
        logger.warning("raceway: %s is set but not read (did you mean %s?)", variable, meant)
    disabled = _flag(options.get("disabled"), environ.get("RACEWAY_DISABLED"), "disabled")
    if disabled is None:
        disabled = _otel_sdk_disabled(environ.get("OTEL_SDK_DISABLED"))
    server_url, endpoint = _server_url(
        options.get("server_url") or _non_empty(environ.get("RACEWAY_URL"))
    )
    otel_resource = otel_resource_attributes(environ.get("OTEL_RESOURCE_ATTRIBUTES"))
    propagate_to: PropagateTo | None = options.get("propagate_to")
    env_propagate_to = _unless_blank(environ.get("RACEWAY_PROPAGATE_TO"))
    if propagate_to is None and env_propagate_to is not None:
        propagate_to = parse_propagate_to_env(env_propagate_to)
    return Config(
        service_name=_service_name(options.get("service_name"), environ, disabled),
        environment=_resource_name(
            options.get("environment"),
            environ.get("RACEWAY_ENVIRONMENT"),
            otel_environment(otel_resource),
            option_name="environment",
            variable="RACEWAY_ENVIRONMENT",
            code="RACEWAY_INVALID_ENVIRONMENT",
        ),
        version=_resource_name(
            options.get("version"),
            environ.get("RACEWAY_VERSION"),
            otel_service_version(otel_resource),
            option_name="version",
            variable="RACEWAY_VERSION",
            code="RACEWAY_INVALID_VERSION",
        ),
        server_url=server_url,
        endpoint=endpoint,
        api_key=_api_key(options.get("api_key"), _unless_blank(environ.get("RACEWAY_API_KEY"))),
        disabled=disabled,
        debug=_flag(options.get("debug"), environ.get("RACEWAY_DEBUG"), "debug") or False,
        instance=_instance(options.get("instance"), environ.get("RACEWAY_INSTANCE")),
        sample_rate=_sample_rate(
            options.get("sample_rate"), _unless_blank(environ.get("RACEWAY_SAMPLE_RATE"))
        ),
        propagate_to=_compiled(
            lambda: compile_propagate_to(propagate_to),
            "propagate_to",
            "RACEWAY_INVALID_PROPAGATE_TO",
        ),
        ignore_path=_compiled(
            lambda: compile_ignore_paths(options.get("ignore_paths")),
            "ignore_paths",
            "RACEWAY_INVALID_IGNORE_PATHS",
        ),
        batch_size=_required(_integer(options.get("batch_size"), "batch_size")),
        flush_interval_ms=_required(
            _integer(options.get("flush_interval_ms"), "flush_interval_ms")
        ),
        max_queue_size=_required(_integer(options.get("max_queue_size"), "max_queue_size")),
        max_queue_bytes=_required(_integer(options.get("max_queue_bytes"), "max_queue_bytes")),
        max_retries=_integer(options.get("max_retries"), "max_retries"),
        request_timeout_ms=_required(
            _integer(options.get("request_timeout_ms"), "request_timeout_ms")
        ),
        capture_queries=_flag(
            options.get("capture_queries"), environ.get("RACEWAY_DB_CAPTURE"), "capture_queries"
        )
        is not False,
        capture_values=_flag(
            options.get("capture_values"),
            environ.get("RACEWAY_DB_CAPTURE_VALUES"),
            "capture_values",
        )
        is True,
        digest_key=_digest_key(options.get("digest_key"), environ.get("RACEWAY_DIGEST_KEY")),
    )


def _required(value: int | None) -> int:
    assert value is not None  # every option but max_retries has an integer default
    return value


def _refuse_unknown(options: Mapping[str, object]) -> None:
    known = sorted(RacewayOptions.__annotations__)
    for name in options:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f": did you mean {close[0]!r}?" if close else f"; the options are {', '.join(known)}"
        raise RacewayConfigError("RACEWAY_UNKNOWN_OPTION", f"unknown option {name!r}{hint}")


def _non_empty(value: str | None) -> str | None:
    if value is None:
        return None
    trimmed = value.strip()
    return trimmed or None


def _unless_blank(value: str | None) -> str | None:
    """A variable's value as it is, or None when it is unset or blank (spec 7)."""
    return value if value is not None and value.strip() else None


_FLAGS: Mapping[str, tuple[str, ConfigErrorCode]] = {
    "disabled": ("RACEWAY_DISABLED", "RACEWAY_INVALID_DISABLED"),
    "debug": ("RACEWAY_DEBUG", "RACEWAY_INVALID_DEBUG"),
    "capture_queries": ("RACEWAY_DB_CAPTURE", "RACEWAY_INVALID_DB_CAPTURE"),
    "capture_values": ("RACEWAY_DB_CAPTURE_VALUES", "RACEWAY_INVALID_DB_CAPTURE_VALUES"),
}


def _flag(option: object, env_value: str | None, name: str) -> bool | None:
    """The option, else the variable (spec 7 c); None when neither says."""
    variable, code = _FLAGS[name]
    if option is not None:
        if not isinstance(option, bool):
            raise RacewayConfigError(code, f"{name} must be a bool, got {describe_value(option)}")
        return option
    value = _non_empty(env_value)
    if value is None:
        return None
    word = value.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise RacewayConfigError(
        code,
        f"{variable} must be one of 1, true, yes, on, 0, false, no, off, "
        f"got {describe_value(env_value)}",
    )


def _otel_sdk_disabled(env_value: str | None) -> bool:
    """OpenTelemetry's `OTEL_SDK_DISABLED`, read as OpenTelemetry reads it: true only for `true`
    in any case; anything else is false, never an error (it is not Raceway's variable)."""
    return env_value is not None and env_value.strip().lower() == "true"


def _is_valid_name(name: str) -> bool:
    """Whether a trimmed name keeps the rules of names (spec 4): 1-128 characters, none
    invisible."""
    return bool(name) and len(name) <= _MAX_NAME_LENGTH and not _NOT_IN_NAMES.search(name)


def _valid_name(raw: object, source: str, code: ConfigErrorCode) -> str:
    if not isinstance(raw, str):
        raise RacewayConfigError(code, f"{source} must be a string, got {describe_value(raw)}")
    name = raw.strip()
    if not _is_valid_name(name):
        raise RacewayConfigError(
            code,
            f"{source} must be 1-{_MAX_NAME_LENGTH} characters without control, zero-width or "
            f"bidirectional-formatting characters, got {describe_value(raw)}",
        )
    return name


def _service_name(option: object, environ: Mapping[str, str], disabled: bool) -> str:
    if option is not None:
        return _valid_name(option, "service_name", "RACEWAY_INVALID_SERVICE_NAME")
    # OpenTelemetry's variable comes second, so that a service traced by both has one name.
    for variable in ("RACEWAY_SERVICE_NAME", "OTEL_SERVICE_NAME"):
        raw = _non_empty(environ.get(variable))
        if raw is not None:
            return _valid_name(raw, variable, "RACEWAY_INVALID_SERVICE_NAME")
    if disabled:
        return _DISABLED_SERVICE_NAME
    raise RacewayConfigError(
        "RACEWAY_MISSING_SERVICE_NAME",
        "a service name is required: pass service_name=... or set RACEWAY_SERVICE_NAME "
        "(or OTEL_SERVICE_NAME)",
    )


def _resource_name(
    option: object,
    env_value: str | None,
    otel_value: str | None,
    *,
    option_name: str,
    variable: str,
    code: ConfigErrorCode,
) -> str | None:
    """The option, else Raceway's variable, else OpenTelemetry's resource attribute (spec 7 e).
    The first two are refused when they break the name rules; OpenTelemetry's value is then
    ignored instead (never an error: it is not Raceway's variable)."""
    if option is not None:
        return _valid_name(option, option_name, code)
    raw = _non_empty(env_value)
    if raw is not None:
        return _valid_name(raw, variable, code)
    otel = None if otel_value is None else otel_value.strip()
    return otel if otel is not None and _is_valid_name(otel) else None


def default_instance() -> str:
    """The instance when none is configured: `<host name>:<pid>`, its last 128 characters."""
    return f"{socket.gethostname()}:{os.getpid()}"[-_MAX_NAME_LENGTH:]


def _instance(option: object, env_value: str | None) -> str:
    if option is not None:
        return _valid_name(option, "instance", "RACEWAY_INVALID_INSTANCE")
    raw = _non_empty(env_value)
    if raw is None:
        return default_instance()
    return _valid_name(raw, "RACEWAY_INSTANCE", "RACEWAY_INVALID_INSTANCE")


def _server_url(raw: object) -> tuple[str, str]:
    if raw is None:
        raw = DEFAULT_SERVER_URL
    if not isinstance(raw, str):
        raise RacewayConfigError(
            "RACEWAY_INVALID_URL", f"server_url must be a string, got {describe_value(raw)}"
        )
    try:
        parts = urlsplit(raw.strip())
        port = parts.port  # raises for a port that is not a number
    except ValueError:
        raise RacewayConfigError(
            "RACEWAY_INVALID_URL", f"server_url is not a valid URL: {describe_value(raw)}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RacewayConfigError(
            "RACEWAY_INVALID_URL",
            f"server_url must be an http: or https: URL, got {describe_value(raw)}",
        )
    if parts.username is not None or parts.password is not None:
        raise RacewayConfigError(
            "RACEWAY_INVALID_URL", "server_url must not contain credentials; use api_key instead"
        )
    if parts.query or parts.fragment:
        raise RacewayConfigError(
            "RACEWAY_INVALID_URL",
            f"server_url must not have a query or fragment, got {describe_value(raw)}",
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    # A base path is kept (a collector behind a reverse proxy at /raceway).
    base = origin + parts.path.rstrip("/")
    return base, f"{base}/v1/events"


def _api_key(option: object, env_value: str | None) -> str | None:
    source = "api_key" if option is not None else "RACEWAY_API_KEY"
    raw = option if option is not None else env_value
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise RacewayConfigError(
            "RACEWAY_INVALID_API_KEY", f"{source} must be a string, got {type(raw).__name__}"
        )
    key = raw.strip()
    if not key:
        return None  # what an unset variable interpolated into the options looks like
    if not _API_KEY.fullmatch(key):
        # The key itself is never echoed: it is a secret.
        raise RacewayConfigError(
            "RACEWAY_INVALID_API_KEY", f"{source} must be visible ASCII characters without spaces"
        )
    return key


def _digest_key(option: object, env_value: str | None) -> str:
    source = "digest_key" if option is not None else "RACEWAY_DIGEST_KEY"
    raw = option if option is not None else _non_empty(env_value)
    if raw is None:
        return DEFAULT_DIGEST_KEY
    # The key itself is never echoed: it is a secret.
    if not isinstance(raw, str):
        raise RacewayConfigError(
            "RACEWAY_INVALID_DIGEST_KEY", f"{source} must be a string, got {type(raw).__name__}"
        )
    key = raw.strip()
    if not key:
        raise RacewayConfigError("RACEWAY_INVALID_DIGEST_KEY", f"{source} must not be empty")
    return key


def _sample_rate(option: object, env_value: str | None) -> float:
    if option is None:
        if env_value is None:
            return 1.0
        try:
            rate = parse_sample_rate(env_value)
        except ValueError as error:
            raise RacewayConfigError(
                "RACEWAY_INVALID_SAMPLE_RATE",
                f"RACEWAY_SAMPLE_RATE {error}, got {describe_value(env_value)}",
            ) from None
        return 1.0 if rate is None else rate
    source = "sample_rate"
    raw = option
    if (
        isinstance(raw, bool)
        or not isinstance(raw, (int, float))
        or not math.isfinite(raw)
        or not 0 <= raw <= 1
    ):
        raise RacewayConfigError(
            "RACEWAY_INVALID_SAMPLE_RATE",
            f"{source} must be a number from 0 to 1, got {describe_value(raw)}",
        )
    return float(raw)


def _integer(value: object, name: str) -> int | None:
    if value is None:
        return TRANSPORT_DEFAULTS[name]
    code, low, high = _INTEGER_BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RacewayConfigError(
            code, f"{name} must be an integer from {low} to {high}, got {describe_value(value)}"
        )
    return value


def _compiled(
    compile_option: Callable[[], Callable[[str], bool]], name: str, code: ConfigErrorCode
) -> Callable[[str], bool]:
    try:
        return compile_option()
    except ValueError as error:
        raise RacewayConfigError(code, f"{name} {error}") from None
