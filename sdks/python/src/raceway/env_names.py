"""Misspelt `RACEWAY_*` environment variables (spec 7, Unknown variables): a variable Raceway
does not read is ignored, so `RACEWAY_SERVER_URL` would silently leave the default collector
URL in place. This finds the ones that look like a variable Raceway reads, for a warning."""

from __future__ import annotations

import math
from collections.abc import Iterable

SDK_VARIABLES = (
    "RACEWAY_SERVICE_NAME",
    "RACEWAY_ENVIRONMENT",
    "RACEWAY_VERSION",
    "RACEWAY_URL",
    "RACEWAY_API_KEY",
    "RACEWAY_DISABLED",
    "RACEWAY_DEBUG",
    "RACEWAY_INSTANCE",
    "RACEWAY_SAMPLE_RATE",
    "RACEWAY_PROPAGATE_TO",
    "RACEWAY_DB_CAPTURE",
    "RACEWAY_DB_CAPTURE_VALUES",
    "RACEWAY_DIGEST_KEY",
)
"""Every variable of the spec's settings table, read by one SDK or another."""

COLLECTOR_VARIABLES = frozenset(
    "RACEWAY_" + name
    for name in (
        "ALLOWED_HOSTS",
        "ANALYSIS_DELAY",
        "API_KEYS",
        "CHECK_RESPONSES",
        "CORS_ORIGINS",
        "HOST",
        "MAX_CLOCK_AHEAD",
        "OTLP_EXPORT_HEADERS",
        "OTLP_EXPORT_URL",
        "PORT",
        "READ_KEYS",
        "RETENTION",
        "STORAGE",
    )
)
"""The collector's variables: often set in the same environment, never a misspelling."""

SETTING_NAMES = {
    "RACEWAY_SERVER_URL": "RACEWAY_URL",
    "RACEWAY_CAPTURE_QUERIES": "RACEWAY_DB_CAPTURE",
    "RACEWAY_CAPTURE_VALUES": "RACEWAY_DB_CAPTURE_VALUES",
}
"""A setting's name used as a variable, for the settings whose variable is named otherwise."""

_PREFIX = "RACEWAY_"


def misspelt_variables(names: Iterable[str]) -> list[tuple[str, str]]:
    """(variable, the variable probably meant) for each of `names` that looks like a misspelt
    Raceway variable, sorted by variable.

    >>> misspelt_variables(["RACEWAY_SERVER_URL", "RACEWAY_PORT", "PATH"])
    [('RACEWAY_SERVER_URL', 'RACEWAY_URL')]
    """
    found = []
    for name in names:
        if not name.startswith(_PREFIX) or name in SDK_VARIABLES or name in COLLECTOR_VARIABLES:
            continue
        meant = SETTING_NAMES.get(name) or _closest(name)
        if meant is not None:
            found.append((name, meant))
    return sorted(found)


def _closest(name: str) -> str | None:
    """The variable whose part after `RACEWAY_` is nearest by edit distance (case-insensitive),
    if at most max(2, ceil(n / 3)) edits away, n the length of that part of `name`."""
    wanted = name[len(_PREFIX) :].lower()
    best: str | None = None
    best_distance = max(2, math.ceil(len(wanted) / 3)) + 1
    for candidate in SDK_VARIABLES:
        distance = _edit_distance(wanted, candidate[len(_PREFIX) :].lower())
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with one row of memory: variable names are short."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
