"""What the opt-in global instrumentation of a client library rests on: one process-wide
wrapper of one method, installed and removed on request, and a guard that records a call
once when two Raceway layers see it (a `RacewayTransport` around a patched `HTTPTransport`)."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
