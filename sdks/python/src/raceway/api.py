"""What applications call by hand: state, locks, errors, custom events, manual propagation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from raceway.client_call import merge_response_clock
from raceway.clock import VectorClock
from raceway.context import current_context
from raceway.event_fields import custom_name, error_data, json_value, resource_name
from raceway.propagation import (
    HeaderGetter,
    OutgoingContext,
    headers_from_mapping,
    trace_header_values,
)

_NO_VALUE: Any = object()


def _state_data(resource: str, value: object, version: object) -> dict[str, Any]:
    data: dict[str, Any] = {"resource": resource_name(resource)}
    if value is not _NO_VALUE:
        data["value"] = json_value(value)
    if isinstance(version, (str, int)) and not isinstance(version, bool):
        data["version"] = version
    return data


def track_state_read(resource: str, value: object = _NO_VALUE, *, version: object = None) -> None:
    """Records that the current context read `resource` (optionally the value or version seen).

    >>> stock = db.get("stock:42"); raceway.track_state_read("stock:42", stock)  # doctest: +SKIP
    """
    ctx = current_context()
    if ctx is not None:
        ctx.record("state_read", _state_data(resource, value, version))


def track_state_write(
    resource: str, value: object = _NO_VALUE, *, version: object = None, atomic: bool = False
) -> None:
    """Records that the current context wrote `resource`. `atomic=True` for an update that
    cannot lose another write (compare-and-set, `UPDATE ... SET x = x - 1`)."""
    ctx = current_context()
    if ctx is not None:
        data = _state_data(resource, value, version)
        if atomic:
            data["atomic"] = True
        ctx.record("state_write", data)


@contextmanager
def with_lock(lock: str) -> Iterator[None]:
    """Marks a block as holding the named lock: accesses inside it are not races with other
    accesses under the same lock. It records; it does not lock anything itself.

    >>> with redis_lock("stock:42"), raceway.with_lock("stock:42"):  # doctest: +SKIP
    ...     ...
    """
    ctx = current_context()
    name = resource_name(lock)
    if ctx is not None:
        ctx.record("lock_acquire", {"lock": name})
    try:
        yield
    finally:
        if ctx is not None:
            ctx.record("lock_release", {"lock": name})


def record_error(error: BaseException) -> None:
    """Records an exception as an `error` event of the current context."""
    ctx = current_context()
    if ctx is not None:
        ctx.record("error", error_data(error))


def record_event(name: str, attributes: Mapping[str, object] | None = None) -> None:
    """Records a `custom` event with a name and JSON attributes."""
    ctx = current_context()
    if ctx is None:
        return
    data: dict[str, Any] = {"name": custom_name(name)}
    if attributes:
        data["attributes"] = {str(key): json_value(value) for key, value in attributes.items()}
    ctx.record("custom", data)


def set_route(route: str) -> None:
    """Names the route template of the request being handled (`/orders/{id}`), for frameworks
    whose route the middleware cannot see."""
    ctx = current_context()
    if ctx is not None and isinstance(route, str):
        ctx.route = route


def get_trace_headers() -> dict[str, str]:
    """Trace headers for a call made with a client Raceway does not instrument. The call is an
    event of the caller (its clock is incremented). Returns `{}` outside a traced request.

    Pass the response's headers to `merge_response_headers` afterwards, or what the callee did
    looks concurrent with what the caller does next.

    >>> headers = raceway.get_trace_headers()  # doctest: +SKIP
    >>> response = requests.post("http://service-b/api", headers=headers)  # doctest: +SKIP
    >>> raceway.merge_response_headers(response.headers)  # doctest: +SKIP
    """
    ctx = current_context()
    if ctx is None or ctx.tracer.disabled:
        return {}
    tick = ctx.tick()
    return dict(
        trace_header_values(
            OutgoingContext(
                ctx.trace_id,
                ctx.span_id,
                VectorClock(tick.entries),
                ctx.component,
                tick.dropped,
                ctx.tracestate,
                ctx.trace_flags,
            )
        )
    )


def merge_response_headers(headers: Mapping[str, Any] | HeaderGetter) -> bool:
    """Merges the clock a callee sent back (`X-Raceway-VC`) into the current context when the
    response belongs to the same trace. Takes a headers mapping (case-insensitive matching) or
    a getter. True when a clock was merged; never raises."""
    ctx = current_context()
    if ctx is None:
        return False
    if callable(headers):
        getter: HeaderGetter = headers
    else:
        getter = _mapping_getter(headers)
    return merge_response_clock(ctx, getter)


def _mapping_getter(headers: Mapping[str, Any]) -> HeaderGetter:
    get = getattr(headers, "get", None)
    # requests' and httpx's header objects are case-insensitive already.
    if type(headers).__name__ in ("CaseInsensitiveDict", "Headers") and callable(get):
        return lambda name: get(name)
    return headers_from_mapping(headers)
