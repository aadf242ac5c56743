"""Which outgoing URLs receive trace headers (`propagate_to`) and which server paths are not
traced (`ignore_paths`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

UrlPredicate = Callable[[str], bool]
PropagateTo = Sequence["str | re.Pattern[str]"] | UrlPredicate

_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
DEFAULT_IGNORE_PATHS: tuple[str, ...] = ("/healthz", "/health", "/favicon.ico")


def _hostname(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    return host[:-1] if host.endswith(".") else host


def _host_port(parts: SplitResult) -> str:
    return parts.netloc.rpartition("@")[2].lower()


def _origin(parts: SplitResult) -> str:
    return f"{parts.scheme.lower()}://{_host_port(parts)}"


def default_propagate_to(url: str) -> bool:
    """True for hosts that are almost certainly part of the same system: loopback, single-label
    names (`inventory`, as in Docker or Kubernetes), `*.local`, `*.internal` and the private
    IPv4 ranges. Third-party hosts should not learn trace ids or clocks.

    >>> default_propagate_to("http://inventory:3000/items"), default_propagate_to("https://api.stripe.com/")
    (True, False)
    """
    host = _hostname(urlsplit(url))
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost") or host == "::1":
        return True
    v4 = _IPV4.fullmatch(host)
    if v4:
        a, b = int(v4.group(1)), int(v4.group(2))
        return a in (127, 10) or (a == 172 and 16 <= b <= 31) or (a == 192 and b == 168)
    if ":" in host:
        return False  # any other IPv6 literal: nothing in the address says it is internal
    if "." not in host:
        return True
    return host.endswith((".local", ".internal"))


def _compile_entry(entry: object, index: int) -> UrlPredicate:
    if isinstance(entry, re.Pattern):
        pattern = entry
        return lambda url: pattern.search(url) is not None
    if not isinstance(entry, str) or not entry.strip() or re.search(r"\s", entry):
        raise ValueError(f"entry {index} must be a non-empty hostname, origin or re.Pattern")
    wanted = entry.lower()
    if "://" in wanted:
        origin = _origin(urlsplit(wanted))
        return lambda url: _origin(urlsplit(url)) == origin
    if wanted.startswith("*."):
        suffix = wanted[1:]
        return lambda url: _hostname(urlsplit(url)).endswith(suffix)

    def matches(url: str) -> bool:
        parts = urlsplit(url)
        return wanted in (_hostname(parts), _host_port(parts))

    return matches


def _safe(predicate: UrlPredicate) -> UrlPredicate:
    def guarded(url: str) -> bool:
        try:
            return predicate(url) is True
        except Exception:
            # A user predicate that raises must not break the outgoing call: no headers.
            return False

    return guarded


def compile_propagate_to(option: PropagateTo | None) -> UrlPredicate:
    """Compiles `propagate_to`: hostnames, `host:port`, `*.suffix` wildcards, origins,
    `re.Pattern`s searched in the whole URL, or a predicate. Raises ValueError naming the bad
    entry; the predicate itself never raises."""
    if option is None:
        return _safe(default_propagate_to)
    if callable(option):
        return _safe(option)
    if isinstance(option, str) or not isinstance(option, Sequence):
        raise ValueError("must be a list of hostnames, origins and re.Patterns, or a function")
    matchers = [_compile_entry(entry, index) for index, entry in enumerate(option)]
    return _safe(lambda url: any(match(url) for match in matchers))


def parse_propagate_to_env(value: str) -> list[str]:
    """`RACEWAY_PROPAGATE_TO`: comma-separated hostnames, `host:port`, wildcards and origins."""
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def _compile_path(entry: object, index: int) -> Callable[[str], bool]:
    if isinstance(entry, re.Pattern):
        pattern: re.Pattern[str] = entry
        return lambda path: pattern.search(path) is not None
    if not isinstance(entry, str) or not entry.startswith("/"):
        raise ValueError(f"entry {index} must be a path starting with '/' or a re.Pattern")
    exact = entry
    prefix = entry if entry.endswith("/") else entry + "/"
    return lambda path: path == exact or path.startswith(prefix)


def compile_ignore_paths(
    option: Sequence[str | re.Pattern[str]] | None,
) -> Callable[[str], bool]:
    """Compiles `ignore_paths`: a string matches the path exactly or as a whole-segment prefix
    (`/health` ignores `/health/live`, not `/healthcheck`); a pattern is searched in the path
    without its query string."""
    entries = DEFAULT_IGNORE_PATHS if option is None else option
    if isinstance(entries, str):
        raise ValueError("must be a list of path strings and re.Patterns")
    matchers = [_compile_path(entry, index) for index, entry in enumerate(entries)]

    def ignored(path: str) -> bool:
        bare = re.split(r"[?#]", path, maxsplit=1)[0]
        return any(match(bare) for match in matchers)

    return ignored
