package drivertest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
	"modernc.org/sqlite"
)

// openSQLite is a wrapped modernc.org/sqlite pool on a new file with a products table.
func openSQLite(t *testing.T, query string) *sql.DB {
	t.Helper()
	db, _ := openSQLiteFile(t, query)
	return db
}

func openSQLiteFile(t *testing.T, query string) (*sql.DB, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shop.db")
	dsn := file + query
	db, err := racewaysql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, stock INTEGER, price REAL, photo BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO products VALUES (1, 'mug', 10, 4.5, x'00ff'), (2, 'tea', 3, 2, NULL)`); err != nil {
		t.Fatal(err)
	}
	return db, file
}

func digest(v any) string { return raceway.ParamDigest(v, raceway.DefaultDigestKey) }

func TestSQLiteReadModifyWrite(t *testing.T) {
	tr := newTracer(t)
	db, file := openSQLiteFile(t, "?_pragma=busy_timeout(1000)")
	tr.traced(func(ctx context.Context) {
		var stock int
		if err := db.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = ?", 1).Scan(&stock); err != nil {
			t.Error(err)
		}
		if _, err := db.ExecContext(ctx, "UPDATE products SET stock = ? WHERE id = ?", stock-1, 1); err != nil {
			t.Error(err)
		}
	})
	qs := tr.queries()
	if got := statements(qs); !reflect.DeepEqual(got, []string{"SELECT stock FROM products WHERE id = ?", "UPDATE products SET stock = ? WHERE id = ?"}) {
		t.Fatalf("statements %q", got)
	}
	read, write := qs[0], qs[1]
	// The database is the file, as better-sqlite3 names it: without the DSN's parameters.
	if read.System != "sqlite" || !strings.HasPrefix(read.Connection, "sqlite#") || read.Database != file {
		t.Errorf("system %q connection %q database %q", read.System, read.Connection, read.Database)
	}
	// The digests are the vectors' for the same values (param-digest: 1 is i:1).
	if len(read.Params) != 1 || read.Params[0].Digest != digest(1) || read.Params[0].Digest != "f162c67c130a86a1" {
		t.Errorf("read params %+v", read.Params)
	}
	if read.Params[0].Value != nil {
		t.Errorf("a raw value without capture_values: %s", read.Params[0].Value)
	}
	if read.Rows == nil || *read.Rows != 1 || len(read.Returned) != 1 || read.Returned[0]["stock"] != digest(10) {
		t.Errorf("read rows %v returned %v", read.Rows, read.Returned)
	}
	if len(write.Params) != 2 || write.Params[0].Digest != digest(9) || write.Params[1].Digest != digest(1) {
		t.Errorf("write params %+v", write.Params)
	}
	if write.Rows == nil || *write.Rows != 1 || write.Returned != nil || write.Error != nil {
		t.Errorf("write rows %v returned %v error %v", write.Rows, write.Returned, write.Error)
	}
	if write.Connection != read.Connection || write.DurationMs == nil {
		t.Errorf("connections %q %q, duration %v", read.Connection, write.Connection, write.DurationMs)
	}
}

func TestSQLiteReturnedRowsAreDigestedAsTheDriverGivesThem(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	tr.traced(func(ctx context.Context) {
		rows, err := db.QueryContext(ctx, "SELECT id, name, price, photo FROM products ORDER BY id")
		if err != nil {
			t.Error(err)
			return
		}
		for rows.Next() {
		}
		rows.Close()
		rows, _ = db.QueryContext(ctx, "SELECT id FROM products WHERE id > ?", 99)
		for rows.Next() {
		}
		rows.Close()
	})
	qs := tr.queries()
	if len(qs) != 2 {
		t.Fatalf("%d events", len(qs))
	}
	want := []map[string]string{
		{"id": digest(1), "name": digest("mug"), "price": digest(4.5), "photo": digest([]byte{0, 0xff})},
		{"id": digest(2), "name": digest("tea"), "price": digest(2), "photo": digest(nil)},
	}
	if !reflect.DeepEqual(qs[0].Returned, want) || *qs[0].Rows != 2 {
		t.Errorf("returned %v rows %v\nwant %v", qs[0].Returned, *qs[0].Rows, want)
	}
	// A read that found nothing says so: returned is [] and rows 0.
	if qs[1].Returned == nil || len(qs[1].Returned) != 0 || *qs[1].Rows != 0 {
		t.Errorf("empty read: returned %v rows %v", qs[1].Returned, qs[1].Rows)
	}
}

func TestSQLiteOnlyTenRowsAreDigested(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	tr.traced(func(ctx context.Context) {
		rows, err := db.QueryContext(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25) SELECT i FROM n")
		if err != nil {
			t.Error(err)
			return
		}
		for rows.Next() {
		}
		rows.Close()
	})
	qs := tr.queries()
	if len(qs) != 1 || *qs[0].Rows != 25 || len(qs[0].Returned) != 10 || qs[0].Returned[9]["i"] != digest(10) {
		t.Fatalf("%+v", qs)
	}
}

func TestSQLiteRawValuesOnlyWhenSwitchedOn(t *testing.T) {
	tr := newTracer(t, raceway.WithCaptureValues(true))
	db := openSQLite(t, "")
	tr.traced(func(ctx context.Context) {
		_, _ = db.ExecContext(ctx, "UPDATE products SET name = ?, photo = ? WHERE id = ?", "cup", []byte{1, 2}, 1)
	})
	qs := tr.queries()
	if len(qs) != 1 {
		t.Fatalf("%d events", len(qs))
	}
	var got []string
	for _, p := range qs[0].Params {
		got = append(got, string(p.Value))
	}
	if !reflect.DeepEqual(got, []string{`"cup"`, `"0102"`, `1`}) {
		t.Errorf("values %q", got)
	}
}

func TestSQLiteNamedParametersComeAfterPositionalOnesWithoutPrefix(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	tr.traced(func(ctx context.Context) {
		_, err := db.ExecContext(ctx, "UPDATE products SET stock = :stock WHERE id = ?1", 1, sql.Named("stock", 7))
		if err != nil {
			t.Error(err)
		}
	})
	qs := tr.queries()
	if len(qs) != 1 || len(qs[0].Params) != 2 {
		t.Fatalf("%+v", qs)
	}
	if p := qs[0].Params; p[0].Name != "" || p[0].Digest != digest(1) || p[1].Name != "stock" || p[1].Digest != digest(7) {
		t.Errorf("params %+v", p)
	}
}

func TestSQLiteNothingRecordedOutsideAContextOrWithCaptureOff(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	var stock int
	if err := db.QueryRowContext(context.Background(), "SELECT stock FROM products WHERE id = ?", 1).Scan(&stock); err != nil {
		t.Fatal(err)
	}
	if qs := tr.queries(); len(qs) != 0 {
		t.Fatalf("recorded outside a context: %v", statements(qs))
	}

	off := newTracer(t, raceway.WithCaptureQueries(false))
	off.traced(func(ctx context.Context) {
		if err := db.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = ?", 1).Scan(&stock); err != nil {
			t.Error(err)
		}
		tx, _ := db.BeginTx(ctx, nil)
		_ = tx.Commit()
	})
	if qs := off.queries(); len(qs) != 0 {
		t.Fatalf("recorded with capture off: %v", statements(qs))
	}
	if stock != 10 {
		t.Errorf("stock %d", stock)
	}
}

func TestSQLiteErrorsAreRecordedAndReturnedUnchanged(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	var got error
	tr.traced(func(ctx context.Context) {
		_, got = db.ExecContext(ctx, "INSERT INTO products (id, name) VALUES (?, ?)", 1, "again")
	})
	var sqliteErr *sqlite.Error
	if !errors.As(got, &sqliteErr) {
		t.Fatalf("the driver's error is not handed back as it was: %T %v", got, got)
	}
	qs := tr.queries()
	if len(qs) != 1 || qs[0].Error == nil {
		t.Fatalf("%+v", qs)
	}
	if qs[0].Error.Type != "SQLITE_CONSTRAINT_PRIMARYKEY" || qs[0].Error.Message != got.Error() || qs[0].Rows != nil {
		t.Errorf("error %+v rows %v", *qs[0].Error, qs[0].Rows)
	}
}

func TestSQLiteTransactionsOnTheirConnection(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "?_txlock=immediate")
	tr.traced(func(ctx context.Context) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = tx.ExecContext(ctx, "SAVEPOINT before_update")
		_, _ = tx.ExecContext(ctx, "UPDATE products SET stock = stock - 1 WHERE id = ?", 1)
		_, _ = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT before_update")
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
		tx, _ = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		_ = tx.Rollback()
	})
	qs := tr.queries()
	want := []string{"BEGIN IMMEDIATE", "SAVEPOINT before_update", "UPDATE products SET stock = stock - 1 WHERE id = ?",
		"ROLLBACK TO SAVEPOINT before_update", "COMMIT", "BEGIN", "ROLLBACK"}
	if got := statements(qs); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %q\nwant %q", got, want)
	}
	for _, q := range qs[:5] {
		if q.Connection != qs[0].Connection {
			t.Errorf("%q on %s, its BEGIN on %s", q.Statement, q.Connection, qs[0].Connection)
		}
	}
}

func TestSQLitePooledConnectionKeepsItsID(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	db.SetMaxOpenConns(1)
	tr.traced(func(ctx context.Context) {
		for i := 0; i < 3; i++ {
			_, _ = db.ExecContext(ctx, "UPDATE products SET stock = stock + 1 WHERE id = ?", 1)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = conn.ExecContext(ctx, "SELECT 1")
		conn.Close()
	})
	qs := tr.queries()
	if len(qs) != 4 {
		t.Fatalf("%d events", len(qs))
	}
	for _, q := range qs {
		if q.Connection != qs[0].Connection {
			t.Errorf("connection %s, then %s", qs[0].Connection, q.Connection)
		}
	}

	// Two connections held at once have two ids.
	db.SetMaxOpenConns(2)
	tr.traced(func(ctx context.Context) {
		a, _ := db.Conn(ctx)
		b, _ := db.Conn(ctx)
		_, _ = a.ExecContext(ctx, "SELECT 1")
		_, _ = b.ExecContext(ctx, "SELECT 2")
		a.Close()
		b.Close()
	})
	qs = tr.queries()
	if len(qs) != 2 || qs[0].Connection == qs[1].Connection {
		t.Fatalf("two connections: %+v", qs)
	}
}

func TestSQLitePreparedStatements(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	stmt, err := db.Prepare("SELECT name FROM products WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	tr.traced(func(ctx context.Context) {
		for _, id := range []int{1, 2} {
			var name string
			if err := stmt.QueryRowContext(ctx, id).Scan(&name); err != nil {
				t.Error(err)
			}
		}
	})
	qs := tr.queries()
	if len(qs) != 2 || qs[0].Params[0].Digest != digest(1) || qs[1].Params[0].Digest != digest(2) ||
		qs[1].Returned[0]["name"] != digest("tea") {
		t.Fatalf("%+v", qs)
	}
}

func TestSQLiteLongStatementsAreCut(t *testing.T) {
	tr := newTracer(t)
	db := openSQLite(t, "")
	long := "SELECT 1 /*" + strings.Repeat("é", 5000) + "*/"
	tr.traced(func(ctx context.Context) {
		rows, err := db.QueryContext(ctx, long)
		if err != nil {
			t.Error(err)
			return
		}
		rows.Close()
	})
	qs := tr.queries()
	if len(qs) != 1 || !qs[0].StatementTruncated || len([]rune(qs[0].Statement)) != raceway.MaxStatementLength {
		t.Fatalf("truncated %v, %d characters", qs[0].StatementTruncated, len([]rune(qs[0].Statement)))
	}
}

func TestWrapDriverRefusesAnUnknownSystem(t *testing.T) {
	if _, err := racewaysql.WrapDriver(&sqlite.Driver{}, racewaysql.WithSystem("oracle")); err == nil {
		t.Fatal("an unknown system was taken")
	}
	if _, err := racewaysql.WrapDriver(fakeDriver{}); err == nil || !strings.Contains(err.Error(), "WithSystem") {
		t.Fatalf("an unknown driver without WithSystem: %v", err)
	}
	d, err := racewaysql.WrapDriver(fakeDriver{}, racewaysql.WithSystem(raceway.SystemMySQL))
	if err != nil || d == nil {
		t.Fatal(err)
	}
}

type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("no") }
