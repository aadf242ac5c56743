"""psycopg 3 (sync and async) and SQLAlchemy engines on a real throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import raceway.db
from tests.db_recording import RecordingTracer
from tests.db_servers import postgres_cluster

psycopg = pytest.importorskip("psycopg")
sqlalchemy = pytest.importorskip("sqlalchemy")

DIGEST_42 = "73eb651a20385a68"
DIGEST_1 = "f162c67c130a86a1"
DIGEST_MUG = "f1eee0a2f9cb6c94"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def table(pg_url: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS products")
        setup.execute("CREATE TABLE products (id INT PRIMARY KEY, name TEXT, stock INT)")
        setup.execute("INSERT INTO products VALUES (1, 'mug', 42)")
    return pg_url


@pytest.fixture
def rec() -> RecordingTracer:
    return RecordingTracer()


def test_psycopg_statements_parameters_rows_and_implicit_transaction(
    rec: RecordingTracer, table: str
) -> None:
    conn = raceway.db.instrument(psycopg.connect(table))
    with rec.trace():
        row = conn.execute("SELECT name, stock FROM products WHERE id = %s", (1,)).fetchone()
        conn.execute(
            "UPDATE products SET stock = %(stock)s WHERE id = %(id)s", {"stock": 41, "id": 1}
        )
        conn.commit()
    conn.close()
    assert row == ("mug", 42)
    queries = rec.queries()
    cid = queries[0]["connection"]
    assert cid.startswith("psycopg#")
    assert {q["connection"] for q in queries} == {cid}
    assert [q["statement"] for q in queries] == [
        "BEGIN",  # psycopg began a transaction before the first statement
        "SELECT name, stock FROM products WHERE id = %s",
        "UPDATE products SET stock = %(stock)s WHERE id = %(id)s",
        "COMMIT",
    ]
    select, update = queries[1], queries[2]
    assert select["system"] == "postgresql"
    assert select["database"] == "postgres"
    assert select["params"] == [{"digest": DIGEST_1}]
    assert select["returned"] == [{"name": DIGEST_MUG, "stock": DIGEST_42}]
    assert select["rows"] == 1
    assert update["params"] == [
        {"digest": raceway.db.param_digest(41), "name": "stock"},
        {"digest": DIGEST_1, "name": "id"},
    ]
    assert update["rows"] == 1


def test_psycopg_error_is_its_sqlstate_and_raised_unchanged(
    rec: RecordingTracer, table: str
) -> None:
    conn = raceway.db.instrument(psycopg.connect(table))
    with rec.trace():
        with pytest.raises(psycopg.errors.UniqueViolation) as caught:
            conn.execute("INSERT INTO products VALUES (%s, %s, %s)", (1, "again", 1))
        conn.rollback()
    conn.close()
    insert = next(q for q in rec.queries() if q["statement"].startswith("INSERT"))
    assert insert["error"] == {"type": "23505", "message": str(caught.value)}
    assert rec.statements()[-1] == "ROLLBACK"


def failing_block(conn: Any) -> None:
    with conn.transaction():
        conn.execute("UPDATE products SET stock = 3")
        raise ZeroDivisionError


def test_psycopg_isolation_level_and_transaction_blocks(rec: RecordingTracer, table: str) -> None:
    conn = raceway.db.instrument(psycopg.connect(table, autocommit=True))
    with rec.trace():
        conn.execute("UPDATE products SET stock = 1")  # autocommit: no transaction
        conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        with conn.transaction():
            conn.execute("SELECT stock FROM products WHERE id = %s", (1,))
            with conn.transaction():
                conn.execute("UPDATE products SET stock = 2")
            with pytest.raises(ZeroDivisionError):
                failing_block(conn)
    assert conn.execute("SELECT stock FROM products").fetchone() == (2,)
    conn.close()
    assert rec.statements() == [
        "UPDATE products SET stock = 1",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "SELECT stock FROM products WHERE id = %s",
        'SAVEPOINT "_pg3_2"',
        "UPDATE products SET stock = 2",
        'RELEASE SAVEPOINT "_pg3_2"',
        'SAVEPOINT "_pg3_2"',
        "UPDATE products SET stock = 3",
        'ROLLBACK TO SAVEPOINT "_pg3_2"',
        "COMMIT",
    ]


def test_psycopg_capture_off_and_outside_a_context(table: str) -> None:
    rec = RecordingTracer(capture_queries=False)
    conn = raceway.db.instrument(psycopg.connect(table))
    with rec.trace():
        conn.execute("SELECT 1")
        conn.commit()
    conn.execute("SELECT 1")  # outside a context
    conn.commit()
    conn.close()
    assert rec.transport.events == []


def test_psycopg_async_connection(rec: RecordingTracer, table: str) -> None:
    async def run() -> Any:
        conn = raceway.db.instrument(await psycopg.AsyncConnection.connect(table))
        with rec.trace():
            cursor = await conn.execute("SELECT stock FROM products WHERE id = %s", (1,))
            rows = [row async for row in cursor]
            async with conn.cursor() as cur:
                await cur.execute("UPDATE products SET stock = %s WHERE id = %s", (41, 1))
            await conn.commit()
            with pytest.raises(psycopg.errors.UndefinedTable):
                await conn.execute("SELECT * FROM nowhere")
            await conn.rollback()
            async with conn.transaction():
                await conn.execute("SELECT 1")
        await conn.close()
        return rows

    rows = asyncio.run(run())
    assert rows == [(42,)]
    queries = rec.queries()
    assert [q["statement"] for q in queries] == [
        "BEGIN",
        "SELECT stock FROM products WHERE id = %s",
        "UPDATE products SET stock = %s WHERE id = %s",
        "COMMIT",
        "BEGIN",
        "SELECT * FROM nowhere",
        "ROLLBACK",
        "BEGIN",
        "SELECT 1",
        "COMMIT",
    ]
    assert queries[1]["returned"] == [{"stock": DIGEST_42}]
    assert queries[5]["error"]["type"] == "42P01"
    assert len({q["connection"] for q in queries}) == 1


def _sqlalchemy_url(pg_url: str) -> str:
    return pg_url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_sqlalchemy_engine_keeps_a_pooled_connection_id(rec: RecordingTracer, table: str) -> None:
    engine = raceway.db.instrument_engine(
        sqlalchemy.create_engine(_sqlalchemy_url(table), pool_size=1, max_overflow=0)
    )
    text = sqlalchemy.text
    with rec.trace():
        with engine.begin() as conn:
            stock = conn.execute(
                text("SELECT stock FROM products WHERE id = :id"), {"id": 1}
            ).scalar()
            conn.execute(
                text("UPDATE products SET stock = :s WHERE id = :id"), {"s": stock - 1, "id": 1}
            )
            savepoint = conn.begin_nested()
            conn.execute(text("UPDATE products SET stock = 0 WHERE id = 1"))
            savepoint.rollback()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT stock FROM products WHERE id = 1")).scalar() == 41
    engine.dispose()
    queries = [
        q
        for q in rec.queries()
        if "pg_catalog" not in q["statement"]
        and not q["statement"].startswith(("select pg_", "show ", "select current_schema"))
    ]
    statements = [q["statement"] for q in queries]
    assert statements[statements.index("BEGIN") :] == [
        "BEGIN",
        "SELECT stock FROM products WHERE id = %(id)s",
        "UPDATE products SET stock = %(s)s WHERE id = %(id)s",
        "SAVEPOINT sa_savepoint_1",
        "UPDATE products SET stock = 0 WHERE id = 1",
        "ROLLBACK TO SAVEPOINT sa_savepoint_1",
        "COMMIT",
        "BEGIN",
        "SELECT stock FROM products WHERE id = 1",
        "ROLLBACK",  # SQLAlchemy ends a connection's transaction when it goes back to the pool
    ]
    select = queries[statements.index("BEGIN") + 1]
    assert select["params"] == [{"digest": DIGEST_1, "name": "id"}]
    assert select["returned"] == [{"stock": DIGEST_42}]
    # One pooled connection: one id for all of it.
    assert len({q["connection"] for q in queries}) == 1


def test_sqlalchemy_over_instrumented_connections_records_once(
    rec: RecordingTracer, table: str
) -> None:
    engine = raceway.db.instrument_engine(
        sqlalchemy.create_engine(
            "postgresql+psycopg://",
            creator=lambda: raceway.db.instrument(psycopg.connect(table)),
        )
    )
    with engine.connect() as conn:  # the dialect's first queries, outside any context
        pass
    with rec.trace(), engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE products SET stock = 7 WHERE id = 1"))
    engine.dispose()
    assert rec.statements() == [
        "BEGIN",
        "UPDATE products SET stock = 7 WHERE id = 1",
        "COMMIT",
    ]


def test_sqlalchemy_async_engine(rec: RecordingTracer, table: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    async def run() -> None:
        engine = raceway.db.instrument_engine(create_async_engine(_sqlalchemy_url(table)))
        async with engine.connect() as conn:  # the dialect's first queries
            pass
        with rec.trace():
            async with engine.begin() as conn:
                await conn.execute(sqlalchemy.text("UPDATE products SET stock = 5 WHERE id = 1"))
        await engine.dispose()

    asyncio.run(run())
    assert rec.statements() == [
        "BEGIN",
        "UPDATE products SET stock = 5 WHERE id = 1",
        "COMMIT",
    ]
    assert rec.queries()[1]["rows"] == 1
