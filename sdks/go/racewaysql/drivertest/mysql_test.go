package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
)

func openMySQL(t *testing.T) *sql.DB {
	t.Helper()
	dsn := mysqlDSN(t)
	db, err := racewaysql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		"DROP TABLE IF EXISTS products",
		"CREATE TABLE products (id BIGINT PRIMARY KEY, name TEXT, stock INT) ENGINE=InnoDB",
		"INSERT INTO products VALUES (1, 'mug', 10), (2, 'tea', 3)",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestMySQLReadModifyWriteAndTransactions(t *testing.T) {
	tr := newTracer(t)
	db := openMySQL(t)
	var dupErr error
	tr.traced(func(ctx context.Context) {
		var stock int
		if err := db.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = ?", 1).Scan(&stock); err != nil {
			t.Error(err)
		}
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = tx.ExecContext(ctx, "UPDATE products SET stock = ? WHERE id = ?", stock-1, 1)
		_ = tx.Commit()
		_, dupErr = db.ExecContext(ctx, "INSERT INTO products (id, name) VALUES (?, ?)", 1, "again")
	})
	qs := tr.queries()
	want := []string{"SELECT stock FROM products WHERE id = ?", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
		"START TRANSACTION", "UPDATE products SET stock = ? WHERE id = ?", "COMMIT", "INSERT INTO products (id, name) VALUES (?, ?)"}
	if got := statements(qs); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %q\nwant %q", got, want)
	}
	if qs[0].System != "mysql" || qs[0].Database != "raceway_test" || !strings.HasPrefix(qs[0].Connection, "mysql#") || qs[0].Params[0].Digest != digest(1) ||
		qs[0].Returned[0]["stock"] != digest(10) {
		t.Errorf("read %+v", qs[0])
	}
	if qs[3].Params[0].Digest != digest(9) || *qs[3].Rows != 1 || qs[3].Connection != qs[2].Connection || qs[4].Connection != qs[2].Connection {
		t.Errorf("write %+v", qs[3])
	}
	var myErr *mysql.MySQLError
	if !errors.As(dupErr, &myErr) || myErr.Number != 1062 {
		t.Fatalf("the driver's error is not handed back as it was: %T %v", dupErr, dupErr)
	}
	if qs[5].Error == nil || qs[5].Error.Type != "ER_DUP_ENTRY" {
		t.Errorf("error %+v", qs[5].Error)
	}
}
