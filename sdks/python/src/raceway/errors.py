"""Configuration errors: raised at construction, never while the application serves requests."""

from __future__ import annotations

from typing import Literal

ConfigErrorCode = Literal[
    "RACEWAY_UNKNOWN_OPTION",
    "RACEWAY_MISSING_SERVICE_NAME",
    "RACEWAY_INVALID_SERVICE_NAME",
    "RACEWAY_INVALID_URL",
    "RACEWAY_INVALID_API_KEY",
    "RACEWAY_INVALID_DISABLED",
    "RACEWAY_INVALID_DEBUG",
    "RACEWAY_INVALID_INSTANCE",
    "RACEWAY_INVALID_SAMPLE_RATE",
    "RACEWAY_INVALID_BATCH_SIZE",
    "RACEWAY_INVALID_FLUSH_INTERVAL",
    "RACEWAY_INVALID_MAX_QUEUE_SIZE",
    "RACEWAY_INVALID_MAX_QUEUE_BYTES",
    "RACEWAY_INVALID_MAX_RETRIES",
    "RACEWAY_INVALID_REQUEST_TIMEOUT",
    "RACEWAY_INVALID_PROPAGATE_TO",
    "RACEWAY_INVALID_IGNORE_PATHS",
    "RACEWAY_INVALID_DB_CAPTURE",
    "RACEWAY_INVALID_DB_CAPTURE_VALUES",
    "RACEWAY_INVALID_DIGEST_KEY",
    "RACEWAY_INVALID_ENVIRONMENT",
    "RACEWAY_INVALID_VERSION",
]


class RacewayConfigError(ValueError):
    """A refused option or environment variable. Match on `code`, which is stable; the message
    names the option and the refused value and may be reworded.

    >>> try:
    ...     raise RacewayConfigError("RACEWAY_INVALID_URL", "serverUrl is not a URL")
    ... except RacewayConfigError as error:
    ...     error.code
    'RACEWAY_INVALID_URL'
    """

    def __init__(self, code: ConfigErrorCode, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code: ConfigErrorCode = code


def describe_value(value: object) -> str:
    """A short, safe rendering of a refused value for an error message."""
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:80] + "...")
    if callable(value):
        return "a function"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    return repr(value)
