package drivertest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
)

// A driver with none of the optional interfaces (no context methods, no Execer, no
// ConnBeginTx): through the wrapper, database/sql must do with it what it does with the bare
// driver (prepare and execute, refuse an isolation level it cannot set), and each statement
// is recorded once.

type minimalDriver struct {
	mu   sync.Mutex
	runs []string
}

type minimalConn struct{ d *minimalDriver }
type minimalStmt struct {
	d     *minimalDriver
	query string
}
type minimalTx struct{}
type minimalRows struct{ left int }

func (d *minimalDriver) Open(string) (driver.Conn, error) { return minimalConn{d}, nil }

func (c minimalConn) Prepare(query string) (driver.Stmt, error) {
	return minimalStmt{c.d, query}, nil
}
func (c minimalConn) Close() error              { return nil }
func (c minimalConn) Begin() (driver.Tx, error) { return minimalTx{}, nil }

func (s minimalStmt) Close() error  { return nil }
func (s minimalStmt) NumInput() int { return strings.Count(s.query, "?") }
func (s minimalStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.d.mu.Lock()
	s.d.runs = append(s.d.runs, s.query)
	s.d.mu.Unlock()
	return driver.RowsAffected(3), nil
}
func (s minimalStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.d.mu.Lock()
	s.d.runs = append(s.d.runs, s.query)
	s.d.mu.Unlock()
	return &minimalRows{left: 2}, nil
}

func (minimalTx) Commit() error   { return nil }
func (minimalTx) Rollback() error { return nil }

func (r *minimalRows) Columns() []string { return []string{"n"} }
func (r *minimalRows) Close() error      { return nil }
func (r *minimalRows) Next(dest []driver.Value) error {
	if r.left == 0 {
		return io.EOF
	}
	dest[0] = int64(r.left)
	r.left--
	return nil
}

func TestADriverWithoutOptionalInterfacesWorksAsBare(t *testing.T) {
	d := &minimalDriver{}
	wrapped, err := racewaysql.WrapDriver(d, racewaysql.WithSystem(raceway.SystemMySQL), racewaysql.WithConnectionPrefix("minimal"))
	if err != nil {
		t.Fatal(err)
	}
	sql.Register("raceway-minimal", wrapped)
	db, err := sql.Open("raceway-minimal", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := newTracer(t)
	var affected int64
	var sum int64
	var isolationErr error
	tr.traced(func(ctx context.Context) {
		res, err := db.ExecContext(ctx, "UPDATE t SET n = ? WHERE id = ?", 1, 2)
		if err != nil {
			t.Error(err)
			return
		}
		affected, _ = res.RowsAffected()
		rows, err := db.QueryContext(ctx, "SELECT n FROM t")
		if err != nil {
			t.Error(err)
			return
		}
		// Column types the driver does not give are database/sql's defaults, as on the bare driver.
		if types, err := rows.ColumnTypes(); err != nil || len(types) != 1 || types[0].ScanType() != reflect.TypeFor[any]() {
			t.Errorf("column types %v %v", types, err)
		}
		for rows.Next() {
			var n int64
			_ = rows.Scan(&n)
			sum += n
		}
		rows.Close()
		if err := db.PingContext(ctx); err != nil {
			t.Error(err)
		}
		_, isolationErr = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Error(err)
			return
		}
		_ = tx.Commit()
	})
	if affected != 3 || sum != 3 {
		t.Errorf("affected %d, sum %d", affected, sum)
	}
	if isolationErr == nil || !strings.Contains(isolationErr.Error(), "isolation") {
		t.Errorf("a driver without BeginTx took an isolation level: %v", isolationErr)
	}
	if d.runs[0] != "UPDATE t SET n = ? WHERE id = ?" || len(d.runs) != 2 {
		t.Errorf("the driver ran %q", d.runs)
	}
	qs := tr.queries()
	want := []string{"UPDATE t SET n = ? WHERE id = ?", "SELECT n FROM t",
		"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION", "START TRANSACTION", "COMMIT"}
	if got := statements(qs); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %q\nwant %q", got, want)
	}
	if *qs[0].Rows != 3 || *qs[1].Rows != 2 || len(qs[1].Returned) != 2 || !strings.HasPrefix(qs[0].Connection, "minimal#") {
		t.Errorf("%+v", qs[:2])
	}
	// The refused BEGIN is recorded with its error, so the collector knows no transaction began.
	if qs[2].Error == nil || qs[3].Error == nil || qs[4].Error != nil {
		t.Errorf("begin errors %+v %+v %+v", qs[2].Error, qs[3].Error, qs[4].Error)
	}
}
