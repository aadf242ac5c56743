package main

import (
	"context"
	"database/sql"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// DB is what the services use: QueryRow, Exec and Tx over one *sql.DB opened through
// racewaysql, on PostgreSQL (pgx) or SQLite (modernc.org/sqlite). Nothing here tells Raceway
// anything: the pool reports every statement.
type DB struct {
	sql    *sql.DB
	sqlite bool
}

// Conn is one connection of the pool, for a transaction the statements of which the services
// write themselves (BEGIN IMMEDIATE, SELECT ... FOR UPDATE, COMMIT).
type Conn struct {
	conn   *sql.Conn
	sqlite bool
}

// openDB opens `DATABASE`: a postgres:// URL or `sqlite:<file>`.
func openDB(database string) (*DB, error) {
	if file, ok := strings.CutPrefix(database, "sqlite:"); ok {
		// Two processes share the file: a writer waits for the other's lock instead of failing.
		db, err := racewaysql.Open("sqlite", file+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, err
		}
		return &DB{sql: db, sqlite: true}, nil
	}
	db, err := racewaysql.Open("pgx", database)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return &DB{sql: db}, nil
}

func (db *DB) Close() error { return db.sql.Close() }

func (db *DB) System() string {
	if db.sqlite {
		return "sqlite"
	}
	return "postgresql"
}

// QueryRow runs a SELECT of one row into dest.
func (db *DB) QueryRow(ctx context.Context, text string, args []any, dest ...any) error {
	err := db.sql.QueryRowContext(ctx, placeholders(text, db.sqlite), args...).Scan(dest...)
	afterQuery(text)
	return err
}

// Exec runs a write and returns the rows it affected.
func (db *DB) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	return exec(ctx, db.sql, text, db.sqlite, args)
}

// Conn takes one connection from the pool; Close gives it back.
func (db *DB) Conn(ctx context.Context) (*Conn, error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: conn, sqlite: db.sqlite}, nil
}

func (c *Conn) QueryRow(ctx context.Context, text string, args []any, dest ...any) error {
	err := c.conn.QueryRowContext(ctx, placeholders(text, c.sqlite), args...).Scan(dest...)
	afterQuery(text)
	return err
}

func (c *Conn) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	return exec(ctx, c.conn, text, c.sqlite, args)
}

func (c *Conn) Close() error { return c.conn.Close() }

func exec(ctx context.Context, on interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, text string, sqlite bool, args []any) (int64, error) {
	res, err := on.ExecContext(ctx, placeholders(text, sqlite), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

var numbered = regexp.MustCompile(`\$\d+`)

// placeholders: the statements are written with $1, $2... in order; SQLite's are `?` (the SQL
// the driver reports is SQLite's).
func placeholders(text string, sqlite bool) string {
	if !sqlite {
		return text
	}
	return numbered.ReplaceAllString(text, "?")
}

// Test-only: RACE_PAUSE_MS holds each service for that long after a SELECT, so that two
// concurrent read-modify-writes both read before either writes, every time. It is here, in the
// adapter, so that the services' code stays the docs' code. Unset in a real deployment.
var pause = func() time.Duration {
	ms, _ := strconv.Atoi(os.Getenv("RACE_PAUSE_MS"))
	return time.Duration(ms) * time.Millisecond
}()

func afterQuery(text string) {
	if pause > 0 && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "SELECT") {
		time.Sleep(pause)
	}
}
