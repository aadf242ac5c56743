"""Which outgoing URLs receive trace headers (`propagate_to`) and which server paths are not
traced (`ignore_paths`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

UrlPredicate = Callable[[str], bool]
PropagateTo = Sequence["str | re.Pattern[str]"] | UrlPredicate

DEFAULT_IGNORE_PATHS: tuple[str, ...] = ("/healthz", "/health", "/favicon.ico")

# Spec 6.1: the hosts that get trace headers when nothing is configured.
_INTERNAL_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",  # loopback
        "10.0.0.0/8",  # private
        "172.16.0.0/12",  # private
        "192.168.0.0/16",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT, Tailscale)
        "169.254.0.0/16",  # link-local
        "::1/128",  # loopback
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
    )
)
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".svc")
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_CIDR = re.compile(r"(.+)/([0-9]{1,3})")
_BRACKETED = re.compile(r"\[([0-9a-f:.]+)\](?::([0-9]{1,5}))?")
_NAME_WITH_PORT = re.compile(r"([^:]+):([0-9]{1,5})")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _host(parts: SplitResult) -> str:
    """The host as spec 6 judges it: lowercased, no brackets, no trailing root dot."""
    host = (parts.hostname or "").lower()
    return host[:-1] if host.endswith(".") else host


def _address(host: str) -> Address | None:
    """The address a host names, an IPv4-mapped IPv6 address as its IPv4 one; None for a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _port(parts: SplitResult) -> int | None:
    try:
        port = parts.port
    except ValueError:
        return None
    return port if port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


def is_internal_host(host: str) -> bool:
    """Loopback, private, shared, link-local and unique-local addresses, and internal names
    (`localhost`, single-label names, `*.localhost`, `*.local`, `*.internal`, `*.svc`)."""
    if not host:
        return False
    address = _address(host)
    if address is not None:
        return any(address in network for network in _INTERNAL_NETWORKS)
    return host == "localhost" or "." not in host or host.endswith(_INTERNAL_SUFFIXES)


def default_propagate_to(url: str) -> bool:
    """The default allow-list (spec 6.1): true for hosts that are part of the same system by
    their address or name, false for third-party hosts, which should not learn trace ids or
    clocks.

    >>> default_propagate_to("http://inventory:3000/items"), default_propagate_to("https://api.stripe.com/")
    (True, False)
    """
    return is_internal_host(_host(urlsplit(url)))


def compile_host_pattern(entry: str) -> UrlPredicate:
    """One entry of `RACEWAY_PROPAGATE_TO` or of `propagate_to` (spec 6.2): `*`, `*.suffix`, a
    CIDR range, an address, a hostname, either of the last two with a port. Raises ValueError
    for anything else."""
    pattern = entry.strip(" \t").lower()
    if pattern == "*":
        return lambda url: True
    if pattern.startswith("*."):
        suffix = pattern[1:]
        if not _NAME.fullmatch(suffix[1:]):
            raise ValueError(f"{entry!r} is not a valid wildcard")
        return lambda url: _host(urlsplit(url)).endswith(suffix)
    cidr = _CIDR.fullmatch(pattern)
    if cidr is not None:
        try:
            network = ipaddress.ip_network(f"{cidr.group(1)}/{cidr.group(2)}", strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not a valid CIDR range") from None
        return lambda url: (
            (address := _address(_host(urlsplit(url)))) is not None
            and (address.version == network.version and address in network)
        )
    bracketed = _BRACKETED.fullmatch(pattern)
    if bracketed is not None:
        address = _address(bracketed.group(1))
        port = bracketed.group(2)
        if not isinstance(_plain_address(bracketed.group(1)), ipaddress.IPv6Address):
            raise ValueError(f"{entry!r} is not a valid address")
        return _address_matcher(address, _valid_port(port, entry))
    if _plain_address(pattern) is not None:
        return _address_matcher(_address(pattern), None)
    with_port = _NAME_WITH_PORT.fullmatch(pattern)
    name = with_port.group(1) if with_port else pattern
    port_number = _valid_port(with_port.group(2) if with_port else None, entry)
    if isinstance(_plain_address(name), ipaddress.IPv4Address):
        return _address_matcher(_address(name), port_number)
    if not _NAME.fullmatch(name):
        raise ValueError(f"{entry!r} is not a valid host")

    def matches_name(url: str) -> bool:
        parts = urlsplit(url)
        return _host(parts) == name and (port_number is None or _port(parts) == port_number)

    return matches_name


def _plain_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _valid_port(port: str | None, entry: str) -> int | None:
    if port is None:
        return None
    if int(port) > 65535:
        raise ValueError(f"{entry!r} has a port above 65535")
    return int(port)


def _address_matcher(address: Address | None, port: int | None) -> UrlPredicate:
    def matches_address(url: str) -> bool:
        parts = urlsplit(url)
        return _address(_host(parts)) == address and (port is None or _port(parts) == port)

    return matches_address


def _compile_entry(entry: object, index: int) -> UrlPredicate:
    if isinstance(entry, re.Pattern):
        pattern = entry
        return lambda url: pattern.search(url) is not None
    if not isinstance(entry, str) or not entry.strip(" \t") or re.search(r"\s", entry.strip(" \t")):
        raise ValueError(f"entry {index} must be a host pattern (spec 6.2) or a re.Pattern")
    try:
        return compile_host_pattern(entry)
    except ValueError as error:
        raise ValueError(f"entry {index}: {error}") from None


def _safe(predicate: UrlPredicate) -> UrlPredicate:
    def guarded(url: str) -> bool:
        try:
            return predicate(url) is True
        except Exception:
            # A user predicate that raises, or a URL that does not parse: no headers, no error.
            return False

    return guarded


def compile_propagate_to(option: PropagateTo | None) -> UrlPredicate:
    """Compiles `propagate_to`, which replaces the default (spec 6.2): host patterns (`*`,
    `*.suffix`, CIDR ranges, addresses, hostnames, with an optional port), `re.Pattern`s
    searched in the whole URL, or a predicate. Raises ValueError naming the bad entry; the
    predicate itself never raises."""
    if option is None:
        return _safe(default_propagate_to)
    if callable(option):
        return _safe(option)
    if isinstance(option, str) or not isinstance(option, Sequence):
        raise ValueError("must be a list of host patterns and re.Patterns, or a function")
    matchers = [_compile_entry(entry, index) for index, entry in enumerate(option)]
    return _safe(lambda url: any(match(url) for match in matchers))


def parse_propagate_to_env(value: str) -> list[str] | None:
    """`RACEWAY_PROPAGATE_TO`: comma-separated entries trimmed of spaces and tabs, empty ones
    ignored; None when no entry is left (unset: the default applies)."""
    entries = [entry.strip(" \t") for entry in value.split(",")]
    kept = [entry for entry in entries if entry]
    return kept or None


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
