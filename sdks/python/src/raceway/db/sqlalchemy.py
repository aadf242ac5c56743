"""SQLAlchemy engines (sync `Engine` and `AsyncEngine`) traced through SQLAlchemy's own event
hooks: `raceway.db.instrument_engine(engine)`, once, after `create_engine`.

Statements (savepoints included: SQLAlchemy sends them as statements) are recorded from
`before_cursor_execute` / `after_cursor_execute` / `handle_error`; the BEGIN a DB-API driver
sends by itself is found by comparing the connection's transaction status before and after each
statement; COMMIT and ROLLBACK from the `commit` / `rollback` hooks, when a transaction is open.
A driver connection already wrapped by `raceway.db.instrument` (an engine whose `creator`
returns instrumented connections) is left to that wrapper: nothing is recorded twice."""

from __future__ import annotations

import weakref
from typing import Any

from raceway.db.dbapi import InstrumentedConnection
from raceway.db.dbapi_async import AsyncInstrumentedConnection
from raceway.db.drivers import driver_for
from raceway.db.query import MAX_ROWS
from raceway.db.tracking import ConnectionTracker, Pending, column_names, row_count

__all__ = ["instrument_engine"]

_PENDING = "raceway.pending"
_TRACKER = "raceway.tracker"
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_engine(engine: Any) -> Any:
    """Records every statement of a SQLAlchemy `Engine` or `AsyncEngine` (sqlite3, pysqlite,
    psycopg and PyMySQL dialects) and returns the engine. Idempotent."""
    from sqlalchemy import event  # noqa: PLC0415 - only for SQLAlchemy users

    target = getattr(engine, "sync_engine", engine)
    if target in _instrumented:
        return engine
    _instrumented.add(target)
    event.listen(target, "before_cursor_execute", _before)
    event.listen(target, "after_cursor_execute", _after)
    event.listen(target, "handle_error", _error)
    event.listen(target, "commit", _commit)
    event.listen(target, "rollback", _rollback)
    return engine


def _tracker(conn: Any) -> ConnectionTracker | None:
    """The tracker of the driver connection under a SQLAlchemy Connection, made once per
    driver connection (a pooled connection keeps its id); None for a connection Raceway does
    not know or one `raceway.db.instrument` already records."""
    try:
        driver_connection = conn.connection.driver_connection
    except Exception:
        return None
    if isinstance(driver_connection, (InstrumentedConnection, AsyncInstrumentedConnection)):
        return None
    if driver_connection is None:
        return None
    # Kept in the pool's record of the driver connection, which lives as long as it does (a
    # sqlite3 connection cannot be referred to weakly).
    info = conn.connection.info
    tracker: ConnectionTracker | None = info.get(_TRACKER)
    if tracker is None:
        driver = driver_for(driver_connection)
        if driver is None:
            return None
        tracker = ConnectionTracker(driver_connection, driver)
        info[_TRACKER] = tracker
    return tracker


def _before(  # noqa: PLR0917 - SQLAlchemy's signature
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    try:
        tracker = _tracker(conn)
        if tracker is None:
            return
        params = parameters
        if executemany and isinstance(parameters, (list, tuple)):
            params = parameters[0] if parameters else None
        pending = tracker.start(statement, params)
        if pending is not None:
            conn.info[_PENDING] = (tracker, pending)
    except Exception:
        pass


def _take(conn: Any) -> tuple[ConnectionTracker, Pending] | None:
    try:
        found: tuple[ConnectionTracker, Pending] | None = conn.info.pop(_PENDING, None)
        return found
    except Exception:
        return None


def _after(  # noqa: PLR0917 - SQLAlchemy's signature
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    taken = _take(conn)
    if taken is None:
        return
    tracker, pending = taken
    returned = _peek(cursor)
    tracker.finish(
        pending,
        rows=row_count(getattr(cursor, "rowcount", None), returned),
        returned=returned,
        columns=column_names(getattr(cursor, "description", None)),
    )


def _peek(cursor: Any) -> list[Any] | None:
    """The first rows a statement returned, read and then scrolled back, on the cursors that
    hold their whole result client-side and can scroll (psycopg's and PyMySQL's default ones).
    Other cursors are not read: the application's result must stay whole."""
    try:
        if cursor.description is None:
            return None
        kind = type(cursor)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if name not in ("psycopg.Cursor", "pymysql.cursors.Cursor", "pymysql.cursors.DictCursor"):
            return None
        rows = list(cursor.fetchmany(MAX_ROWS))
        if rows:
            cursor.scroll(-len(rows))
        return rows
    except Exception:
        return None


def _error(exception_context: Any) -> None:
    conn = getattr(exception_context, "connection", None)
    if conn is None:
        return
    taken = _take(conn)
    if taken is not None:
        taken[0].finish(taken[1], error=exception_context.original_exception)


def _commit(conn: Any) -> None:
    _end(conn, "COMMIT")


def _rollback(conn: Any) -> None:
    _end(conn, "ROLLBACK")


def _end(conn: Any, statement: str) -> None:
    # The hook runs just before SQLAlchemy asks the driver to end the transaction.
    try:
        tracker = _tracker(conn)
        if tracker is None:
            return
        pending = tracker.start_end(statement)
        if pending is not None and pending.query is not None:
            pending.query.end(duration_ms=0.0)
        tracker.transaction_open = False
    except Exception:
        pass
