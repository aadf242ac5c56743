// Package racewaysql reports the statements of a database/sql connection pool to Raceway: each
// statement becomes a db_query event (spec 4.3) in the Raceway context of the ctx it was sent
// with (the context the middleware put in the request's context), with its parameters as
// digests, the rows it returned or affected, and the transactions' BEGIN, COMMIT and ROLLBACK on
// the connection they ran on, so that the collector finds lost updates from SQL alone.
//
// Open the pool through it once, and pass the request's context to every call:
//
//	db, err := racewaysql.Open("pgx", os.Getenv("DATABASE_URL"))
//	...
//	err = db.QueryRowContext(r.Context(), "SELECT stock FROM products WHERE id = $1", id).Scan(&stock)
//
// Calls without a context (db.Query, tx.Exec) and calls outside traced work are not recorded.
// It wraps the driver (pgx's stdlib, modernc.org/sqlite, github.com/mattn/go-sqlite3,
// go-sql-driver/mysql, lib/pq, or any other with WithSystem): what the driver does is
// unchanged, and recording never fails or changes a statement.
package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// An Option configures a wrapped driver.
type Option func(*settings)

// WithSystem names the database system (raceway.SystemPostgreSQL, SystemMySQL or
// SystemSQLite) of a driver racewaysql does not recognise.
func WithSystem(system string) Option { return func(s *settings) { s.system = system } }

// WithConnectionPrefix sets the prefix of the connection ids (`pgx` gives `pgx#1`, `pgx#2`, ...).
// Default: the driver's short name, else the system.
func WithConnectionPrefix(prefix string) Option { return func(s *settings) { s.prefix = prefix } }

// WithDatabase names the database in the events. Default: the name the connection uses
// (pgx, go-sql-driver/mysql) or the SQLite file of the DSN. Services that share a database
// name it alike, so that the collector sees their serialised transactions as one database's.
func WithDatabase(name string) Option { return func(s *settings) { s.database = name } }

type settings struct {
	system, prefix, database string
	// sqliteBegin is what a SQLite driver runs for BeginTx: BEGIN, or BEGIN IMMEDIATE with
	// modernc.org/sqlite's _txlock=immediate.
	sqliteBegin string
}

// knownDrivers maps a driver's package to its system and connection-id prefix.
var knownDrivers = []struct{ pkg, system, prefix string }{
	{"github.com/jackc/pgx/", raceway.SystemPostgreSQL, "pgx"},
	{"github.com/lib/pq", raceway.SystemPostgreSQL, "pq"},
	{"modernc.org/sqlite", raceway.SystemSQLite, "sqlite"},
	{"github.com/glebarez/go-sqlite", raceway.SystemSQLite, "sqlite"},
	{"github.com/mattn/go-sqlite3", raceway.SystemSQLite, "sqlite3"},
	{"github.com/ncruces/go-sqlite3", raceway.SystemSQLite, "sqlite3"},
	{"github.com/go-sql-driver/mysql", raceway.SystemMySQL, "mysql"},
}

func newSettings(d any, opts []Option) (*settings, error) {
	s := &settings{}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	t := reflect.TypeOf(d)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		for _, k := range knownDrivers {
			if strings.HasPrefix(t.PkgPath(), k.pkg) {
				if s.system == "" {
					s.system = k.system
				}
				if s.prefix == "" && s.system == k.system {
					s.prefix = k.prefix
				}
				break
			}
		}
	}
	switch s.system {
	case raceway.SystemPostgreSQL, raceway.SystemMySQL, raceway.SystemSQLite:
	case "":
		return nil, fmt.Errorf("racewaysql: unknown database system of driver %T: pass racewaysql.WithSystem", d)
	default:
		return nil, fmt.Errorf("racewaysql: system %q is none of postgresql, mysql, sqlite", s.system)
	}
	if s.prefix == "" {
		s.prefix = s.system
	}
	s.sqliteBegin = "BEGIN"
	return s, nil
}

// withDSN is s for connections opened with dsn: a SQLite DSN names the database file and
// sets the begin mode.
func (s *settings) withDSN(dsn string) *settings {
	if s.system != raceway.SystemSQLite {
		return s
	}
	copied := *s
	if copied.database == "" {
		copied.database = sqliteDatabase(dsn)
	}
	_, query, ok := strings.Cut(dsn, "?")
	if !ok {
		return &copied
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return &copied
	}
	if mode := strings.ToUpper(strings.TrimSpace(values.Get("_txlock"))); mode == "IMMEDIATE" || mode == "EXCLUSIVE" {
		copied.sqliteBegin = "BEGIN " + mode
	}
	return &copied
}

// Open opens a pool like sql.Open(driverName, dsn), with every statement reported: the driver
// registered under driverName, wrapped.
func Open(driverName, dsn string, opts ...Option) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	d := db.Driver()
	_ = db.Close() // it never connected
	wrapped, err := wrapDriver(d, opts)
	if err != nil {
		return nil, err
	}
	connector, err := wrapped.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// OpenDB opens a pool like sql.OpenDB(c), with every statement reported.
func OpenDB(c driver.Connector, opts ...Option) (*sql.DB, error) {
	wrapped, err := WrapConnector(c, opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(wrapped), nil
}

// WrapConnector wraps a connector: the connections it makes report their statements.
func WrapConnector(c driver.Connector, opts ...Option) (driver.Connector, error) {
	s, err := newSettings(c.Driver(), opts)
	if err != nil {
		return nil, err
	}
	return &connector{c: c, d: &wrappedDriver{d: c.Driver(), s: s}, s: s}, nil
}

// WrapDriver wraps a driver, for sql.Register or a library that takes a driver.Driver: the
// connections it opens report their statements.
func WrapDriver(d driver.Driver, opts ...Option) (driver.Driver, error) {
	return wrapDriver(d, opts)
}

func wrapDriver(d driver.Driver, opts []Option) (*wrappedDriver, error) {
	s, err := newSettings(d, opts)
	if err != nil {
		return nil, err
	}
	return &wrappedDriver{d: d, s: s}, nil
}

type wrappedDriver struct {
	d driver.Driver
	s *settings
}

func (w *wrappedDriver) Open(name string) (driver.Conn, error) {
	c, err := w.d.Open(name)
	if err != nil {
		return nil, err
	}
	return newConn(c, w.s.withDSN(name)), nil
}

// OpenConnector uses the driver's own connector when it has one (pgx parses the DSN once
// there), else opens each connection with the DSN as database/sql does.
func (w *wrappedDriver) OpenConnector(name string) (driver.Connector, error) {
	s := w.s.withDSN(name)
	if dc, ok := w.d.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(name)
		if err != nil {
			return nil, err
		}
		return &connector{c: c, d: w, s: s}, nil
	}
	return &connector{c: dsnConnector{dsn: name, d: w.d}, d: w, s: s}, nil
}

// dsnConnector is database/sql's own connector for drivers without DriverContext.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

type connector struct {
	c driver.Connector
	d *wrappedDriver
	s *settings
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(conn, c.s), nil
}

func (c *connector) Driver() driver.Driver { return c.d }

// Close closes the wrapped connector when it has a Close (sql.DB.Close calls it).
func (c *connector) Close() error {
	if closer, ok := c.c.(io.Closer); ok {
		return closer.Close()
	}
	return nil
}

// errSkipped: a driver that answered driver.ErrSkip did not run the statement; database/sql
// runs it another way (prepared), which is recorded then.
func errSkipped(err error) bool { return errors.Is(err, driver.ErrSkip) }
