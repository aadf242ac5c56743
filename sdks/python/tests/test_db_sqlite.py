"""sqlite3 connections wrapped by `raceway.db.instrument`, on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import raceway.db
from raceway.db import connection_id, param_digest
from tests.db_recording import RecordingTracer

# From spec/vectors/param-digest.json: the digests every SDK gives 42, 1 and "mug".
DIGEST_42 = "73eb651a20385a68"
DIGEST_1 = "f162c67c130a86a1"
DIGEST_MUG = "f1eee0a2f9cb6c94"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, stock INTEGER)")
    setup.execute("INSERT INTO products VALUES (1, 'mug', 42)")
    setup.commit()
    setup.close()
    return path


@pytest.fixture
def rec() -> RecordingTracer:
    return RecordingTracer()


@pytest.fixture
def conn(db_file: Path) -> Iterator[Any]:
    wrapped = raceway.db.instrument(sqlite3.connect(db_file))
    yield wrapped
    wrapped.close()


def test_parameters_are_the_vectors_digests_and_values_stay_home(
    rec: RecordingTracer, conn: Any
) -> None:
    with rec.trace():
        row = conn.execute("SELECT name, stock FROM products WHERE id = ?", (1,)).fetchone()
    assert row == ("mug", 42)
    [query] = rec.queries()
    assert query["system"] == "sqlite"
    assert query["statement"] == "SELECT name, stock FROM products WHERE id = ?"
    assert query["params"] == [{"digest": DIGEST_1}]
    assert query["returned"] == [{"name": DIGEST_MUG, "stock": DIGEST_42}]
    assert query["rows"] == 1
    assert query["connection"].startswith("sqlite3#")
    assert query["database"].endswith("shop.db")
    assert "value" not in str(query)


def test_named_parameters_carry_their_names(rec: RecordingTracer, conn: Any) -> None:
    with rec.trace():
        conn.execute(
            "SELECT stock FROM products WHERE id = :id AND name = :name", {"id": 1, "name": "mug"}
        )
    assert rec.queries()[0]["params"] == [
        {"digest": DIGEST_1, "name": "id"},
        {"digest": DIGEST_MUG, "name": "name"},
    ]


def test_raw_values_only_when_switched_on(db_file: Path) -> None:
    rec = RecordingTracer(capture_values=True)
    conn = raceway.db.instrument(sqlite3.connect(db_file))
    with rec.trace():
        conn.execute("SELECT stock FROM products WHERE id = ? AND name = ?", (1, "mug"))
    assert rec.queries()[0]["params"] == [
        {"digest": DIGEST_1, "value": 1},
        {"digest": DIGEST_MUG, "value": "mug"},
    ]


@pytest.mark.parametrize(
    ("options", "env"),
    [({"capture_queries": False}, {}), ({}, {"RACEWAY_DB_CAPTURE": "off"})],
    ids=["option", "env"],
)
def test_capture_off_records_nothing(
    db_file: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rec = RecordingTracer(**options)
    conn = raceway.db.instrument(sqlite3.connect(db_file))
    with rec.trace():
        conn.execute("UPDATE products SET stock = 1 WHERE id = 1")
        conn.commit()
    assert rec.transport.events == []


def test_outside_a_context_nothing_is_recorded(rec: RecordingTracer, conn: Any) -> None:
    conn.execute("UPDATE products SET stock = 1 WHERE id = 1")
    conn.commit()
    assert conn.execute("SELECT stock FROM products").fetchall() == [(1,)]
    assert rec.transport.events == []


def test_an_error_is_recorded_and_raised_unchanged(rec: RecordingTracer, conn: Any) -> None:
    raw = sqlite3.connect(":memory:")
    try:
        raw.execute("SELECT * FROM nowhere")
    except sqlite3.OperationalError as bare:
        expected = (type(bare), str(bare))
    with rec.trace(), pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute("INSERT INTO products VALUES (1, 'again', 1)")
    with rec.trace(), pytest.raises(sqlite3.OperationalError) as missing:
        conn.execute("SELECT * FROM nowhere")
    assert (type(missing.value), str(missing.value)) == expected
    insert = next(q for q in rec.queries() if q["statement"].startswith("INSERT"))
    assert insert["error"] == {
        "type": "SQLITE_CONSTRAINT_PRIMARYKEY",
        "message": str(caught.value),
    }


def test_implicit_transactions_are_recorded_on_the_connection(
    rec: RecordingTracer, db_file: Path
) -> None:
    first = raceway.db.instrument(sqlite3.connect(db_file))
    second = raceway.db.instrument(sqlite3.connect(db_file))
    with rec.trace():
        first.execute("SELECT stock FROM products WHERE id = ?", (1,))
        first.execute("UPDATE products SET stock = ? WHERE id = ?", (41, 1))
        first.commit()
        second.execute("UPDATE products SET stock = stock - 1 WHERE id = 1")
        second.rollback()
        first.commit()  # nothing open: the driver sends nothing, nothing recorded
    recorded = [(q["connection"], q["statement"]) for q in rec.queries()]
    a, b = connection_id(first), connection_id(second)
    assert a != b
    assert recorded == [
        (a, "SELECT stock FROM products WHERE id = ?"),
        (a, "BEGIN"),  # the module began a transaction before the UPDATE
        (a, "UPDATE products SET stock = ? WHERE id = ?"),
        (a, "COMMIT"),
        (b, "BEGIN"),
        (b, "UPDATE products SET stock = stock - 1 WHERE id = 1"),
        (b, "ROLLBACK"),
    ]


def test_begin_immediate_and_savepoints_as_written(rec: RecordingTracer, db_file: Path) -> None:
    conn = raceway.db.instrument(sqlite3.connect(db_file, isolation_level="IMMEDIATE"))
    with rec.trace():
        conn.execute("UPDATE products SET stock = 1")  # the driver sends BEGIN IMMEDIATE
        conn.execute("SAVEPOINT s1")
        conn.execute("UPDATE products SET stock = 2")
        conn.execute("ROLLBACK TO SAVEPOINT s1")
        conn.execute("RELEASE SAVEPOINT s1")
        conn.commit()
        with conn:  # the context manager commits
            conn.execute("UPDATE products SET stock = 3")
        assert not conn.in_transaction
    assert rec.statements() == [
        "BEGIN IMMEDIATE",
        "UPDATE products SET stock = 1",
        "SAVEPOINT s1",
        "UPDATE products SET stock = 2",
        "ROLLBACK TO SAVEPOINT s1",
        "RELEASE SAVEPOINT s1",
        "COMMIT",
        "BEGIN IMMEDIATE",
        "UPDATE products SET stock = 3",
        "COMMIT",
    ]


def test_explicit_begin_in_autocommit_mode(rec: RecordingTracer, db_file: Path) -> None:
    conn = raceway.db.instrument(sqlite3.connect(db_file, isolation_level=None))
    with rec.trace():
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE products SET stock = 1")
        conn.execute("COMMIT")
        conn.execute("UPDATE products SET stock = 2")
    assert rec.statements() == [
        "BEGIN IMMEDIATE",
        "UPDATE products SET stock = 1",
        "COMMIT",
        "UPDATE products SET stock = 2",
    ]


def test_reads_digest_the_first_rows_and_the_app_gets_them_all(
    rec: RecordingTracer, conn: Any
) -> None:
    conn.executemany(
        "INSERT INTO products VALUES (?, ?, ?)", [(i, f"item{i}", i) for i in range(2, 17)]
    )
    conn.commit()
    with rec.trace():
        cursor = conn.cursor()
        cursor.execute("SELECT id FROM products ORDER BY id")
        first = cursor.fetchone()
        some = cursor.fetchmany(3)
        rest = list(cursor)
    assert [first, *some, *rest] == [(i,) for i in range(1, 17)]
    [query] = rec.queries()
    assert query["returned"] == [{"id": param_digest(i)} for i in range(1, 11)]
    assert query["rows"] is None  # more rows than were read ahead, and sqlite3 does not count


def test_executemany_is_one_event_with_the_first_parameters(
    rec: RecordingTracer, conn: Any
) -> None:
    with rec.trace():
        conn.executemany(
            "INSERT INTO products VALUES (?, ?, ?)", iter([(42, "mug", 1), (43, "cup", 2)])
        )
    [begin, query] = rec.queries()
    assert begin["statement"] == "BEGIN"
    assert query["params"] == [{"digest": DIGEST_42}, {"digest": DIGEST_MUG}, {"digest": DIGEST_1}]
    assert query["rows"] == 2
    assert conn.execute("SELECT count(*) FROM products").fetchone() == (3,)


def test_wrapping_twice_is_wrapping_once(db_file: Path) -> None:
    first = raceway.db.instrument(sqlite3.connect(db_file))
    assert raceway.db.instrument(first) is first


def test_a_failing_recorder_never_fails_the_query(
    rec: RecordingTracer, conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("recorder down")

    monkeypatch.setattr(rec.tracer, "emit", broken)
    monkeypatch.setattr("raceway.db.query.param_digest", broken)
    with rec.trace():
        assert conn.execute("SELECT stock FROM products WHERE id = ?", (1,)).fetchall() == [(42,)]
        conn.execute("UPDATE products SET stock = ? WHERE id = ?", (5, 1))
        conn.commit()
    assert conn.execute("SELECT stock FROM products").fetchone() == (5,)


def test_statements_are_cut_at_4096_characters(rec: RecordingTracer, conn: Any) -> None:
    long = "SELECT 1" + " " * 5000
    with rec.trace():
        conn.execute(long)
    [query] = rec.queries()
    assert len(query["statement"]) == 4096
    assert query["statement_truncated"] is True


def test_other_connections_are_refused() -> None:
    with pytest.raises(TypeError, match="not a sqlite3, psycopg or PyMySQL connection"):
        raceway.db.instrument(object())


def test_the_readme_example_runs_as_written(
    rec: RecordingTracer, db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Database queries", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(db_file.parent)  # its "shop.db"
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    with rec.trace():
        namespace["take_one"](1)
    namespace["conn"].close()
    assert rec.statements() == [
        "SELECT stock FROM products WHERE id = ?",
        "BEGIN",
        "UPDATE products SET stock = ? WHERE id = ?",
        "COMMIT",
    ]
    assert rec.queries()[0]["returned"] == [{"stock": DIGEST_42}]
    assert sqlite3.connect(db_file).execute("SELECT stock FROM products").fetchone() == (41,)


def test_sqlalchemy_engine_on_sqlite_records_what_the_driver_ran(
    rec: RecordingTracer, db_file: Path
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = raceway.db.instrument_engine(sqlalchemy.create_engine(f"sqlite:///{db_file}"))
    assert raceway.db.instrument_engine(engine) is engine  # once only: no double events
    text = sqlalchemy.text
    with rec.trace(), engine.begin() as conn:
        stock = conn.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": 1}).scalar()
        conn.execute(
            text("UPDATE products SET stock = :s WHERE id = :id"), {"s": stock - 1, "id": 1}
        )
    engine.dispose()
    queries = rec.queries()
    # sqlite3 begins its transaction before the first write only: the read ran outside it.
    assert [q["statement"] for q in queries] == [
        "SELECT stock FROM products WHERE id = ?",
        "BEGIN",
        "UPDATE products SET stock = ? WHERE id = ?",
        "COMMIT",
    ]
    assert queries[0]["params"] == [{"digest": DIGEST_1}]
    assert "returned" not in queries[0]  # a sqlite3 cursor cannot be read and scrolled back
    assert len({q["connection"] for q in queries}) == 1


def test_sqlalchemy_errors_are_recorded_and_raised_unchanged(
    rec: RecordingTracer, db_file: Path
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = raceway.db.instrument_engine(sqlalchemy.create_engine(f"sqlite:///{db_file}"))
    with (
        rec.trace(),
        engine.connect() as conn,
        pytest.raises(sqlalchemy.exc.IntegrityError) as caught,
    ):
        conn.execute(sqlalchemy.text("INSERT INTO products VALUES (1, 'again', 1)"))
    engine.dispose()
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    insert = next(q for q in rec.queries() if q["statement"].startswith("INSERT"))
    assert insert["error"] == {
        "type": "SQLITE_CONSTRAINT_PRIMARYKEY",
        "message": str(caught.value.orig),
    }
