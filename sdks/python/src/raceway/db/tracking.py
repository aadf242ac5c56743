"""One driver connection followed statement by statement: records each statement, and the
transaction boundaries the driver crosses by itself (DB-API's implicit BEGIN, `commit()`,
`rollback()`), on the connection's id. Shared by the connection wrappers and SQLAlchemy's hooks;
sync and async callers use the same two halves (`start` before the driver runs, `finish` after)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from raceway.context import ExecutionContext
from raceway.db.drivers import Driver, connection_id, is_transaction_statement
from raceway.db.query import MAX_ROWS, QueryInFlight, query_context, start_query


class Pending(NamedTuple):
    """A statement on its way: the context that sent it, its text, whether the connection was
    in a transaction before it, and its event in flight."""

    context: ExecutionContext
    statement: str
    in_transaction: bool
    query: QueryInFlight | None


class ConnectionTracker:
    """What Raceway keeps of one driver connection: its id, and whether the events it sent have
    opened a transaction (so that a boundary the driver crossed unseen is recorded once)."""

    __slots__ = ("_database", "_raw", "driver", "id", "transaction_open")

    def __init__(self, raw: Any, driver: Driver) -> None:
        self._raw = raw
        self.driver = driver
        self.id = connection_id(raw, driver.prefix)
        try:
            self._database = driver.database(raw)
        except Exception:
            self._database = None
        self.transaction_open = False

    def _in_transaction(self) -> bool:
        try:
            return self.driver.in_transaction(self._raw)
        except Exception:
            return False

    def _opens_transaction(self) -> bool:
        try:
            return self.driver.statements_open_transaction(self._raw)
        except Exception:
            return False

    def start(self, statement: object, params: object = None) -> Pending | None:
        """Before the driver runs a statement. None outside a recording context: then the
        caller runs the driver untouched and calls nothing else."""
        ctx = query_context()
        if ctx is None:
            return None
        try:
            text = self.driver.statement(statement, self._raw)
            query = start_query(
                self.driver.system,
                text,
                self.id,
                params=params,
                database=self._database,
                context=ctx,
            )
            before = self._in_transaction() or (self.transaction_open and self._opens_transaction())
            return Pending(ctx, text, before, query)
        except Exception:
            return None

    def finish(
        self,
        pending: Pending,
        *,
        error: BaseException | None = None,
        rows: int | None = None,
        returned: Sequence[object] | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        """After the driver answered: the BEGIN it sent by itself when it did, then the
        statement. Never raises."""
        try:
            after = self._in_transaction()
            if is_transaction_statement(pending.statement):
                self.transaction_open = after
            else:
                if not after:
                    after = self._opens_transaction()
                began = after and not pending.in_transaction
                unseen = pending.in_transaction and not self.transaction_open
                if began or unseen:
                    self.record_boundary(pending.context, self.driver.begin_statement(self._raw))
                self.transaction_open = after
            if pending.query is not None:
                pending.query.end(
                    rows=rows,
                    returned=returned,
                    columns=columns,
                    error=error,
                    error_type=self.driver.error_type(error) if error is not None else None,
                )
        except Exception:
            pass

    def record_boundary(self, ctx: ExecutionContext, statement: str) -> None:
        """A boundary the driver crossed by itself, recorded as the statement it ran."""
        query = start_query(
            self.driver.system, statement, self.id, database=self._database, context=ctx
        )
        if query is not None:
            query.end(duration_ms=0.0)

    def start_end(self, statement: str) -> Pending | None:
        """Before `commit()` / `rollback()`: recorded only when a transaction is open (the
        driver sends nothing otherwise)."""
        ctx = query_context()
        if ctx is None:
            return None
        try:
            before = self._in_transaction()
            if not before and not self.transaction_open:
                return Pending(ctx, statement, before, None)
            query = start_query(
                self.driver.system, statement, self.id, database=self._database, context=ctx
            )
            return Pending(ctx, statement, before, query)
        except Exception:
            return None

    def finish_end(self, pending: Pending | None, error: BaseException | None = None) -> None:
        try:
            self.transaction_open = self._in_transaction()
            if pending is not None and pending.query is not None:
                pending.query.end(
                    error=error,
                    error_type=self.driver.error_type(error) if error is not None else None,
                )
        except Exception:
            pass

    def forget_transaction(self) -> None:
        """The transaction ended unrecorded (outside any context)."""
        self.transaction_open = self._in_transaction()


def row_count(rowcount: object, buffered: Sequence[object] | None) -> int | None:
    """Rows returned or affected: the driver's count, else how many rows a read returned when
    they all fit the digested first rows."""
    if isinstance(rowcount, int) and not isinstance(rowcount, bool) and rowcount >= 0:
        return rowcount
    if buffered is not None and len(buffered) < MAX_ROWS:
        return len(buffered)
    return None


def column_names(description: Any) -> list[str] | None:
    try:
        return [str(column[0]) for column in description] if description else None
    except Exception:
        return None
