"""The `db_query` event (spec 4.3): one statement, recorded when the driver answers, in the
context that sent it. Every driver instrumentation of `raceway.db` goes through `start_query`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from raceway.context import ExecutionContext, current_context
from raceway.db.param_digest import DEFAULT_DIGEST_KEY, param_digest, raw_value

DbSystem = Literal["postgresql", "mysql", "sqlite"]

MAX_STATEMENT_LENGTH = 4096
MAX_PARAMS = 1000
MAX_ROWS = 10
MAX_COLUMNS = 32
_MAX_PARAM_NAME = 128
_MAX_CONNECTION = 128
_MAX_DATABASE = 256
_MAX_ERROR_TYPE = 256
_MAX_ERROR_MESSAGE = 2048


@dataclass(frozen=True)
class QueryCapture:
    """What a tracer records of database statements (`capture_queries`, `capture_values`,
    `digest_key`)."""

    enabled: bool = True
    values: bool = False
    digest_key: str = DEFAULT_DIGEST_KEY


def query_context() -> ExecutionContext | None:
    """The context a statement sent now is recorded in: the current one when it is sampled and
    its tracer captures queries; None otherwise (then an instrumentation does nothing more)."""
    try:
        ctx = current_context()
        if ctx is None or not ctx.sampled or ctx.owner.disabled:
            return None
        capture = getattr(ctx.owner, "query_capture", None)
        return ctx if isinstance(capture, QueryCapture) and capture.enabled else None
    except Exception:
        return None


class QueryInFlight:
    """A statement sent and not answered yet: `end` records it, once, in the context that sent
    it. Made by `start_query`."""

    __slots__ = (
        "_connection",
        "_database",
        "_ended",
        "_named",
        "_params",
        "_started",
        "_statement",
        "_system",
        "context",
    )

    def __init__(
        self,
        context: ExecutionContext,
        system: DbSystem,
        statement: str,
        *,
        connection: str,
        params: object,
        database: str | None,
    ) -> None:
        self.context = context
        self._system = system
        self._statement = statement
        self._connection = connection
        self._params = params
        self._database = database
        self._ended = False
        self._started = time.perf_counter()

    def end(
        self,
        *,
        rows: int | None = None,
        returned: Sequence[object] | None = None,
        columns: Sequence[str] | None = None,
        error: BaseException | None = None,
        error_type: str | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """Records the `db_query` event, the first time only. Never raises."""
        if self._ended:
            return
        self._ended = True
        try:
            if duration_ms is None:
                duration_ms = (time.perf_counter() - self._started) * 1000
            self._record(
                rows=rows,
                returned=returned,
                columns=columns,
                error=error,
                error_type=error_type,
                duration_ms=duration_ms,
            )
        except Exception:
            pass  # recording is best effort: never into the application

    def _record(
        self,
        *,
        rows: int | None,
        returned: Sequence[object] | None,
        columns: Sequence[str] | None,
        error: BaseException | None,
        error_type: str | None,
        duration_ms: float,
    ) -> None:
        capture: QueryCapture = getattr(self.context.owner, "query_capture", QueryCapture())
        statement = self._statement
        data: dict[str, Any] = {
            "system": self._system,
            "statement": statement[:MAX_STATEMENT_LENGTH],
            "connection": (self._connection or "unknown")[:_MAX_CONNECTION],
            "duration_ms": round(max(duration_ms, 0.0), 3),
        }
        if len(statement) > MAX_STATEMENT_LENGTH:
            data["statement_truncated"] = True
        params = _digest_params(self._params, capture)
        if params is not None:
            data["params"] = params
        if self._database:
            data["database"] = self._database[:_MAX_DATABASE]
        data["rows"] = (
            rows if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0 else None
        )
        if returned is not None:
            data["returned"] = _digest_rows(returned, columns, capture.digest_key)
        if error is not None:
            data["error"] = {
                "type": (error_type or type(error).__name__)[:_MAX_ERROR_TYPE],
                "message": str(error)[:_MAX_ERROR_MESSAGE],
            }
        self.context.record("db_query", data)


def start_query(
    system: DbSystem,
    statement: str,
    connection: str,
    *,
    params: object = None,
    database: str | None = None,
    context: ExecutionContext | None = None,
) -> QueryInFlight | None:
    """Call when a statement is sent; `end` the result when the driver answers. None (nothing
    to do) outside a sampled context, with a disabled tracer or `capture_queries` off. `params`
    is a sequence (positional) or a mapping (named: `%(id)s`, `:id`). Never raises."""
    try:
        ctx = context if context is not None else query_context()
        if ctx is None or not isinstance(statement, str) or not statement:
            return None
        return QueryInFlight(
            ctx, system, statement, connection=connection, params=params, database=database
        )
    except Exception:
        return None


def _digest_params(params: object, capture: QueryCapture) -> list[dict[str, Any]] | None:
    if params is None:
        return None
    out: list[dict[str, Any]] = []
    key = capture.digest_key

    def add(value: object, name: str | None = None) -> None:
        param: dict[str, Any] = {"digest": param_digest(value, key)}
        if name is not None:
            param["name"] = name[:_MAX_PARAM_NAME]
        if capture.values:
            param["value"] = raw_value(value)
        out.append(param)

    if type(params) is tuple or type(params) is list:  # the usual case, without ABC checks
        for value in params[:MAX_PARAMS]:
            add(value)
    elif isinstance(params, Mapping):
        for name, value in params.items():
            if len(out) == MAX_PARAMS:
                break
            add(value, str(name))
    elif isinstance(params, Iterable) and not isinstance(params, (str, bytes, bytearray)):
        for value in params:
            if len(out) == MAX_PARAMS:
                break
            add(value)
    else:
        add(params)  # a driver that takes one bare parameter
    return out


def _digest_rows(
    rows: Sequence[object], columns: Sequence[str] | None, key: str
) -> list[dict[str, str]]:
    digested: list[dict[str, str]] = []
    for row in rows[:MAX_ROWS]:
        out: dict[str, str] = {}
        if type(row) is tuple:
            names = columns or ()
            pairs: Iterable[tuple[object, object]] = (
                (names[i] if i < len(names) else str(i), v) for i, v in enumerate(row)
            )
        elif isinstance(row, Mapping):
            pairs = row.items()
        elif isinstance(row, Sequence) and not isinstance(row, (str, bytes, bytearray)):
            names = columns or ()
            pairs = ((names[i] if i < len(names) else str(i), v) for i, v in enumerate(row))
        else:
            pairs = (((columns or ("value",))[0], row),)
        for column, value in pairs:
            if len(out) == MAX_COLUMNS:
                break
            out.setdefault(str(column), param_digest(value, key))
        digested.append(out)
    return digested
