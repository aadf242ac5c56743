"""What the client-library integrations rest on: one process-wide wrapper of one method,
installed and removed on request (the opt-in global instrumentation), a guard that records a
call once when two Raceway layers see it (a `RacewayTransport` around a patched
`HTTPTransport`), and the record of one send that every wrapper and transport shares."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from raceway.client_call import ClientCall

Method = Callable[..., Any]

_recording: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "raceway_recording_client_call", default=False
)


def call_recorded_outside() -> bool:
    """True inside `recording_call`: an outer Raceway layer records this call already."""
    return _recording.get()


@contextmanager
def recording_call() -> Iterator[None]:
    """Marks the send below as recorded, so that an inner layer passes it through untouched
    (the headers and the span stay the outer layer's). Works across `await`: the mark lives in
    the task's context."""
    token = _recording.set(True)
    try:
        yield
    finally:
        _recording.reset(token)


def _start(method: str, url: str, headers: MutableMapping[str, str]) -> ClientCall | None:
    try:
        call = ClientCall.start(method, url)
        if call is not None:
            for name, value in call.headers:
                headers[name] = value  # case-insensitive (httpx, requests): replaces any spelling
        return call
    except Exception:
        return None  # tracing never breaks the call it observes


@contextmanager
def recorded_send(
    method: str, url: str, headers: MutableMapping[str, str]
) -> Iterator[ClientCall | None]:
    """Records the send made inside the block as one client call: starts the call, sets its
    trace headers on `headers` (the request's own, case-insensitive), marks the send as
    recorded for the layers below, and records a send that raises as `response_received` with
    the error. Yields the call for the caller to finish with the response, in whatever way its
    library hands the response over; None when the send is not recorded here (an outer Raceway
    layer records it, or there is no execution context). A context manager rather than a
    wrapper of the send so that the sync and asyncio clients share it: the block may `await`.

    >>> with recorded_send("GET", url, request.headers) as call:  # doctest: +SKIP
    ...     response = send(request)
    >>> if call is not None: call.finish(response.status, response.headers.get)  # doctest: +SKIP
    """
    call = None if call_recorded_outside() else _start(method, url, headers)
    if call is None:
        yield None
        return
    try:
        with recording_call():
            yield call
    except BaseException as error:
        call.fail(error)
        raise


class MethodPatch:
    """Wraps `owner.name` for the whole process while active. `install` and `remove` are
    idempotent and thread-safe. `remove` puts the original back only while our wrapper is still
    the attribute: when another library (OpenTelemetry's instrumentation, a test double)
    wrapped it on top of ours, theirs stays in place and ours turns into a pass-through, so
    that removing one instrumentation never removes another.

    >>> patch = MethodPatch(HTTPAdapter, "send", traced_send)  # doctest: +SKIP
    >>> patch.install(); patch.install(); patch.remove()  # doctest: +SKIP
    """

    def __init__(self, owner: type, name: str, wrap: Callable[[Method], Method]) -> None:
        self._owner = owner
        self._name = name
        self._wrap = wrap
        self._lock = threading.Lock()
        self._original: Method | None = None
        self._wrapper: Method | None = None
        self._own = False
        """The original was the owner's own attribute (not inherited): put back, not deleted."""
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def install(self) -> None:
        with self._lock:
            if self._wrapper is None:
                original: Method = getattr(self._owner, self._name)
                traced = self._wrap(original)

                @functools.wraps(original)
                def wrapper(*args: Any, **kwargs: Any) -> Any:
                    if not self._active:
                        return original(*args, **kwargs)
                    return traced(*args, **kwargs)

                self._own = self._name in self._owner.__dict__
                self._original = original
                self._wrapper = wrapper
                setattr(self._owner, self._name, wrapper)
            self._active = True

    def remove(self) -> None:
        with self._lock:
            self._active = False
            if self._wrapper is not None and self._owner.__dict__.get(self._name) is self._wrapper:
                if self._own:
                    setattr(self._owner, self._name, self._original)
                else:
                    delattr(self._owner, self._name)
                self._wrapper = self._original = None
