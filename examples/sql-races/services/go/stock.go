package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// What the order and inventory services do to a product's row, one function per mode, as
// examples/sql-races/src/stock.mjs does it. `naive` is the docs' code as written; the others are
// the usual fixes, which Raceway recognises from the SQL alone.

// naive is the docs' read-modify-write: two of these at once both read the same stock, and one
// decrement is lost.
func naive(ctx context.Context, db *DB, id int) error {
	var stock int
	if err := db.QueryRow(ctx, "SELECT stock FROM products WHERE id = $1", []any{id}, &stock); err != nil {
		return err
	}
	_, err := db.Exec(ctx, "UPDATE products SET stock = $1 WHERE id = $2", stock-1, id)
	return err
}

// atomic: the database does the arithmetic; nothing read, nothing lost.
func atomic(ctx context.Context, db *DB, id int) error {
	_, err := db.Exec(ctx, "UPDATE products SET stock = stock - 1 WHERE id = $1", id)
	return err
}

// forUpdate locks the row from the read to the commit: SELECT ... FOR UPDATE on PostgreSQL;
// SQLite has no row locks, BEGIN IMMEDIATE takes the database's write lock up front.
func forUpdate(ctx context.Context, db *DB, id int) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin, selectStock := "BEGIN", "SELECT stock FROM products WHERE id = $1 FOR UPDATE"
	if db.sqlite {
		begin, selectStock = "BEGIN IMMEDIATE", "SELECT stock FROM products WHERE id = $1"
	}
	if _, err := conn.Exec(ctx, begin); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.Exec(ctx, "ROLLBACK")
		}
	}()
	var stock int
	if err := conn.QueryRow(ctx, selectStock, []any{id}, &stock); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "UPDATE products SET stock = $1 WHERE id = $2", stock-1, id); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "COMMIT")
	return err
}

// version is a compare-and-set on a version column: the write applies only if nobody wrote
// since the read; otherwise read again.
func version(ctx context.Context, db *DB, id int) (int, error) {
	for attempt := 0; attempt < 20; attempt++ {
		var stock, v int
		if err := db.QueryRow(ctx, "SELECT stock, version FROM products WHERE id = $1", []any{id}, &stock, &v); err != nil {
			return attempt, err
		}
		n, err := db.Exec(ctx, "UPDATE products SET stock = $1, version = $2 WHERE id = $3 AND version = $4", stock-1, v+1, id, v)
		if err != nil {
			return attempt, err
		}
		if n == 1 {
			return attempt, nil
		}
	}
	return 20, fmt.Errorf("product %d: version conflict 20 times in a row", id)
}

// serializable runs the read-modify-write in a serializable transaction, again when the
// database refuses it (PostgreSQL's SQLSTATE 40001). SQLite's transactions are serializable;
// its way to run one that writes without failing at the write is BEGIN IMMEDIATE, again when
// the database stays busy.
func serializable(ctx context.Context, db *DB, id int) (int, error) {
	for attempt := 0; attempt < 20; attempt++ {
		err := serializableOnce(ctx, db, id)
		if err == nil {
			return attempt, nil
		}
		if !retryable(err) {
			return attempt, err
		}
	}
	return 20, fmt.Errorf("product %d: serialization failure 20 times in a row", id)
}

func serializableOnce(ctx context.Context, db *DB, id int) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin := "BEGIN ISOLATION LEVEL SERIALIZABLE"
	if db.sqlite {
		begin = "BEGIN IMMEDIATE"
	}
	if _, err := conn.Exec(ctx, begin); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.Exec(ctx, "ROLLBACK")
		}
	}()
	var stock int
	if err := conn.QueryRow(ctx, "SELECT stock FROM products WHERE id = $1", []any{id}, &stock); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "UPDATE products SET stock = $1 WHERE id = $2", stock-1, id); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "COMMIT")
	return err
}

// retryable: PostgreSQL refused a serializable transaction, or SQLite stayed busy.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001"
	}
	var sqliteErr *sqlite.Error
	return errors.As(err, &sqliteErr) && sqliteErr.Code()&0xff == 5 // SQLITE_BUSY
}

// columnDisjoint is the same read-modify-write on a column of its own (`reserved` for the
// inventory, `stock` for the order): the two services touch one row, never the same column.
func columnDisjoint(ctx context.Context, db *DB, id int, column string) error {
	if column == "stock" {
		return naive(ctx, db, id)
	}
	var reserved int
	if err := db.QueryRow(ctx, "SELECT reserved FROM products WHERE id = $1", []any{id}, &reserved); err != nil {
		return err
	}
	_, err := db.Exec(ctx, "UPDATE products SET reserved = $1 WHERE id = $2", reserved+1, id)
	return err
}

// takeOne runs mode against product id and returns how many times it retried; column is the
// column this service owns in the column-disjoint mode.
func takeOne(ctx context.Context, db *DB, mode string, id int, column string) (int, error) {
	switch mode {
	case "naive":
		return 0, naive(ctx, db, id)
	case "atomic":
		return 0, atomic(ctx, db, id)
	case "for-update":
		return 0, forUpdate(ctx, db, id)
	case "version":
		return version(ctx, db, id)
	case "serializable":
		return serializable(ctx, db, id)
	case "column-disjoint":
		return 0, columnDisjoint(ctx, db, id, column)
	}
	return 0, fmt.Errorf("unknown mode %q", mode)
}
