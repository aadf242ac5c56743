"""What the order and inventory services do to a product's row, one function per mode, as
examples/sql-races/src/stock.mjs does. `naive` is the docs' code as written; the others are the
usual fixes, which Raceway recognises from the SQL alone. DB-API drivers begin a transaction by
themselves before the first statement (psycopg) or the first write (sqlite3); `commit()` ends it.
"""

from __future__ import annotations

import sqlite3

import psycopg
from db import Db

MODES = ("naive", "atomic", "for-update", "version", "serializable", "column-disjoint")


def naive(db: Db, product: int) -> int:
    """The docs' read-modify-write: two of these at once both read the same stock, and one
    decrement is lost."""
    rows, _ = db.query("SELECT stock FROM products WHERE id = %s", (product,))
    db.query("UPDATE products SET stock = %s WHERE id = %s", (rows[0][0] - 1, product))
    db.commit()
    return 0


def atomic(db: Db, product: int) -> int:
    """The database does the arithmetic: nothing read, nothing lost."""
    db.query("UPDATE products SET stock = stock - 1 WHERE id = %s", (product,))
    db.commit()
    return 0


def for_update(db: Db, product: int) -> int:
    """The row is locked from the read to the commit: `SELECT ... FOR UPDATE` on PostgreSQL;
    SQLite has no row locks, `BEGIN IMMEDIATE` takes the database's write lock up front."""
    if db.system == "sqlite":
        db.query("BEGIN IMMEDIATE")
        select = "SELECT stock FROM products WHERE id = %s"
    else:
        select = "SELECT stock FROM products WHERE id = %s FOR UPDATE"
    rows, _ = db.query(select, (product,))
    db.query("UPDATE products SET stock = %s WHERE id = %s", (rows[0][0] - 1, product))
    db.commit()
    return 0


def version(db: Db, product: int) -> int:
    """Compare-and-set on a version column: the write applies only if nobody wrote since the
    read; otherwise read again."""
    for attempt in range(20):
        rows, _ = db.query("SELECT stock, version FROM products WHERE id = %s", (product,))
        stock, seen = rows[0]
        _, changed = db.query(
            "UPDATE products SET stock = %s, version = %s WHERE id = %s AND version = %s",
            (stock - 1, seen + 1, product, seen),
        )
        db.commit()
        if changed == 1:
            return attempt
    raise RuntimeError(f"product {product}: version conflict 20 times in a row")


def serializable(db: Db, product: int) -> int:
    """A serializable transaction, retried when PostgreSQL refuses it (SQLSTATE 40001). SQLite's
    transactions are serializable; `BEGIN IMMEDIATE` runs one that writes without failing at
    the write, retried while the database stays busy."""
    for attempt in range(20):
        try:
            if db.system == "sqlite":
                db.query("BEGIN IMMEDIATE")
            else:
                db.connection.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
            rows, _ = db.query("SELECT stock FROM products WHERE id = %s", (product,))
            db.query("UPDATE products SET stock = %s WHERE id = %s", (rows[0][0] - 1, product))
            db.commit()
            return attempt
        except (psycopg.errors.SerializationFailure, sqlite3.OperationalError) as error:
            db.rollback()
            if isinstance(error, sqlite3.OperationalError) and "locked" not in str(error):
                raise
    raise RuntimeError(f"product {product}: serialization failure 20 times in a row")


def column_disjoint(db: Db, product: int, column: str) -> int:
    """The same read-modify-write on a column of its own (`reserved` for the inventory, `stock`
    for the order): the two services touch one row but never the same column."""
    if column == "stock":
        return naive(db, product)
    rows, _ = db.query("SELECT reserved FROM products WHERE id = %s", (product,))
    db.query("UPDATE products SET reserved = %s WHERE id = %s", (rows[0][0] + 1, product))
    db.commit()
    return 0


def take_one(db: Db, mode: str, product: int, column: str) -> int:
    """Runs `mode` against product `product`; returns how many times it retried."""
    if mode == "naive":
        return naive(db, product)
    if mode == "atomic":
        return atomic(db, product)
    if mode == "for-update":
        return for_update(db, product)
    if mode == "version":
        return version(db, product)
    if mode == "serializable":
        return serializable(db, product)
    if mode == "column-disjoint":
        return column_disjoint(db, product, column)
    raise ValueError(f"unknown mode {mode}")
