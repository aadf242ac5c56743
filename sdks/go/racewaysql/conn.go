package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// conn is one physical driver connection and its id, kept for its life in the pool. It
// implements every optional interface database/sql looks for, each falling back to what
// database/sql does when the wrapped connection lacks it, so that nothing the driver can do
// is hidden.
type conn struct {
	c        driver.Conn
	id       string
	s        *settings
	database string
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

func newConn(c driver.Conn, s *settings) *conn {
	database := s.database
	if database == "" {
		database = connDatabase(c, s.system)
	}
	return &conn{c: c, id: raceway.NewConnectionID(s.prefix), s: s, database: database}
}

// Unwrap is the driver's own connection, for sql.Conn.Raw callers that need it:
//
//	conn.Raw(func(dc any) error {
//		if u, ok := dc.(interface{ Unwrap() driver.Conn }); ok {
//			dc = u.Unwrap()
//		}
//		...
//	})
func (c *conn) Unwrap() driver.Conn { return c.c }

// ConnectionID is the id of this connection in db_query events (`pgx#3`).
func (c *conn) ConnectionID() string { return c.id }

// start begins recording a statement sent with ctx, and its parameters (positional first,
// then named); nil when nothing is recorded.
func (c *conn) start(ctx context.Context, statement string, args []driver.NamedValue) *raceway.QueryInFlight {
	q := raceway.StartQuery(ctx, raceway.Query{
		System: c.s.system, Statement: statement, Connection: c.id, Database: c.database,
	})
	if q == nil {
		return nil
	}
	for _, a := range args {
		if a.Name == "" {
			q.AddParam("", a.Value)
		}
	}
	for _, a := range args {
		if a.Name != "" {
			q.AddParam(a.Name, a.Value)
		}
	}
	return q
}

// around records the statements the driver runs for a method call (BEGIN, COMMIT) around it.
func (c *conn) around(ctx context.Context, statements []string, call func() error) error {
	if !raceway.QueryCapture(ctx) {
		return call()
	}
	started := make([]*raceway.QueryInFlight, len(statements))
	for i, statement := range statements {
		started[i] = c.start(ctx, statement, nil)
	}
	err := call()
	for _, q := range started {
		q.End(-1, err, errorType(err))
	}
	return err
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if cp, ok := c.c.(driver.ConnPrepareContext); ok {
		s, err = cp.PrepareContext(ctx, query)
	} else {
		s, err = c.c.Prepare(query)
		if err == nil && ctx.Err() != nil {
			_ = s.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return &stmt{s: s, conn: c, query: query}, nil
}

func (c *conn) Close() error { return c.c.Close() }

// Begin is database/sql's pre-context API; database/sql calls BeginTx.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var t driver.Tx
	err := c.around(ctx, c.beginStatements(opts), func() (err error) {
		if cb, ok := c.c.(driver.ConnBeginTx); ok {
			t, err = cb.BeginTx(ctx, opts)
		} else {
			t, err = c.beginWithoutContext(ctx, opts)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &tx{t: t, conn: c, ctx: ctx}, nil
}

// beginWithoutContext is what database/sql does for a driver without ConnBeginTx.
func (c *conn) beginWithoutContext(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if sql.IsolationLevel(opts.Isolation) != sql.LevelDefault {
		return nil, errors.New("sql: driver does not support non-default isolation level")
	}
	if opts.ReadOnly {
		return nil, errors.New("sql: driver does not support read-only transactions")
	}
	//lint:ignore SA1019 the driver has no BeginTx: Begin is all there is
	t, err := c.c.Begin()
	if err == nil && ctx.Err() != nil {
		_ = t.Rollback()
		return nil, ctx.Err()
	}
	return t, err
}

// beginStatements are the statements the driver runs for BeginTx, as the collector follows
// transactions by them.
func (c *conn) beginStatements(opts driver.TxOptions) []string {
	level := isolationLevel(sql.IsolationLevel(opts.Isolation))
	switch c.s.system {
	case raceway.SystemPostgreSQL:
		statement := "BEGIN"
		if level != "" {
			statement += " ISOLATION LEVEL " + level
		}
		if opts.ReadOnly {
			statement += " READ ONLY"
		}
		return []string{statement}
	case raceway.SystemMySQL:
		begin := "START TRANSACTION"
		if opts.ReadOnly {
			begin += " READ ONLY"
		}
		if level != "" {
			return []string{"SET TRANSACTION ISOLATION LEVEL " + level, begin}
		}
		return []string{begin}
	}
	if opts.ReadOnly {
		return []string{"BEGIN"}
	}
	return []string{c.s.sqliteBegin}
}

func isolationLevel(level sql.IsolationLevel) string {
	switch level {
	case sql.LevelReadUncommitted:
		return "READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		return "READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		return "REPEATABLE READ"
	case sql.LevelSerializable, sql.LevelLinearizable:
		return "SERIALIZABLE"
	}
	return ""
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q := c.start(ctx, query, args)
	res, err := c.exec(ctx, query, args)
	if q != nil && !errSkipped(err) {
		q.End(rowsAffected(res, err), err, errorType(err))
	}
	return res, err
}

func (c *conn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if ec, ok := c.c.(driver.ExecerContext); ok {
		return ec.ExecContext(ctx, query, args)
	}
	//lint:ignore SA1019 a driver without ExecerContext may still have Execer, as database/sql knows
	if e, ok := c.c.(driver.Execer); ok {
		values, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return e.Exec(query, values)
	}
	return nil, driver.ErrSkip
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q := c.start(ctx, query, args)
	rows, err := c.query(ctx, query, args)
	if q == nil || errSkipped(err) {
		return rows, err
	}
	if err != nil {
		q.End(-1, err, errorType(err))
		return rows, err
	}
	return wrapRows(rows, q), nil
}

func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if qc, ok := c.c.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, query, args)
	}
	//lint:ignore SA1019 a driver without QueryerContext may still have Queryer, as database/sql knows
	if qr, ok := c.c.(driver.Queryer); ok {
		values, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return qr.Query(query, values)
	}
	return nil, driver.ErrSkip
}

// CheckNamedValue is the driver's own check (pgx takes its types as they are); ErrSkip lets
// database/sql convert as it does for drivers without one.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if checker, ok := c.c.(driver.NamedValueChecker); ok {
		return checker.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// tx records COMMIT and ROLLBACK in the context BeginTx was given: the methods of driver.Tx
// take none, and database/sql ends the transaction with that context.
type tx struct {
	t    driver.Tx
	conn *conn
	ctx  context.Context
}

func (t *tx) Commit() error {
	return t.conn.around(t.ctx, []string{"COMMIT"}, t.t.Commit)
}

func (t *tx) Rollback() error {
	return t.conn.around(t.ctx, []string{"ROLLBACK"}, t.t.Rollback)
}

func rowsAffected(res driver.Result, err error) int64 {
	if err != nil || res == nil {
		return -1
	}
	n, err := res.RowsAffected()
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// namedToValues is database/sql's conversion for pre-context drivers.
func namedToValues(named []driver.NamedValue) ([]driver.Value, error) {
	values := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		values[i] = nv.Value
	}
	return values, nil
}
