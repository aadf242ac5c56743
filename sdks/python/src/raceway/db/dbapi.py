"""DB-API 2.0 connections (sqlite3, psycopg 3, PyMySQL) wrapped once, so that every statement
they run is recorded: `raceway.db.instrument(sqlite3.connect(path))`. The wrapper hands every
attribute it does not instrument to the driver's connection; its cursors read ahead the first
10 rows a statement returns (bounded memory), to digest what the statement returned."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from raceway.db.drivers import Driver, driver_for
from raceway.db.query import MAX_ROWS, query_context
from raceway.db.tracking import ConnectionTracker, Pending, column_names, row_count

__all__ = ["InstrumentedConnection", "InstrumentedCursor"]

_OWN = frozenset({"_raw", "_tracker", "_buffer"})
_set = object.__setattr__  # the wrapper's own slots, past the __setattr__ that hands to the driver


def params_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if args:
        return args[0]
    for name in ("params", "parameters", "args"):
        if name in kwargs:
            return kwargs[name]
    return None


class DriverProxy:
    """Hands what it does not define to the wrapped driver object (sync and async alike)."""

    __slots__ = ("_raw", "_tracker")

    _raw: Any
    _tracker: ConnectionTracker

    # `isinstance(wrapped, psycopg.Connection)` holds, as libraries that check the type of a
    # connection (SQLAlchemy's psycopg dialect, psycopg's own type registry) require.
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._raw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._raw, name, value)

    def __repr__(self) -> str:
        return f"<raceway instrumented {self._raw!r}>"


class InstrumentedCursor(DriverProxy):
    """A driver cursor whose `execute` / `executemany` are recorded."""

    __slots__ = ("_buffer",)

    def __init__(self, raw: Any, tracker: ConnectionTracker) -> None:
        self._raw = raw
        self._tracker = tracker
        self._buffer: deque[Any] | None = None

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        _set(self, "_buffer", None)
        pending = self._tracker.start(statement, params_of(args, kwargs))
        if pending is None:
            return self._same(self._raw.execute(statement, *args, **kwargs))
        try:
            result = self._raw.execute(statement, *args, **kwargs)
        except BaseException as error:
            self._tracker.finish(pending, error=error)
            raise
        self._finish(pending)
        return self._same(result)

    def executemany(self, statement: Any, seq_of_params: Iterable[Any], *a: Any, **k: Any) -> Any:
        # One event per call, with the parameters of the first set and the rows of all.
        self._buffer = None
        pending: Pending | None = None
        first: Any = None
        if query_context() is not None:
            iterator = iter(seq_of_params)
            try:
                first = next(iterator)
            except StopIteration:
                return self._same(self._raw.executemany(statement, [], *a, **k))
            seq_of_params = itertools.chain((first,), iterator)
            pending = self._tracker.start(statement, first)
        if pending is None:
            return self._same(self._raw.executemany(statement, seq_of_params, *a, **k))
        try:
            result = self._raw.executemany(statement, seq_of_params, *a, **k)
        except BaseException as error:
            self._tracker.finish(pending, error=error)
            raise
        self._tracker.finish(pending, rows=row_count(getattr(self._raw, "rowcount", None), None))
        return self._same(result)

    def _finish(self, pending: Pending) -> None:
        raw = self._raw
        returned: list[Any] | None = None
        try:
            if raw.description is not None:
                returned = list(raw.fetchmany(MAX_ROWS))
                _set(self, "_buffer", deque(returned))
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

    # Reads serve the rows read ahead first.
    def fetchone(self) -> Any:
        if self._buffer:
            return self._buffer.popleft()
        return self._raw.fetchone()

    def fetchmany(self, size: int | None = None) -> Any:
        if not self._buffer:  # nothing read ahead (left): the driver's own answer
            return self._raw.fetchmany() if size is None else self._raw.fetchmany(size)
        wanted = size or self._raw.arraysize
        rows: list[Any] = []
        while self._buffer and len(rows) < wanted:
            rows.append(self._buffer.popleft())
        if len(rows) < wanted:
            rows.extend(self._raw.fetchmany(wanted - len(rows)))
        return rows

    def fetchall(self) -> Any:
        if not self._buffer:
            return self._raw.fetchall()
        rows = list(self._buffer)
        self._buffer = None
        rest = self._raw.fetchall()
        rows.extend(rest)
        return tuple(rows) if isinstance(rest, tuple) else rows  # PyMySQL answers tuples

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __enter__(self) -> InstrumentedCursor:
        self._raw.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._raw.__exit__(*exc)


class InstrumentedConnection(DriverProxy):
    """A DB-API connection whose statements, commits and rollbacks are recorded. Made by
    `raceway.db.instrument`."""

    __slots__ = ()

    def __init__(self, raw: Any, driver: Driver | None = None) -> None:
        found = driver or driver_for(raw)
        if found is None:
            raise TypeError(
                f"raceway.db.instrument: {type(raw).__module__}.{type(raw).__name__} is not a "
                "sqlite3, psycopg or PyMySQL connection"
            )
        self._raw = raw
        self._tracker = ConnectionTracker(raw, found)

    @property
    def raceway_connection_id(self) -> str:
        """The connection's id in `db_query` events (`sqlite3#1`)."""
        return self._tracker.id

    @property
    def driver_connection(self) -> Any:
        """The driver's own connection object."""
        return self._raw

    def cursor(self, *args: Any, **kwargs: Any) -> InstrumentedCursor:
        return InstrumentedCursor(self._raw.cursor(*args, **kwargs), self._tracker)

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """`connection.execute` of sqlite3 and psycopg: a new cursor, executed."""
        return self.cursor().execute(statement, *args, **kwargs)

    def executemany(self, statement: Any, seq_of_params: Iterable[Any]) -> Any:
        return self.cursor().executemany(statement, seq_of_params)

    def executescript(self, script: str) -> Any:
        """sqlite3's script: recorded as one statement."""
        pending = self._tracker.start(script)
        if pending is None:
            return self._raw.executescript(script)
        try:
            cursor = self._raw.executescript(script)
        except BaseException as error:
            self._tracker.finish(pending, error=error)
            raise
        self._tracker.finish(pending)
        return InstrumentedCursor(cursor, self._tracker)

    def commit(self) -> None:
        self._end("COMMIT", self._raw.commit)

    def rollback(self) -> None:
        self._end("ROLLBACK", self._raw.rollback)

    def _end(self, statement: str, run: Any) -> None:
        pending = self._tracker.start_end(statement)
        if pending is None:
            run()
            self._tracker.forget_transaction()
            return
        try:
            run()
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        """psycopg's `transaction()` block: its BEGIN or SAVEPOINT and its end are recorded."""
        return _TransactionBlock(self._raw.transaction(*args, **kwargs), self._tracker)

    def __enter__(self) -> InstrumentedConnection:
        self._raw.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        # sqlite3 commits (or rolls back) here; psycopg too, then closes.
        pending = self._tracker.start_end("COMMIT" if exc_type is None else "ROLLBACK")
        try:
            result = self._raw.__exit__(exc_type, exc, tb)
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)
        return result


class _TransactionBlock:
    """psycopg's Transaction context manager, with its boundaries recorded."""

    __slots__ = ("_began", "_raw", "_tracker", "_transaction")

    def __init__(self, raw: Any, tracker: ConnectionTracker) -> None:
        self._raw = raw
        self._tracker = tracker
        self._began = False
        self._transaction: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __enter__(self) -> Any:
        before = self._tracker.start_end("")
        # The driver's Transaction, what the block hands to the application.
        self._transaction = self._raw.__enter__()
        self._began = entered_block(self._tracker, self._transaction, before)
        return self._transaction

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        pending = self._tracker.start_end(exit_statement(self._transaction, self._began, exc_type))
        try:
            result = self._raw.__exit__(exc_type, exc, tb)
        except BaseException as error:
            self._tracker.finish_end(pending, error)
            raise
        self._tracker.finish_end(pending)
        return result


def entered_block(tracker: ConnectionTracker, raw: Any, before: Pending | None) -> bool:
    """Records the BEGIN or SAVEPOINT a psycopg transaction block just sent; True for BEGIN."""
    began = before is not None and not before.in_transaction
    if before is not None:
        try:
            if began:
                statement = tracker.driver.begin_statement(raw.connection)
                tracker.record_boundary(before.context, statement)
            else:
                tracker.record_boundary(before.context, f'SAVEPOINT "{raw.savepoint_name}"')
            tracker.transaction_open = True
        except Exception:
            pass
    return began


def exit_statement(raw: Any, began: bool, exc_type: Any) -> str:
    rollback = exc_type is not None or bool(getattr(raw, "force_rollback", False))
    if began:
        return "ROLLBACK" if rollback else "COMMIT"
    name = getattr(raw, "savepoint_name", None) or "sp"
    return f'ROLLBACK TO SAVEPOINT "{name}"' if rollback else f'RELEASE SAVEPOINT "{name}"'
