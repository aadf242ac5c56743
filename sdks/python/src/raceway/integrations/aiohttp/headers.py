"""Reading aiohttp's multi-dicts the way extraction and clock merging read headers."""

from __future__ import annotations

from collections.abc import Callable

from multidict import CIMultiDictProxy, MultiMapping

from raceway.propagation.carrier import HeaderValue


def header_getter(
    headers: MultiMapping[str] | CIMultiDictProxy[str],
) -> Callable[[str], HeaderValue]:
    """A case-insensitive getter: absent, once, or every copy of a repeated header."""

    def get_header(name: str) -> HeaderValue:
        values = headers.getall(name, None)
        if not values:
            return None
        return values[0] if len(values) == 1 else list(values)

    return get_header
