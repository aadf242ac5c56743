"""What an execution context needs from whoever made it, as a protocol: where its events go
and the decisions it cannot take alone. A narrow interface rather than the whole tracer, so
that the context sits on a lower floor than the tracer (no import cycle) and can be tested with
a stub. `raceway.Tracer` is the one implementation in the SDK."""

from __future__ import annotations

from typing import Any, Protocol

from raceway.diagnostics import Diagnostics

Event = dict[str, Any]
"""One recorded event, as it goes to the collector (`spec/schemas`)."""


class ContextOwner(Protocol):
    """The owner of execution contexts (the tracer), seen through what they need of it."""

    @property
    def service(self) -> str:
        """The service name its events carry."""
        ...

    @property
    def instance(self) -> str:
        """The process of the service its events carry."""
        ...

    @property
    def disabled(self) -> bool:
        """A disabled owner records nothing and propagates nothing."""
        ...

    @property
    def diagnostics(self) -> Diagnostics:
        """Where diagnostics go (hosts that get no trace headers, say)."""
        ...

    def emit(self, event: Event) -> None:
        """Takes one recorded event (to the transport)."""
        ...

    def should_propagate(self, url: str) -> bool:
        """Whether an outgoing call to `url` may carry trace headers (`propagate_to`)."""
        ...
