"""Database queries (spec 4.3): every statement a driver runs, recorded as a `db_query` event in
the context that sent it, with its parameters as digests. Wrap each connection once:

>>> import sqlite3, raceway.db
>>> conn = raceway.db.instrument(sqlite3.connect("shop.db"))  # doctest: +SKIP
>>> conn.execute("SELECT stock FROM products WHERE id = ?", (42,))  # doctest: +SKIP

or instrument a SQLAlchemy engine (`instrument_engine`). Nothing is recorded outside a sampled
context, with the SDK disabled or `capture_queries` off, and a failure to record never reaches
the query.
"""

from __future__ import annotations

from typing import Any, TypeVar

from raceway.db.dbapi import InstrumentedConnection, InstrumentedCursor
from raceway.db.dbapi_async import AsyncInstrumentedConnection, AsyncInstrumentedCursor
from raceway.db.param_digest import (
    DEFAULT_DIGEST_KEY,
    canonical_param,
    digest_canonical,
    param_digest,
)
from raceway.db.query import QueryCapture, start_query

__all__ = [
    "DEFAULT_DIGEST_KEY",
    "AsyncInstrumentedConnection",
    "AsyncInstrumentedCursor",
    "InstrumentedConnection",
    "InstrumentedCursor",
    "QueryCapture",
    "canonical_param",
    "connection_id",
    "digest_canonical",
    "instrument",
    "instrument_engine",
    "param_digest",
    "start_query",
]

_Engine = TypeVar("_Engine")
_Connection = TypeVar("_Connection")


def instrument(connection: _Connection) -> _Connection:
    """Wraps a DB-API connection (`sqlite3`, psycopg 3 `Connection` or `AsyncConnection`,
    PyMySQL) so that every statement it runs is recorded, with the transactions the driver
    begins and ends by itself (`BEGIN`, `commit()`, `rollback()`). Use the returned object in
    place of the connection; everything not instrumented is the driver's own, and it passes for
    the driver's class (`isinstance`), so it is typed as the connection given. A connection
    already wrapped is returned as it is."""
    wrapped: Any
    if isinstance(connection, (InstrumentedConnection, AsyncInstrumentedConnection)):
        wrapped = connection
    elif type(connection).__name__ == "AsyncConnection":
        wrapped = AsyncInstrumentedConnection(connection)
    else:
        wrapped = InstrumentedConnection(connection)
    result: _Connection = wrapped
    return result


def connection_id(connection: object) -> str | None:
    """The connection id the events of a wrapped connection carry (`sqlite3#1`); None for a
    connection `instrument` did not wrap."""
    if isinstance(connection, (InstrumentedConnection, AsyncInstrumentedConnection)):
        return connection.raceway_connection_id
    return None


def instrument_engine(engine: _Engine) -> _Engine:
    """Records every statement of a SQLAlchemy `Engine` or `AsyncEngine` through its event
    hooks (see `raceway.db.sqlalchemy`). Returns the engine."""
    from raceway.db.sqlalchemy import instrument_engine as hook  # noqa: PLC0415

    result: _Engine = hook(engine)
    return result
