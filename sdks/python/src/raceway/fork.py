"""Concurrent branches inside one request (spec 3.2), where `contextvars` alone is not enough.

`asyncio.gather` and `create_task` copy the context, so two tasks of one request would share
one execution context and look ordered: `fork` gives each its own component. A thread pool does
not carry the context at all: `submit` forks and carries it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar, overload

from raceway.context import ExecutionContext, current_context, use_context

T = TypeVar("T")
P = ParamSpec("P")


def _fork_current(name: str | None) -> tuple[ExecutionContext, ExecutionContext] | None:
    parent = current_context()
    if parent is None or parent.owner.disabled:
        return None
    return parent, parent.fork_child(name)


async def _run_branch(
    parent: ExecutionContext, child: ExecutionContext, awaitable: Awaitable[T]
) -> T:
    try:
        with use_context(child):
            return await awaitable
    finally:
        parent.join_child(child)


@overload
def fork(work: Coroutine[Any, Any, T], /, *, name: str | None = None) -> Coroutine[Any, Any, T]: ...
@overload
def fork(work: Callable[[], T], /, *, name: str | None = None) -> T: ...
def fork(work: Any, /, *, name: str | None = None) -> Any:
    """Runs `work` as a concurrent branch of the current context, with its own clock component.

    The parent records `fork` now; the branch's clock starts from there. When the branch ends
    (returns or raises) its clock is merged into the parent, which records `join`. A coroutine
    gives a coroutine to await or gather; a callable is called at once. Outside a context the
    work simply runs.

    >>> async def handler():  # doctest: +SKIP
    ...     await asyncio.gather(fork(reserve_stock(order)), fork(charge_card(order)))
    """
    forked = _fork_current(name)
    if isinstance(work, Coroutine):
        if forked is None:
            return work
        return _run_branch(forked[0], forked[1], work)
    if forked is None:
        return work()
    parent, child = forked
    try:
        with use_context(child):
            return work()
    finally:
        parent.join_child(child)


def submit(
    executor: Executor, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> Future[T]:
    """`executor.submit(fn, ...)` as a forked branch of the current context: a pool thread does
    not inherit `contextvars`, so without this its events would belong to no request. The branch
    is joined when the call finishes.

    >>> with ThreadPoolExecutor() as pool:  # doctest: +SKIP
    ...     futures = [raceway.submit(pool, reserve, item) for item in order.items]
    """
    forked = _fork_current(None)
    call = functools.partial(fn, *args, **kwargs)
    if forked is None:
        return executor.submit(contextvars.copy_context().run, call)
    parent, child = forked
    snapshot = contextvars.copy_context()

    def run_branch() -> T:
        try:
            with use_context(child):
                return call()
        finally:
            parent.join_child(child)

    return executor.submit(snapshot.run, run_branch)


def bind(fn: Callable[P, T], /) -> Callable[P, T]:
    """`fn` carried into another thread (`threading.Thread(target=raceway.bind(work))`) as a
    branch forked now, joined when it returns."""
    forked = _fork_current(None)
    snapshot = contextvars.copy_context()

    @functools.wraps(fn)
    def run_branch(*args: P.args, **kwargs: P.kwargs) -> T:
        if forked is None:
            return snapshot.copy().run(fn, *args, **kwargs)
        parent, child = forked

        def branch() -> T:
            try:
                with use_context(child):
                    return fn(*args, **kwargs)
            finally:
                parent.join_child(child)

        return snapshot.copy().run(branch)

    return run_branch
