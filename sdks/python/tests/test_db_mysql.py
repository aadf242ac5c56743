"""PyMySQL connections on a real throwaway MariaDB server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import raceway.db
from raceway.db import connection_id
from tests.db_recording import RecordingTracer
from tests.db_servers import mariadb_server

pymysql = pytest.importorskip("pymysql")

DIGEST_42 = "73eb651a20385a68"
DIGEST_1 = "f162c67c130a86a1"
DIGEST_MUG = "f1eee0a2f9cb6c94"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    with mariadb_server() as address:
        setup = pymysql.connect(host=address[0], port=address[1], user="root", autocommit=True)
        with setup.cursor() as cursor:
            cursor.execute("CREATE DATABASE shop")
        setup.close()
        yield address


@pytest.fixture
def conn(server: tuple[str, int]) -> Iterator[Any]:
    raw = pymysql.connect(host=server[0], port=server[1], user="root", database="shop")
    with raw.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS products")
        cursor.execute("CREATE TABLE products (id INT PRIMARY KEY, name TEXT, stock INT)")
        cursor.execute("INSERT INTO products VALUES (1, 'mug', 42)")
    raw.commit()
    wrapped = raceway.db.instrument(raw)
    yield wrapped
    wrapped.close()


def test_pymysql_statements_transactions_and_errors(conn: Any) -> None:
    rec = RecordingTracer()
    with rec.trace():
        with conn.cursor() as cursor:
            cursor.execute("SELECT name, stock FROM products WHERE id = %s", (1,))
            assert cursor.fetchall() == (("mug", 42),)
            cursor.execute(
                "UPDATE products SET stock = %(stock)s WHERE id = %(id)s", {"stock": 41, "id": 1}
            )
        conn.commit()
        with conn.cursor() as cursor, pytest.raises(pymysql.err.IntegrityError) as caught:
            cursor.execute("INSERT INTO products VALUES (%s, %s, %s)", (1, "again", 1))
        conn.rollback()
    queries = rec.queries()
    assert [q["statement"] for q in queries] == [
        "BEGIN",  # autocommit is off: the server began a transaction with the first statement
        "SELECT name, stock FROM products WHERE id = %s",
        "UPDATE products SET stock = %(stock)s WHERE id = %(id)s",
        "COMMIT",
        "BEGIN",
        "INSERT INTO products VALUES (%s, %s, %s)",
        "ROLLBACK",
    ]
    assert {q["connection"] for q in queries} == {connection_id(conn)}
    select = queries[1]
    assert select["system"] == "mysql"
    assert select["database"] == "shop"
    assert select["params"] == [{"digest": DIGEST_1}]
    assert select["returned"] == [{"name": DIGEST_MUG, "stock": DIGEST_42}]
    assert select["rows"] == 1
    assert queries[2]["params"] == [
        {"digest": raceway.db.param_digest(41), "name": "stock"},
        {"digest": DIGEST_1, "name": "id"},
    ]
    assert queries[5]["error"] == {"type": "ER_DUP_ENTRY", "message": str(caught.value)}


def test_pymysql_autocommit_records_no_transaction(conn: Any) -> None:
    conn.autocommit(True)
    rec = RecordingTracer()
    with rec.trace():
        with conn.cursor() as cursor:
            cursor.execute("UPDATE products SET stock = stock - 1 WHERE id = %s", (1,))
        conn.commit()
    assert rec.statements() == ["UPDATE products SET stock = stock - 1 WHERE id = %s"]
