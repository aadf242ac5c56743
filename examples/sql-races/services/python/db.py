"""The connections the services use, over PostgreSQL (psycopg) or SQLite (sqlite3), each
wrapped once by `raceway.db.instrument`: nothing here tells Raceway anything else, the wrapper
reports every statement.

`DATABASE` is a postgres:// URL or `sqlite:<file>`. The statements are written with psycopg's
`%s` placeholders; for SQLite they are sent with `?` (the SQL recorded is SQLite's).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import raceway.db

# Test-only: RACE_PAUSE_MS holds each service for that long after a SELECT, so that two
# concurrent read-modify-writes both read before either writes, every time. It is here, in the
# adapter, so that the services' code stays the docs' code. Unset in a real deployment.
_PAUSE_S = float(os.environ.get("RACE_PAUSE_MS") or 0) / 1000
_SELECT = re.compile(r"\s*select\b", re.IGNORECASE)


class Db:
    """One connection: `query` runs a statement and returns the rows and the row count."""

    def __init__(self, connection: Any, system: str) -> None:
        self.connection = connection
        self.system = system

    def query(self, text: str, params: Sequence[Any] = ()) -> tuple[list[Any], int]:
        sql = text.replace("%s", "?") if self.system == "sqlite" else text
        cursor = self.connection.execute(sql, tuple(params))
        rows = cursor.fetchall() if cursor.description is not None else []
        count = len(rows) if cursor.description is not None else cursor.rowcount
        if _PAUSE_S > 0 and _SELECT.match(text):
            time.sleep(_PAUSE_S)
        return rows, count

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


@contextmanager
def connect(url: str) -> Iterator[Db]:
    """A connection for one request (werkzeug serves each request on a thread of its own, and a
    sqlite3 connection stays in its thread). SQLite waits up to 5 s for a busy database."""
    if url.startswith("sqlite:"):
        raw: Any = sqlite3.connect(url[len("sqlite:") :], timeout=5)
        system = "sqlite"
    else:
        raw = psycopg.connect(url)
        system = "postgresql"
    connection = raceway.db.instrument(raw)
    try:
        yield Db(connection, system)
    finally:
        try:
            connection.rollback()  # what a failed request left open
        finally:
            connection.close()
