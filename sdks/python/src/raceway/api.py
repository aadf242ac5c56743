"""What applications call by hand: state, locks, errors, custom events, manual propagation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from raceway.client_call import ClientCall, merge_response_clock
from raceway.context import current_context
from raceway.event_fields import custom_name, error_data, json_value, resource_name
from raceway.propagation import (
    HeaderGetter,
    headers_from_mapping,
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
def with_lock(name: str, lock: AbstractContextManager[Any] | None) -> Iterator[None]:
    """Takes `lock` (a `threading.Lock`, `RLock`, a lock of a lock service: anything used as
    `with lock:`), records `lock_acquire` of `name`, runs the block, records `lock_release` and
    releases `lock`, also when the block raises. Accesses made while two contexts hold a common
    lock are not races. `None` is for a lock the application already holds: then only the two
    events are recorded (as `record_lock_held` does).

    >>> stock_lock = threading.Lock()  # doctest: +SKIP
    >>> with raceway.with_lock("stock:42", stock_lock):  # doctest: +SKIP
    ...     stock = read_stock(); write_stock(stock - 1)
    """
    if lock is None:
        with record_lock_held(name):
            yield
        return
    if not hasattr(lock, "__enter__"):
        raise TypeError(
            f"with_lock takes the lock itself (a threading.Lock or any `with` lock), got"
            f" {type(lock).__name__}; for an asyncio.Lock, `async with lock:` around"
            " record_lock_held(name)"
        )
    with lock, record_lock_held(name):
        yield


@contextmanager
def record_lock_held(name: str) -> Iterator[None]:
    """Records that the block runs under the named lock, which the application holds: it
    locks nothing itself (use `with_lock(name, lock)` to take the lock too).

    >>> async with stock_lock:  # doctest: +SKIP
    ...     with raceway.record_lock_held("stock:42"):
    ...         ...
    """
    ctx = current_context()
    lock_name = resource_name(name)
    if ctx is not None:
        ctx.record("lock_acquire", {"lock": lock_name})
    try:
        yield
    finally:
        if ctx is not None:
            ctx.record("lock_release", {"lock": lock_name})


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


def get_trace_headers(url: str | None = None, method: str | None = None) -> dict[str, str]:
    """Trace headers for one call made with a client Raceway does not instrument (spec 2.7).

    Each call is a client call of its own: a new span id, a `request_sent` event with the
    target when given (`url` and `method`; without one they are recorded as `unknown` and
    `GET`). The headers are returned whatever `propagate_to` says: the application chose to
    send them. Returns `{}` outside a traced request.

    Pass the response's headers to `merge_response_headers` afterwards: it merges the callee's
    clock (or what the callee did looks concurrent with what the caller does next) and records
    the call's `response_received`.

    >>> headers = raceway.get_trace_headers()  # doctest: +SKIP
    >>> response = requests.post("http://service-b/api", headers=headers)  # doctest: +SKIP
    >>> raceway.merge_response_headers(response.headers, status=200)  # doctest: +SKIP
    """
    ctx = current_context()
    if ctx is None or ctx.owner.disabled:
        return {}
    try:
        call = ClientCall(ctx, method, url, propagate=True)
    except Exception:
        return {}
    headers = dict(call.headers)
    if ctx.sampled:  # an unsampled call records nothing when it ends either
        ctx.open_manual_call(headers, call)
    return headers


def merge_response_headers(
    headers: Mapping[str, Any] | HeaderGetter,
    *,
    status: int | None = None,
    error: BaseException | None = None,
    request: Mapping[str, str] | None = None,
) -> bool:
    """Ends a manual call (spec 2.7): merges the clock the callee sent back (`X-Raceway-VC`,
    when the response belongs to the same trace), then records the call's `response_received`
    with `status` or `error`. The call ended is the one whose `get_trace_headers()` dict is
    passed as `request`, else the oldest one still open; with none open, only the clock is
    merged. Takes a headers mapping (matched case-insensitively) or a getter. True when a
    clock was merged; never raises."""
    ctx = current_context()
    if ctx is None:
        return False
    getter: HeaderGetter = headers if callable(headers) else _mapping_getter(headers)
    call = ctx.close_manual_call(request)
    if call is None:
        return merge_response_clock(ctx, getter)
    return call.finish(status, getter, error)


def _mapping_getter(headers: Mapping[str, Any]) -> HeaderGetter:
    get = getattr(headers, "get", None)
    # requests' and httpx's header objects are case-insensitive already.
    if type(headers).__name__ in ("CaseInsensitiveDict", "Headers") and callable(get):
        return get  # type: ignore[no-any-return]
    return headers_from_mapping(headers)
