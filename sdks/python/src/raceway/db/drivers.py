"""What Raceway needs to know of each DB-API driver: its system, its connection ids, whether a
connection is inside a transaction, the BEGIN it sends by itself, its error codes."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import weakref
from typing import Any

from raceway.db.query import DbSystem

__all__ = ["Driver", "connection_id", "driver_for", "is_transaction_statement", "statement_text"]

_TRANSACTION_STATEMENT = re.compile(
    r"\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b", re.IGNORECASE
)


def is_transaction_statement(statement: str) -> bool:
    """Whether the application wrote a transaction boundary itself (`BEGIN IMMEDIATE`,
    `COMMIT`, `SAVEPOINT s1`): then no boundary is made up for it."""
    return _TRANSACTION_STATEMENT.match(statement) is not None


class Driver:
    """A DB-API driver as Raceway sees it. Subclasses answer for sqlite3, psycopg and PyMySQL."""

    system: DbSystem = "sqlite"
    prefix = "dbapi"

    def in_transaction(self, connection: Any) -> bool:
        """Whether the connection is inside a transaction now (no I/O)."""
        return False

    def begin_statement(self, connection: Any) -> str:
        """The statement the driver sends when it begins a transaction by itself."""
        return "BEGIN"

    def statements_open_transaction(self, connection: Any) -> bool:
        """Whether any statement leaves a transaction open (until commit or rollback) though
        `in_transaction` may not say so yet: MySQL with autocommit off, whose server flags a
        transaction only once it has written."""
        return False

    def database(self, connection: Any) -> str | None:
        return None

    def error_type(self, error: BaseException) -> str:
        """The driver's code for an error (what the collector can act on), else its class."""
        return type(error).__name__

    def statement(self, statement: object, connection: Any) -> str:
        return statement_text(statement)


class Sqlite3Driver(Driver):
    system: DbSystem = "sqlite"
    prefix = "sqlite3"

    def in_transaction(self, connection: Any) -> bool:
        return bool(connection.in_transaction)

    def begin_statement(self, connection: Any) -> str:
        # The module sends "BEGIN " + isolation_level (DEFERRED, IMMEDIATE, EXCLUSIVE or "").
        level = getattr(connection, "isolation_level", None) or ""
        return f"BEGIN {level}".strip()

    def database(self, connection: Any) -> str | None:
        # The file, as the collector names SQLite's database-wide write lock by it.
        for _, name, file in connection.execute("PRAGMA database_list").fetchall():
            if name == "main":
                return str(file) or ":memory:"
        return None

    def error_type(self, error: BaseException) -> str:
        name = getattr(error, "sqlite_errorname", None)
        return name if isinstance(name, str) and name else type(error).__name__


class PsycopgDriver(Driver):
    system: DbSystem = "postgresql"
    prefix = "psycopg"

    def in_transaction(self, connection: Any) -> bool:
        # TransactionStatus: IDLE 0, ACTIVE 1, INTRANS 2, INERROR 3, UNKNOWN 4 (closed). Read
        # from the libpq connection: `connection.info` builds a new object on every access.
        return int(connection.pgconn.transaction_status) in (2, 3)

    def begin_statement(self, connection: Any) -> str:
        # As psycopg builds it (Connection._get_tx_start_command).
        parts = ["BEGIN"]
        level = getattr(connection, "isolation_level", None)
        if level is not None:
            parts.append("ISOLATION LEVEL " + level.name.replace("_", " "))
        read_only = getattr(connection, "read_only", None)
        if read_only is not None:
            parts.append("READ ONLY" if read_only else "READ WRITE")
        deferrable = getattr(connection, "deferrable", None)
        if deferrable is not None:
            parts.append("DEFERRABLE" if deferrable else "NOT DEFERRABLE")
        return " ".join(parts)

    def database(self, connection: Any) -> str | None:
        name = connection.info.dbname
        return name if isinstance(name, str) else None

    def error_type(self, error: BaseException) -> str:
        code = getattr(error, "sqlstate", None)
        return code if isinstance(code, str) and code else type(error).__name__

    def statement(self, statement: object, connection: Any) -> str:
        if not isinstance(statement, (str, bytes)) and hasattr(statement, "as_string"):
            try:
                return str(statement.as_string(connection))  # psycopg.sql.Composed
            except Exception:
                pass
        return statement_text(statement)


class PyMySQLDriver(Driver):
    system: DbSystem = "mysql"
    prefix = "pymysql"

    def in_transaction(self, connection: Any) -> bool:
        # SERVER_STATUS_IN_TRANS, as the server reported it with its last answer.
        return bool(getattr(connection, "server_status", 0) & 1)

    def statements_open_transaction(self, connection: Any) -> bool:
        # SERVER_STATUS_AUTOCOMMIT off: the server began a transaction with the statement.
        return not getattr(connection, "server_status", 0) & 2

    def database(self, connection: Any) -> str | None:
        name = getattr(connection, "db", None)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        return name if isinstance(name, str) and name else None

    def error_type(self, error: BaseException) -> str:
        # ER_DUP_ENTRY and the like, as the TypeScript driver names them.
        args = getattr(error, "args", ())
        if args and isinstance(args[0], int):
            return _mysql_error_names().get(args[0], str(args[0]))
        return type(error).__name__


_mysql_names: dict[int, str] | None = None


def _mysql_error_names() -> dict[int, str]:
    global _mysql_names
    if _mysql_names is None:
        try:
            from pymysql.constants import ER  # noqa: PLC0415 - only for PyMySQL users
        except ImportError:
            _mysql_names = {}
        else:
            _mysql_names = {
                code: "ER_" + name
                for name, code in vars(ER).items()
                if name.isupper() and isinstance(code, int)
            }
    return _mysql_names


_DRIVERS: tuple[tuple[str, Driver], ...] = (
    ("sqlite3", Sqlite3Driver()),
    ("psycopg", PsycopgDriver()),
    ("pymysql", PyMySQLDriver()),
)


def driver_for(connection: object) -> Driver | None:
    """The driver of a DB-API connection, by the module of its class; None for one Raceway
    does not know."""
    module = type(connection).__module__ or ""
    for name, driver in _DRIVERS:
        if module == name or module.startswith(name + "."):
            return driver
    return None


def statement_text(statement: object) -> str:
    if isinstance(statement, str):
        return statement
    if isinstance(statement, (bytes, bytearray)):
        return bytes(statement).decode("utf-8", "replace")
    return str(statement)


_ids: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_counters: dict[str, itertools.count[int]] = {}
_ids_lock = threading.Lock()


def connection_id(connection: object, prefix: str) -> str:
    """The id of a driver connection in events, unique in the process: `<prefix>#<n>`, the same
    for one connection for its whole life (a pooled connection keeps its id)."""
    with _ids_lock:
        try:
            known = _ids.get(connection)
        except TypeError:
            known = None
        if known is not None:
            return known
        counter = _counters.setdefault(prefix, itertools.count(1))
        made = f"{prefix}#{next(counter)}"
        # Not weakly referable (sqlite3): the id is unique, only not remembered.
        with contextlib.suppress(TypeError):
            _ids[connection] = made
        return made
