package racewaysql

import (
	"context"
	"database/sql/driver"
)

// stmt is a prepared statement: each execution is recorded with its own parameters, in the
// context it was executed with.
type stmt struct {
	s     driver.Stmt
	conn  *conn
	query string
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.s.Close() }
func (s *stmt) NumInput() int { return s.s.NumInput() }

// Exec is database/sql's pre-context API; database/sql calls ExecContext.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

// Query is database/sql's pre-context API; database/sql calls QueryContext.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	q := s.conn.start(ctx, s.query, args)
	res, err := s.exec(ctx, args)
	if q != nil {
		q.End(rowsAffected(res, err), err, errorType(err))
	}
	return res, err
}

func (s *stmt) exec(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if se, ok := s.s.(driver.StmtExecContext); ok {
		return se.ExecContext(ctx, args)
	}
	values, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the statement has no ExecContext: Exec is all there is
	return s.s.Exec(values)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q := s.conn.start(ctx, s.query, args)
	rows, err := s.runQuery(ctx, args)
	if q == nil {
		return rows, err
	}
	if err != nil {
		q.End(-1, err, errorType(err))
		return rows, err
	}
	return wrapRows(rows, q), nil
}

func (s *stmt) runQuery(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if sq, ok := s.s.(driver.StmtQueryContext); ok {
		return sq.QueryContext(ctx, args)
	}
	values, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the statement has no QueryContext: Query is all there is
	return s.s.Query(values)
}

// CheckNamedValue does what database/sql does with the wrapped statement and connection: the
// statement's checker, else the connection's, then the statement's column converter (MySQL's),
// else database/sql's default conversion (ErrSkip).
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if checker, ok := s.s.(driver.NamedValueChecker); ok {
		return checker.CheckNamedValue(nv)
	}
	if checker, ok := s.conn.c.(driver.NamedValueChecker); ok {
		if err := checker.CheckNamedValue(nv); err != driver.ErrSkip {
			return err
		}
	}
	//lint:ignore SA1019 drivers still implement ColumnConverter (go-sql-driver/mysql), and database/sql uses it
	if cc, ok := s.s.(driver.ColumnConverter); ok {
		return convertColumn(cc, nv)
	}
	return driver.ErrSkip
}

// convertColumn is database/sql's conversion through a ColumnConverter: a Valuer first, then
// the column's converter, and the result must be a driver.Value.
//
//lint:ignore SA1019 see CheckNamedValue
func convertColumn(cc driver.ColumnConverter, nv *driver.NamedValue) error {
	arg := nv.Value
	if valuer, ok := arg.(driver.Valuer); ok {
		v, err := valuer.Value()
		if err != nil {
			return err
		}
		arg = v
	}
	index := nv.Ordinal - 1
	if s, ok := cc.(driver.Stmt); ok && s.NumInput() != -1 && index >= s.NumInput() {
		return driver.ErrSkip
	}
	v, err := cc.ColumnConverter(index).ConvertValue(arg)
	if err != nil {
		return err
	}
	if !driver.IsValue(v) {
		return driver.ErrSkip
	}
	nv.Value = v
	return nil
}

func valuesToNamed(values []driver.Value) []driver.NamedValue {
	named := make([]driver.NamedValue, len(values))
	for i, v := range values {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return named
}
