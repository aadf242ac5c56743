"""psycopg's AsyncConnection wrapped once, like the sync connections of `raceway.db.dbapi`:
`raceway.db.instrument(await psycopg.AsyncConnection.connect(url))`."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from raceway.db.dbapi import DriverProxy, entered_block, exit_statement, params_of
from raceway.db.drivers import Driver, driver_for
from raceway.db.query import MAX_ROWS
from raceway.db.tracking import ConnectionTracker, Pending, column_names, row_count

__all__ = ["AsyncInstrumentedConnection", "AsyncInstrumentedCursor"]


class AsyncInstrumentedCursor(DriverProxy):
    """An async driver cursor whose `execute` / `executemany` are recorded."""

    __slots__ = ("_buffer",)

    def __init__(self, raw: Any, tracker: ConnectionTracker) -> None:
        self._raw = raw
        self._tracker = tracker
        self._buffer: deque[Any] | None = None

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._buffer = None
        pending = self._tracker.start(statement, params_of(args, kwargs))
        if pending is None:
            return self._same(await self._raw.execute(statement, *args, **kwargs))
        try:
            result = await self._raw.execute(statement, *args, **kwargs)
        except BaseException as error:
            self._tracker.finish(pending, error=error)
            raise
        await self._finish(pending)
        return self._same(result)

    async def executemany(self, statement: Any, seq_of_params: Iterable[Any], **k: Any) -> Any:
        # One event per call, with the parameters of the first set (a list is read twice).
        self._buffer = None
        sets = list(seq_of_params)
        pending = self._tracker.start(statement, sets[0]) if sets else None
        if pending is None:
            return self._same(await self._raw.executemany(statement, sets, **k))
        try:
            result = await self._raw.executemany(statement, sets, **k)
        except BaseException as error:
            self._tracker.finish(pending, error=error)
            raise
        self._tracker.finish(pending, rows=row_count(getattr(self._raw, "rowcount", None), None))
        return self._same(result)

    async def _finish(self, pending: Pending) -> None:
        raw = self._raw
        returned: list[Any] | None = None
        try:
            if raw.description is not None:
                returned = list(await raw.fetchmany(MAX_ROWS))
                self._buffer = deque(returned)
        except Exception:
            returned = None
        self._tracker.finish(
            pending,
            rows=row_count(getattr(raw, "rowcount", None), returned),
            returned=returned,
            columns=column_names(getattr(raw, "description", None)),
        )

    def _same(self, result: Any) -> Any:
        return self if result is self._raw else result

    async def fetchone(self) -> Any:
        if self._buffer:
            return self._buffer.popleft()
        return await self._raw.fetchone()

    async def fetchmany(self, size: int = 0) -> Any:
        if not self._buffer:  # nothing read ahead (left): the driver's own answer
            return await self._raw.fetchmany(size)
        wanted = size or self._raw.arraysize
        rows: list[Any] = []
        while self._buffer and len(rows) < wanted:
            rows.append(self._buffer.popleft())
        if len(rows) < wanted:
            rows.extend(await self._raw.fetchmany(wanted - len(rows)))
        return rows

    async def fetchall(self) -> Any:
        if not self._buffer:
            return await self._raw.fetchall()
        rows = list(self._buffer)
        self._buffer = None
        rest = await self._raw.fetchall()
        rows.extend(rest)
        return tuple(rows) if isinstance(rest, tuple) else rows  # PyMySQL answers tuples

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    async def __aenter__(self) -> AsyncInstrumentedCursor:
        await self._raw.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._raw.__aexit__(*exc)


class AsyncInstrumentedConnection(DriverProxy):
    """psycopg's AsyncConnection with its statements, commits and rollbacks recorded."""

    __slots__ = ()

    def __init__(self, raw: Any, driver: Driver | None = None) -> None:
        found = driver or driver_for(raw)
        if found is None:
            raise TypeError(f"raceway.db.instrument: {type(raw).__name__} is not known")
        self._raw = raw
        self._tracker = ConnectionTracker(raw, found)

    @property
    def raceway_connection_id(self) -> str:
        return self._tracker.id

    @property
    def driver_connection(self) -> Any:
        return self._raw

    def cursor(self, *args: Any, **kwargs: Any) -> AsyncInstrumentedCursor:
        return AsyncInstrumentedCursor(self._raw.cursor(*args, **kwargs), self._tracker)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.cursor().execute(statement, *args, **kwargs)

    async def commit(self) -> None:
        await self._end("COMMIT", self._raw.commit)

    async def rollback(self) -> None:
        await self._end("ROLLBACK", self._raw.rollback)

    async def _end(self, statement: str, run: Any) -> None:
        pending = self._tracker.start_end(statement)
        if pending is None:
            await run()
            self._tracker.forget_transaction()
            return
        try:
            await run()
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        return _AsyncTransactionBlock(self._raw.transaction(*args, **kwargs), self._tracker)

    async def __aenter__(self) -> AsyncInstrumentedConnection:
        await self._raw.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        pending = self._tracker.start_end("COMMIT" if exc_type is None else "ROLLBACK")
        try:
            result = await self._raw.__aexit__(exc_type, exc, tb)
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)
        return result


class _AsyncTransactionBlock:
    __slots__ = ("_began", "_raw", "_tracker", "_transaction")

    def __init__(self, raw: Any, tracker: ConnectionTracker) -> None:
        self._raw = raw
        self._tracker = tracker
        self._began = False
        self._transaction: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    async def __aenter__(self) -> Any:
        before = self._tracker.start_end("")
        # The driver's Transaction, what the block hands to the application.
        self._transaction = await self._raw.__aenter__()
        self._began = entered_block(self._tracker, self._transaction, before)
        return self._transaction

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        pending = self._tracker.start_end(exit_statement(self._transaction, self._began, exc_type))
        try:
            result = await self._raw.__aexit__(exc_type, exc, tb)
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)
        return result
